import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

const dir = fileURLToPath(new URL('..', import.meta.url));

describe('quick start', () => {
  it('is the README quick start, word for word', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Quick start'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    expect(readFileSync(new URL('./main.ts', import.meta.url), 'utf8')).toBe(code);
  });

  it('runs as written: fits y = 3x − 1, saves, resumes and keeps fitting', () => {
    const [kernel, bias] = runExample<number[][]>(dir);
    expect(kernel![0]).toBeGreaterThan(2.9);
    expect(kernel![0]).toBeLessThan(3.1);
    expect(bias![0]).toBeGreaterThan(-1.1);
    expect(bias![0]).toBeLessThan(-0.9);
  });
});
