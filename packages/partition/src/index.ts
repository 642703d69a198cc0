export {
  Partition,
  type PartitionLabelFunction,
  type PartitionMember,
  type PartitionOverrides,
  type PartitionVariable,
  partition,
} from './partition.js';
