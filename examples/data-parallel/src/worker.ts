import { reportResult, workerCollective, workerContext } from '@optimkit/zero/node';
import { type TrainOptions, trainMnist } from './mnist-mlp.js';

reportResult(await trainMnist(workerCollective(), workerContext().data as TrainOptions));
