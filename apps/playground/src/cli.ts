import * as tf from '@tensorflow/tfjs';
import { resumeExample } from './resume-example.js';

await tf.setBackend('cpu');
const report = await resumeExample();
console.log('optimkit playground: sgd with Nesterov momentum, saved and restored half-way');
console.log(
  `  loss: ${report.lossBefore.toFixed(4)} → ${report.lossAtSave.toFixed(4)} (saved, ${report.stateBytes} bytes) → ${report.lossAfter.toFixed(4)}`,
);
console.log(
  `  resumed run identical to an uninterrupted one: ${report.identicalToUninterrupted ? 'yes' : 'NO'}`,
);
if (!report.identicalToUninterrupted) process.exitCode = 1;
