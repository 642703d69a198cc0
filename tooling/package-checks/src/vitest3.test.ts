import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { lastJsonLine, makeTempDir, run, userEnv } from './workspace.js';

/**
 * A project that already tests with vitest 3 installs @optimkit/core with npm 11 (which crashed on
 * core's former optional `vitest ^4` peer: "Cannot read properties of null (reading 'children')").
 */
const packed = inject('packed');
let project = '';

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

it('npm 11 installs @optimkit/core and a family beside vitest 3, and they load', async () => {
  const env = userEnv();
  const { stdout: npmVersion } = await run('npm', ['--version'], { cwd: '/', env });
  expect(Number(npmVersion.trim().split('.')[0])).toBeGreaterThanOrEqual(11);
  project = await makeTempDir('vitest3');
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'beside-vitest3', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--save-dev', 'vitest@3'], { cwd: project, env });
  const tarball = (name: string) => packed.find((p) => p.name === name)!.tarball;
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      tarball('@optimkit/core'),
      tarball('@optimkit/lion'),
      '@tensorflow/tfjs-core@4.22.0',
      '@tensorflow/tfjs-backend-cpu@4.22.0',
    ],
    { cwd: project, env },
  );
  const script = [
    "import '@tensorflow/tfjs-backend-cpu';",
    "import { lion } from '@optimkit/lion';",
    "import { createRequire } from 'node:module';",
    "const vitest = createRequire(import.meta.url)('vitest/package.json').version;",
    'console.log(JSON.stringify({ className: lion().getClassName(), vitest }));',
  ].join('\n');
  await writeFile(join(project, 'check.mjs'), script);
  const report = lastJsonLine<{ className: string; vitest: string }>(
    (await run('node', ['check.mjs'], { cwd: project, env })).stdout,
  );
  expect(report.className).toBe('OptimkitLion');
  expect(report.vitest).toMatch(/^3\./);
});
