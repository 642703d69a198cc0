// Packing and publishing (`pnpm pack`, `pnpm publish`, hence `changeset publish`): a published
// manifest keeps no devDependency on a private workspace package (the shared tsconfig, vitest and
// build configs), which the registry does not have. pnpm has already replaced `workspace:` ranges.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

function privateWorkspacePackages() {
  const names = new Set();
  for (const group of ['packages', 'apps', 'tooling']) {
    let entries = [];
    try {
      entries = readdirSync(join(__dirname, group));
    } catch {
      continue;
    }
    for (const entry of entries) {
      try {
        const manifest = JSON.parse(readFileSync(join(__dirname, group, entry, 'package.json'), 'utf8'));
        if (manifest.private) names.add(manifest.name);
      } catch {}
    }
  }
  return names;
}

module.exports = {
  hooks: {
    beforePacking(manifest) {
      if (!manifest.devDependencies) return manifest;
      const unpublished = privateWorkspacePackages();
      const kept = Object.entries(manifest.devDependencies).filter(([name]) => !unpublished.has(name));
      if (kept.length > 0) manifest.devDependencies = Object.fromEntries(kept);
      else delete manifest.devDependencies;
      return manifest;
    },
  },
};
