/**
 * Test support (not part of the package entry): the golden harness of the Adam family, whose
 * moments these optimizers extend, so both families are checked by the same runner.
 */
export {
  bitsOf,
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runAdamGolden as runGolden,
  runGoldenWithGroup,
  stateOf,
  trace,
} from '../../adam/src/golden-inputs.js';
