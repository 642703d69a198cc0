import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { makeTempDir, publishedPackages, run } from './workspace.js';

export interface PackedPackage {
  name: string;
  version: string;
  /** The workspace directory it was packed from. */
  dir: string;
  /** The tarball `pnpm pack` wrote. */
  tarball: string;
  /** The tarball's `package/` directory, extracted to `<packRoot>/node_modules/<name>`. */
  extracted: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    packed: PackedPackage[];
    /** A directory whose node_modules holds every extracted tarball (and nothing else). */
    packRoot: string;
  }
}

/**
 * Packs every published package once, exactly as `pnpm publish` would (publishConfig applied,
 * `workspace:` ranges replaced), and extracts each tarball for the tests to inspect.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await makeTempDir('packed');
  const tarballs = join(root, 'tarballs');
  await mkdir(tarballs);
  const packages = await publishedPackages();
  const packed = await Promise.all(
    packages.map(async (pkg): Promise<PackedPackage> => {
      const { stdout } = await run('pnpm', ['pack', '--pack-destination', tarballs, '--json'], {
        cwd: pkg.dir,
      });
      const { filename } = JSON.parse(stdout) as { filename: string };
      const extracted = join(root, 'node_modules', pkg.name);
      await mkdir(extracted, { recursive: true });
      await run('tar', ['-xzf', filename, '-C', extracted, '--strip-components=1'], { cwd: root });
      return {
        name: pkg.name,
        version: pkg.manifest.version,
        dir: pkg.dir,
        tarball: filename,
        extracted,
      };
    }),
  );
  project.provide('packed', packed);
  project.provide('packRoot', root);
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}
