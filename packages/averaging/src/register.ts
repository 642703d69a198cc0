/**
 * Registers every optimizer of @optimkit/averaging with optimkit and tfjs serialization, as a side effect that
 * the package's `sideEffects` declares, so that bundlers keep it: import it in a program that
 * restores saved optimizers or models (`loadOptimizer`, `tf.loadLayersModel`) without calling the
 * factories itself.
 *
 * @example
 * ```ts
 * import '@optimkit/averaging/register';
 * const model = await tf.loadLayersModel(url);
 * ```
 */
import { registerOptimizers } from '@optimkit/core';
import * as family from './index.js';

registerOptimizers(family);
