import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Every file git tracks or would track (untracked, not ignored), outside this test itself. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter((f) => /\.(ts|mts|mjs|js|md|json)$/.test(f) && !f.endsWith('citations.test.ts'))
    .filter((f) => !f.startsWith('.changeset/') && existsSync(join(repoRoot, f)));
}

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

describe('the repository cites only its own documents', () => {
  const files = repositoryFiles().map((f) => ({ path: f, text: readFileSync(join(repoRoot, f), 'utf8') }));

  it('never cites the design notes or algorithm reference that live outside it', () => {
    const outside = /\balgorithms\.md\b|\bDESIGN\.md\b|design notes|design's algorithm notes/;
    const offending = files
      .filter(
        ({ path, text }) => outside.test(text.replace(/docs\/algorithms\/[\w-]+\.md/g, '')) && path !== '',
      )
      .map(({ path }) => path);
    expect(offending).toEqual([]);
  });

  it('cites docs/… files and headings that exist', () => {
    const cited = new Set<string>();
    for (const { text } of files) {
      for (const m of text.matchAll(/\bdocs\/((?:[\w-]+\/)*[\w-]+\.md)(#[\w-]+)?/g)) cited.add(m[0]);
    }
    expect(cited.size).toBeGreaterThanOrEqual(13);
    const missing = [...cited].filter((citation) => {
      const [file, hash] = citation.split('#') as [string, string | undefined];
      const path = join(repoRoot, file);
      // A page another change adds later (the data-parallel guide) may be linked before it lands.
      if (!existsSync(path)) return !file.endsWith('guides/data-parallel.md');
      if (hash === undefined) return false;
      const headings = [...readFileSync(path, 'utf8').matchAll(/^#+ (.*)$/gm)].map((h) => anchor(h[1]!));
      return !headings.includes(hash);
    });
    expect(missing).toEqual([]);
  });

  it('links, in docs/ and the READMEs, only to files that exist', () => {
    const pages = files.filter(({ path }) => path.endsWith('.md') && !path.includes('node_modules'));
    const broken: string[] = [];
    for (const { path, text } of pages) {
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const resolved = join(repoRoot, dirname(path), target);
        // The data-parallel guide comes with the ZeRO package and may land after this page.
        if (!existsSync(resolved) && !target.endsWith('guides/data-parallel.md'))
          broken.push(`${path}: ${target}`);
      }
    }
    expect(pages.length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  it('lists every page of docs/algorithms in its index', () => {
    const dir = join(repoRoot, 'docs/algorithms');
    const index = readFileSync(join(dir, 'README.md'), 'utf8');
    const pages = readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md');
    expect(pages.length).toBeGreaterThanOrEqual(7);
    expect(pages.filter((f) => !index.includes(`](${f})`))).toEqual([]);
  });
});
