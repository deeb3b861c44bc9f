/** One training step's gradients and one evaluation pass, on whichever backend is active. */
import * as tf from '@tensorflow/tfjs-core';
import { MaeConfig, patchDim } from '../model/config';
import { BatchMask, forward, maskedLoss, Params } from '../model/mae';
import { TrainBatch } from './data';
import { registerGradients } from '../model/ops';

registerGradients();

export function batchMask(b: TrainBatch): BatchMask {
  return { batch: b.batch, numPatches: b.rows * b.cols, lenKeep: b.lenKeep, keep: b.keep, restore: b.restore, removed: b.removed };
}

function tensors(c: MaeConfig, b: TrainBatch) {
  const L = b.rows * b.cols;
  const P = patchDim(c);
  return {
    input: tf.tensor3d(b.input, [b.batch, L, P]),
    target: tf.tensor3d(b.target, [b.batch, L, P]),
    hint: tf.tensor3d(b.hint, [b.batch, L, P]),
    weights: tf.tensor2d(b.weights, [b.batch, L]),
  };
}

/** Loss and gradients (by parameter name) of the batch. */
export function lossAndGrads(vars: Record<string, tf.Variable>, c: MaeConfig, b: TrainBatch): { loss: number; grads: Record<string, Float32Array> } {
  const t = tensors(c, b);
  const mask = batchMask(b);
  const { value, grads } = tf.variableGrads(() => maskedLoss(c, forward(vars, c, t.input, { rows: b.rows, cols: b.cols }, mask, t.hint), t.target, t.weights), Object.values(vars));
  const loss = value.dataSync()[0];
  const out: Record<string, Float32Array> = {};
  for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync() as Float32Array;
  tf.dispose([value, ...Object.values(grads), t.input, t.target, t.hint, t.weights]);
  return { loss, grads: out };
}

export interface EvalResult {
  /** Per sample: mean squared error over removed patches (NaN if none), over all patches; outputs clipped to the pixel range. */
  mseRemoved: number[];
  mseAll: number[];
}

/** Rebuilds the batch and measures errors against the target, outputs clipped to [-0.5, 0.5]. */
export function evaluate(params: Params, c: MaeConfig, b: TrainBatch): EvalResult {
  const t = tensors(c, b);
  const L = b.rows * b.cols;
  const P = patchDim(c);
  const out = tf.tidy(() => tf.clipByValue(forward(params, c, t.input, { rows: b.rows, cols: b.cols }, batchMask(b), t.hint), -0.5, 0.5));
  const y = out.dataSync();
  tf.dispose([out, t.input, t.target, t.hint, t.weights]);
  const res: EvalResult = { mseRemoved: [], mseAll: [] };
  for (let i = 0; i < b.batch; i++) {
    let sr = 0;
    let nr = 0;
    let sa = 0;
    for (let l = 0; l < L; l++) {
      let e = 0;
      const o = (i * L + l) * P;
      for (let j = 0; j < P; j++) {
        const d = y[o + j] - b.target[o + j];
        e += d * d;
      }
      sa += e;
      if (b.removed[i * L + l]) {
        sr += e;
        nr += P;
      }
    }
    res.mseRemoved.push(nr ? sr / nr : NaN);
    res.mseAll.push(sa / (L * P));
  }
  return res;
}
