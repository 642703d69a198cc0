import { optimkitBuild } from '@optimkit/build-config';

export default [
  // The conformance kit runs inside vitest, which is ESM-only: it is built with the ESM index, so
  // that both share one copy of core's modules (one fused-kernel switch, one registry module).
  optimkitBuild({ index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' }, { format: 'esm' }),
  optimkitBuild({ index: 'src/index.ts' }, { format: 'cjs', clean: false }),
];
