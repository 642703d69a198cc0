export {
  balancedCounts,
  type Collective,
  CollectiveError,
  type CollectiveStats,
  CollectiveTimeoutError,
  checkAllGather,
  checkCounts,
  checkFloat32,
  checkRoot,
  checkTimeout,
  DEFAULT_TIMEOUT_MS,
  displacements,
  type OperationOptions,
  operationTimeout,
  rankList,
  sumInRankOrder,
  TrafficCounter,
} from './collective.js';
export { averageGradients, batchSlice } from './data-parallel.js';
export { createInProcessGroup, type InProcessOptions } from './in-process.js';
export { type Partition, partitionVariables, type VariableInfo } from './partition.js';
export { consolidate, type ShardInfo, shardInfo } from './shards.js';
export {
  abortSharedMemoryGroup,
  connectSharedMemory,
  createSharedMemoryGroup,
  type SharedMemoryGroup,
  type SharedMemoryOptions,
} from './shared-memory.js';
export {
  type AnyOptimkitOptimizer,
  type StepReport,
  type ZeroOptions,
  ZeroRedundancyOptimizer,
  zero,
} from './zero-optimizer.js';
