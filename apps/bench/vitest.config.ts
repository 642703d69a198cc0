import { optimkitVitestConfig } from '@optimkit/vitest-config';

export default optimkitVitestConfig({ testTimeout: 300_000 });
