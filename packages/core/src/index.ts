export {
  FUSED_BACKENDS,
  fusedKernelName,
  fusedKernelsActive,
  fusedKernelsEnabled,
  setFusedKernels,
} from './fused.js';
export type { GradientTransformOptions } from './gradient-transforms.js';
export {
  type DefinedOptimizerClass,
  defineOptimizer,
  type OptimizerDefinition,
  OptimkitOptimizer,
  type StatefulSchedule,
} from './optimizer.js';
export {
  MIN_QUANTIZED_SIZE,
  momentSlot,
  QUANTIZATION_BLOCK,
  QUANTIZED_BACKENDS,
  type QuantizedMap,
} from './quantized-state.js';
export {
  getRegisteredOptimizer,
  loadOptimizer,
  type OptimizerClass,
  type RestorableOptimizer,
  registerOptimizer,
  registerOptimizers,
  type ScheduleFactory,
} from './registry.js';
export type { Layout, Mask, Operand, RuleOps, RuleResult, Value } from './rule/graph.js';
export { RuleError } from './rule/graph.js';
export type { Rule, RuleContext, RuleScalars, RuleVariant } from './rule/rule.js';
export {
  defineRuleKernel,
  type RuleKernel,
  type RuleKernelContext,
  type RuleKernelInputs,
} from './rule/rule-kernel.js';
export {
  getRegisteredSchedule,
  registerSchedule,
  type ScheduleRecord,
} from './schedule-registry.js';
export {
  type DecodedState,
  decodeState,
  encodeState,
  PayloadWriter,
  readTensorEntry,
  STATE_FORMAT_VERSION,
  StateFormatError,
  type StateHeader,
  type TensorEntry,
  type VariableEntry,
} from './state-format.js';
export type {
  CommonOptions,
  Defaults,
  DefaultValue,
  Hyperparameter,
  HyperparameterOptions,
  NamedTensor,
  OptimizerOptions,
  OptionValue,
  ParamGroup,
  Resolved,
  Schedule,
  SlotInit,
  SlotSpec,
  UpdateContext,
  UpdateResult,
} from './types.js';
export {
  checkClosedUnitInterval,
  checkLearningRate,
  checkNonNegative,
  checkPositive,
  checkRequiredLearningRate,
  checkStateDtype,
  checkUnitInterval,
  type StateDtype,
} from './validation.js';
