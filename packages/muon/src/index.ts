export {
  Muon,
  type MuonDefaults,
  type MuonLearningRateAdjustment,
  type MuonOptions,
  muon,
  muonLearningRateScale,
  newtonSchulz,
} from './muon.js';
