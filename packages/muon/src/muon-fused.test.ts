import { describeFusedEquivalence } from '@optimkit/testing';
import { muonCases } from './fused-cases.js';
import { type MuonOptions, muon } from './index.js';

// Muon's elementwise stages and its AdamW path are rules run fused (the Newton–Schulz products are
// the same tfjs matMuls on both sides), so fused equals composite bit for bit on cpu and wasm.
describeFusedEquivalence<MuonOptions>({
  name: 'muon',
  create: muon,
  optionSets: muonCases,
  bitIdentical: ['cpu', 'wasm'],
});
