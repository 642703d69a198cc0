import { optimkitBuild } from '@optimkit/build-config';

export default [
  optimkitBuild({ index: 'src/index.ts' }),
  // The conformance kit runs inside vitest, which is ESM-only: no CommonJS form.
  optimkitBuild({ 'testing/index': 'src/testing/index.ts' }, { format: 'esm', clean: false }),
];
