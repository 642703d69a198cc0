/**
 * Registers `OptimkitPartition` with optimkit and tfjs serialization, as a side effect that the
 * package's `sideEffects` declares, so that bundlers keep it: import it in a program that restores
 * saved partitions or models (`loadOptimizer`, `tf.loadLayersModel`) without calling `partition`
 * itself, together with the register entry points of the optimizers inside.
 *
 * @example
 * ```ts
 * import '@optimkit/partition/register';
 * import '@optimkit/adam/register';
 * import '@optimkit/muon/register';
 * const model = await tf.loadLayersModel(url);
 * ```
 */
import { type OptimizerClass, registerOptimizer } from '@optimkit/core';
import { Partition } from './index.js';

registerOptimizer(Partition as unknown as OptimizerClass);
