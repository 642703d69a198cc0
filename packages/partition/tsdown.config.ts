import { optimkitBuild } from '@optimkit/build-config';

export default optimkitBuild({ index: 'src/index.ts', register: 'src/register.ts' });
