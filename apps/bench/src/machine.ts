import { execFileSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  tfjs: string;
  /** Features of the wasm backend, when it ran. */
  wasm: { simd: boolean; multithread: boolean } | null;
  commit: string | null;
  date: string;
}

/** HEAD's short hash, with `+changes` when tracked files (not Markdown, not the bench's results) differ from it. */
function gitCommit(): string | null {
  const git = (...args: string[]) =>
    execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    const changed = git('status', '--porcelain', '--untracked-files=no')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.includes('apps/bench/results/') && !line.endsWith('.md'));
    return changed.length > 0 ? `${commit}+changes` : commit;
  } catch {
    return null;
  }
}

export async function describeMachine(backends: readonly string[]): Promise<Machine> {
  const cpus = os.cpus();
  let wasm: Machine['wasm'] = null;
  if (backends.includes('wasm')) {
    wasm = {
      simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
      multithread: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    };
  }
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    tfjs: tf.version_core,
    wasm,
    commit: gitCommit(),
    date: new Date().toISOString(),
  };
}
