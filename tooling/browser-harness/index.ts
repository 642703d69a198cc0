/**
 * What every browser test and benchmark of the repository shares: Debian's chromium launched
 * through playwright-core (no browser download), with the flags this closed machine needs, and a
 * static server for a built page on a free localhost port.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type LaunchOptions } from 'playwright-core';

export { serveStatic } from './static-server.js';

/** Where chromium is: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a headless chromium on a machine with no network and no GPU. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Flags that give WebGPU a (software, Vulkan/SwiftShader) adapter; without `--disable-gpu`. */
export const WEBGPU_ARGS: readonly string[] = [
  ...CHROMIUM_ARGS.filter((flag) => flag !== '--disable-gpu'),
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
];

/**
 * Launches chromium with a fresh profile; `close()` also deletes the profile. Throws with the
 * install command when chromium is missing.
 */
export async function launchChromium(
  options: { args?: readonly string[] } & Omit<LaunchOptions, 'args'> & Record<string, unknown> = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'optimkit-chromium-'));
  const { args = CHROMIUM_ARGS, ...rest } = options;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...rest,
    args: [...args],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
