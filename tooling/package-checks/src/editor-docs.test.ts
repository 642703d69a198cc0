import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { checksDir } from './workspace.js';

/**
 * What an editor shows when hovering an option inside an options object literal, asked of the
 * TypeScript language service (what VS Code runs) against the built declarations of the packages.
 */
function hover(source: string, marker: string): { text: string; tags: Record<string, string> } {
  const fileName = join(checksDir, 'src', '__hover__.ts');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    types: [],
  };
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => [fileName],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const text = name === fileName ? source : ts.sys.readFile(name);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => checksDir,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: (name) => name === fileName || ts.sys.fileExists(name),
    readFile: (name) => (name === fileName ? source : ts.sys.readFile(name)),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host, ts.createDocumentRegistry());
  const errors = service
    .getSemanticDiagnostics(fileName)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(errors).toEqual([]);
  const info = service.getQuickInfoAtPosition(fileName, source.indexOf(marker) + 1);
  const text = ts.displayPartsToString(info?.documentation);
  const tags = Object.fromEntries((info?.tags ?? []).map((t) => [t.name, ts.displayPartsToString(t.text)]));
  return { text, tags };
}

describe('per-option documentation in editors', () => {
  it('the packages are built from the sources the docs are read from', () => {
    expect(readFileSync(join(checksDir, 'node_modules/@optimkit/adam/dist/index.d.ts'), 'utf8')).toContain(
      '@defaultValue',
    );
  });

  it.each([
    ['@optimkit/adam', 'adamw', 'beta1', /Decay of the first moment/, '`0.9`'],
    ['@optimkit/adam', 'adamw', 'weightDecay', /[Dd]ecoupled/, '`1e-2`'],
    ['@optimkit/lion', 'lion', 'beta2', /Decay of the momentum/, '`0.99`'],
    ['@optimkit/sgd', 'sgd', 'nesterov', /Nesterov/, '`false`'],
    ['@optimkit/factored', 'adafactor', 'beta1', /First-moment/, '`null`'],
    ['@optimkit/adam', 'adabelief', 'beta2', /Decay of the belief/, '`0.999`'],
    ['@optimkit/adam', 'yogi', 'epsilon', /larger than Adam's/, '`1e-3`'],
    ['@optimkit/adam', 'adopt', 'clipExponent', /clipping bound/, '`0.25`'],
    ['@optimkit/adaptive', 'rprop', 'etaPlus', /keeps its sign/, '`1.2`'],
    ['@optimkit/sgd', 'asgd', 't0', /averaging starts/, '`1e6`'],
    ['@optimkit/sgd', 'signum', 'momentum', /whose sign is the step/, '`0.9`'],
    ['@optimkit/layerwise', 'novograd', 'beta2', /per-tensor second moment/, '`0.25`'],
    ['@optimkit/factored', 'sm3', 'momentum', /preconditioned gradients/, '`0.9`'],
    ['@optimkit/multi-momentum', 'adan', 'beta3', /second moment/, '`0.99`'],
    ['@optimkit/multi-momentum', 'ademamix', 'alpha', /slow EMA/, '`2`'],
    ['@optimkit/muon', 'muon', 'momentum', /Momentum coefficient/, '`0.95`'],
    ['@optimkit/prodigy', 'prodigy', 'dCoef', /Multiplies the estimate/, '`1`'],
    ['@optimkit/schedule-free', 'scheduleFreeAdamW', 'warmupSteps', /learning-rate warmup/, '`0`'],
    ['@optimkit/schedule-free', 'scheduleFreeSgd', 'momentum', /Interpolation/, '`0.9`'],
  ])('%s %s({ %s }) shows its meaning and default', (pkg, factory, option, meaning, defaultValue) => {
    // novograd and sm3 take no default learning rate: their options type requires one.
    const required = ['novograd', 'sm3'].includes(factory) ? ', learningRate: 0.1' : '';
    const source = `import { ${factory} } from '${pkg}';\nexport const o = ${factory}({ ${option}: ${
      option === 'nesterov' ? 'true, momentum: 0.9' : '0.5'
    }${required} });\n`;
    const { text, tags } = hover(source, ` ${option}:`);
    expect(text).toMatch(meaning);
    expect(tags.defaultValue).toBe(defaultValue);
  });

  it('also inside a param group', () => {
    const source = `import { adamw } from '@optimkit/adam';\nexport const o = adamw({ paramGroups: [{ match: () => true, weightDecay: 0 }] });\n`;
    const { text, tags } = hover(source, ' weightDecay:');
    expect(text).toMatch(/[Dd]ecoupled/);
    expect(tags.defaultValue).toBe('`1e-2`');
  });
});
