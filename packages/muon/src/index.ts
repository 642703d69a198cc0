export {
  Muon,
  type MuonDefaults,
  type MuonLearningRateAdjustment,
  type MuonOptions,
  muon,
} from './muon.js';
