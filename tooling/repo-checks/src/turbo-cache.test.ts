import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Task id → hash, as `turbo run test typecheck --dry=json` computes them (nothing runs). */
function taskHashes(): Map<string, string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The variables of the turbo run this test may itself be part of would change the hashes.
    if (!key.toUpperCase().startsWith('TURBO_')) env[key] = value;
  }
  const turbo = join(repoRoot, 'node_modules/.bin/turbo');
  const result = spawnSync(turbo, ['run', 'test', 'typecheck', '--dry=json'], {
    cwd: repoRoot,
    env: { ...env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`turbo --dry=json failed:\n${result.stderr}`);
  const dry = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as {
    tasks: { taskId: string; hash: string }[];
  };
  return new Map(dry.tasks.map((t) => [t.taskId, t.hash]));
}

/** The hashes with `relativePath` (a new file) present, then removed again. */
function hashesWith(relativePath: string): Map<string, string> {
  const file = join(repoRoot, relativePath);
  writeFileSync(file, 'A probe of turbo-cache.test.ts; removed when the test ends.\n');
  try {
    return taskHashes();
  } finally {
    rmSync(file, { force: true });
  }
}

function changed(before: Map<string, string>, after: Map<string, string>, tasks: string[]): string[] {
  return tasks.filter((task) => {
    expect(before.has(task), `turbo knows ${task}`).toBe(true);
    return before.get(task) !== after.get(task);
  });
}

describe('turbo: test and typecheck caches follow workspace sources', () => {
  const before = taskHashes();
  // A file in core's sources that neither tsc nor vitest reads: only turbo's hashing sees it.
  const afterCore = hashesWith(`packages/core/src/turbo-probe-${process.pid}.md`);
  const afterTesting = hashesWith(`packages/testing/src/turbo-probe-${process.pid}.md`);

  it('is stable when nothing changed', () => {
    expect(taskHashes()).toEqual(before);
  });

  it('re-runs core and every package that imports it when core changes', () => {
    const dependents = [
      'core',
      'testing',
      'sgd',
      'adaptive',
      'adam',
      'layerwise',
      'lion',
      'factored',
    ].flatMap((name) => [`@optimkit/${name}#test`, `@optimkit/${name}#typecheck`]);
    const apps = ['@optimkit/playground#test', '@optimkit/browser#test', '@optimkit/bench#test'];
    expect(changed(before, afterCore, [...dependents, ...apps])).toEqual([...dependents, ...apps]);
  });

  it('still hits the cache for packages that do not import core', () => {
    const unrelated = [
      '@optimkit/schedules#test',
      '@optimkit/schedules#typecheck',
      '@optimkit/browser-harness#typecheck',
    ];
    expect(changed(before, afterCore, unrelated)).toEqual([]);
  });

  it("re-runs core's own tests when the testing kit they import by path changes", () => {
    const tasks = ['@optimkit/core#test', '@optimkit/core#typecheck', '@optimkit/lion#test'];
    expect(changed(before, afterTesting, tasks)).toEqual(tasks);
    expect(changed(before, afterTesting, ['@optimkit/core#build', '@optimkit/schedules#test'])).toEqual([]);
  });
});
