export {
  Partition,
  type PartitionLabelFunction,
  type PartitionMember,
  type PartitionOptions,
  type PartitionOverrides,
  type PartitionVariable,
  partition,
} from './partition.js';
