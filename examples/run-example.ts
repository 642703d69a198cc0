import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Runs an example's program as its `start` script does (tsx, workspace packages from their
 * sources) and returns the JSON of the last line it prints.
 */
export function runExample<T>(dir: string, file = 'src/main.ts'): T {
  const tsx = createRequire(`${dir}/package.json`).resolve('tsx/cli');
  const result = spawnSync(process.execPath, [tsx, '--conditions=@optimkit/source', file], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 480_000,
  });
  if (result.status !== 0) throw new Error(`${file} exited with ${result.status}:\n${result.stderr}`);
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as T;
}
