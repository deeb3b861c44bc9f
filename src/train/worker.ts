/**
 * A training worker thread: its own TensorFlow.js backend (wasm runs one thread per
 * worker), a copy of the parameters read from shared memory before every step, and its
 * gradients written to its own shared buffer.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../runtime/backend';
import { MaeConfig } from '../model/config';
import { evaluate, lossAndGrads } from './step';
import { TrainBatch } from './data';

interface Slot {
  name: string;
  offset: number;
  size: number;
  shape: number[];
}

let config: MaeConfig;
let layout: Slot[] = [];
let params: Float32Array;
let grads: Float32Array;
let vars: Record<string, tf.Variable> = {};

function syncParams(): void {
  tf.tidy(() => {
    for (const s of layout) vars[s.name].assign(tf.tensor(params.subarray(s.offset, s.offset + s.size), s.shape));
  });
}

parentPort!.on('message', async (msg: { type: string; [k: string]: unknown }) => {
  try {
    if (msg.type === 'init') {
      config = msg.config as MaeConfig;
      layout = msg.layout as Slot[];
      params = new Float32Array(msg.params as SharedArrayBuffer);
      grads = new Float32Array(msg.grads as SharedArrayBuffer);
      const info = await initBackend(msg.backend as string);
      vars = {};
      for (const s of layout) vars[s.name] = tf.variable(tf.tensor(params.subarray(s.offset, s.offset + s.size), s.shape), true, s.name);
      parentPort!.postMessage({ type: 'ready', backend: info.name });
    } else if (msg.type === 'step') {
      syncParams();
      const { loss, grads: g } = lossAndGrads(vars, config, msg.batch as TrainBatch);
      for (const s of layout) grads.set(g[s.name], s.offset);
      parentPort!.postMessage({ type: 'done', loss });
    } else if (msg.type === 'eval') {
      syncParams();
      parentPort!.postMessage({ type: 'done', result: evaluate(vars, config, msg.batch as TrainBatch) });
    }
  } catch (error) {
    parentPort!.postMessage({ type: 'error', message: (error as Error).message, stack: (error as Error).stack });
  }
});
