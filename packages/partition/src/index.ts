export {
  Partition,
  type PartitionGroup,
  type PartitionLabelFunction,
  type PartitionLabels,
  type PartitionMember,
  type PartitionOptions,
  type PartitionOverrides,
  type PartitionVariable,
  partition,
} from './partition.js';
