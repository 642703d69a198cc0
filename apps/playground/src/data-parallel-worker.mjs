// Worker threads do not inherit tsx's loader from the CLI: register it, then run the TypeScript rank.
import { register } from 'tsx/esm/api';

register();
await import('./data-parallel-worker.ts');
