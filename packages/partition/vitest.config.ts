import { optimkitVitestConfig } from '@optimkit/vitest-config';

export default optimkitVitestConfig();
