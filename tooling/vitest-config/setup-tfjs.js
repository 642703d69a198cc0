// tfjs-core alone registers no gradients in Node; the union package registers them, the cpu
// backend and tfjs-layers, all against the single tfjs-core instance the packages import.
import * as tf from '@tensorflow/tfjs';

await tf.setBackend('cpu');
await tf.ready();
