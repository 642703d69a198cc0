// Builds the N-API addon against the system's Open MPI and the headers of the Node that runs this
// script (node-gyp --nodedir), so nothing is downloaded. On failure it says what is missing, and
// records it in build/zero-mpi-build-error.txt, which the package's entry reports when loaded.
// `--strict` (the build:native script) exits non-zero on failure; the install hook does not, so
// that a workspace without MPI still installs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const errorFile = join(root, 'build', 'zero-mpi-build-error.txt');
const strict = process.argv.includes('--strict');

function fail(message) {
  mkdirSync(dirname(errorFile), { recursive: true });
  writeFileSync(errorFile, message);
  console.error(`\n@optimkit/zero-mpi: the MPI addon was NOT built.\n${message}\n`);
  process.exit(strict ? 1 : 0);
}

rmSync(errorFile, { force: true });
const nodedir = dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  fail(
    `Node's headers are missing: ${join(nodedir, 'include', 'node', 'node_api.h')} (install Node with its headers)`,
  );
}
const mpicc = spawnSync('mpicc', ['--showme:version'], { encoding: 'utf8' });
if (mpicc.error || mpicc.status !== 0) {
  fail(
    'Open MPI is not installed: mpicc was not found (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)',
  );
}
let nodeGyp;
try {
  nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('node-gyp is not installed (it is a dependency of @optimkit/zero-mpi: reinstall the package)');
}
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  fail(
    `node-gyp rebuild failed (exit ${result.status}); it needs python3, make and a C compiler ` +
      '(Debian/Ubuntu: apt-get install python3 make g++ openmpi-bin libopenmpi-dev)',
  );
}
