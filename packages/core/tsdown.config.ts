import { optimkitBuild } from '@optimkit/build-config';

export default [
  optimkitBuild({ index: 'src/index.ts' }, { format: 'esm' }),
  optimkitBuild({ index: 'src/index.ts' }, { format: 'cjs', clean: false }),
];
