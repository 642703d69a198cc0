// Worker threads do not inherit tsx's loader: register it, then run the TypeScript worker.
// (With compiled JavaScript, pass worker.js to runWorkers directly.)
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
