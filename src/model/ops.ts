/**
 * Building blocks of the MAE with gradients written for the wasm backend.
 *
 * tfjs's default matMul gradient calls matMul with transposeA/transposeB, which the
 * wasm backend runs 10 to 20 times slower than a plain matMul, and tf.gather's gradient
 * needs UnsortedSegmentSum, which wasm lacks. These ops transpose explicitly (a cheap
 * memory copy) and scatter instead, so a training step runs only fast kernels.
 * `setFastGradients(false)` switches back to tfjs's default gradients (for the benchmark
 * and the equivalence tests).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GELU_KERNEL } from '../runtime/wasm-kernels';

let gradientsRegistered = false;
/**
 * Registers tfjs's gradient definitions: tfjs-core's CommonJS bundle ships none, and the
 * union package registers them (into tfjs-core's global registry) when loaded. Only what
 * computes gradients calls it (training, its tests and benchmarks): loading the union package
 * costs about 0.12 s, which every inference process and helper thread would otherwise pay.
 */
export function registerGradients(): void {
  if (gradientsRegistered) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs');
  gradientsRegistered = true;
}

let fast = true;

/** Chooses the explicit-transpose gradients (true, default) or tfjs's defaults (false). */
export function setFastGradients(on: boolean): void {
  fast = on;
}

export function fastGradients(): boolean {
  return fast;
}

// tf.customGrad's typing wants every argument to be a Tensor; the save function comes last.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.Tensor[] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const customGrad = (f: AnyFn) => tf.customGrad(f as any) as (...args: tf.Tensor[]) => tf.Tensor;

function t2(x: tf.Tensor): tf.Tensor2D {
  return tf.transpose(x as tf.Tensor2D) as tf.Tensor2D;
}

function t3(x: tf.Tensor): tf.Tensor3D {
  return tf.transpose(x as tf.Tensor3D, [0, 2, 1]) as tf.Tensor3D;
}

const matMul2dFast = customGrad((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      const [sa, sb] = saved;
      return [tf.matMul(g, t2(sb)), tf.matMul(t2(sa), g)];
    },
  };
});

const bmmFast = customGrad((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor3D;
      const [sa, sb] = saved;
      return [tf.matMul(g, t3(sb)), tf.matMul(t3(sa), g)];
    },
  };
});

/** 2-D matrix product a [m, k] @ b [k, n]. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return (fast ? matMul2dFast(a, b) : tf.matMul(a, b)) as tf.Tensor2D;
}

/** Batched product a [B, m, k] @ b [B, k, n]. */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return (fast ? bmmFast(a, b) : tf.matMul(a, b)) as tf.Tensor3D;
}

/** Batched a [B, m, k] @ b^T where b is [B, n, k]. */
export function bmmTransB(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return fast ? (bmmFast(a, t3(b)) as tf.Tensor3D) : tf.matMul(a, b, false, true);
}

const linearFast = customGrad((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    // The bias rides in the matMul kernel (one pass instead of a broadcast add).
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      const [sx, sw] = saved;
      return [tf.matMul(g, t2(sw)), tf.matMul(t2(sx), g), tf.sum(g, 0)];
    },
  };
});

/** Linear layer over the last axis: x [..., in] @ w [in, out] + b [out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const outDim = w.shape[1] as number;
  const x2 = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  let y: tf.Tensor;
  if (fast && b) y = linearFast(x2, w, b);
  else {
    y = matMul2d(x2, w as tf.Tensor2D);
    if (b) y = tf.add(y, b);
  }
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d GELU / dx = Phi(x) + x phi(x), times dy: the gradient of geluFast and of the fused GELU kernel. */
function geluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
    const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(x))));
    return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
  });
}

const geluFast = customGrad((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [geluGrad(dy as tf.Tensor, saved[0])],
  };
});

// The fused kernel (registered for wasm by runtime/wasm-kernels.ts) gets the same gradient.
tf.registerGradient({ kernelName: GELU_KERNEL, inputsToSave: ['x'], gradFunc: (dy, saved) => ({ x: () => geluGrad(dy as tf.Tensor, saved[0]) }) });

/** Exact (erf) GELU, as torch.nn.GELU: one fused kernel where the backend has it (wasm, see runtime/wasm-kernels.ts). */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (fast && tf.getKernel(GELU_KERNEL, tf.getBackend())) return tf.engine().runKernel(GELU_KERNEL, { x }, {}) as tf.Tensor;
  if (fast) return geluFast(x);
  return tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))));
}

const LN_EPS = 1e-6;

const layerNormFast = customGrad((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
  const axis = x.shape.length - 1;
  const { mean, variance } = tf.moments(x, axis, true);
  const rstd = tf.rsqrt(tf.add(variance, LN_EPS));
  const xhat = tf.mul(tf.sub(x, mean), rstd);
  save([xhat, rstd, gamma]);
  return {
    value: tf.add(tf.mul(xhat, gamma), beta),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sx, sr, sg] = saved;
      const lead = g.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const dg = tf.sum(tf.reshape(tf.mul(g, sx), [lead, -1]), 0);
      const db = tf.sum(tf.reshape(g, [lead, -1]), 0);
      const gx = tf.mul(g, sg);
      const m1 = tf.mean(gx, axis, true);
      const m2 = tf.mean(tf.mul(gx, sx), axis, true);
      const dx = tf.mul(sr, tf.sub(tf.sub(gx, m1), tf.mul(sx, m2)));
      return [dx, dg, db];
    },
  };
});

/** LayerNorm over the last axis with eps 1e-6 (as the reference's partial(nn.LayerNorm, eps=1e-6)). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  if (fast) return layerNormFast(x, gamma, beta);
  const axis = x.shape.length - 1;
  const { mean, variance } = tf.moments(x, axis, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS))), gamma), beta);
}

/**
 * Rows of x [N, D] at `indices` (each index at most once), as a [M, D] matrix. Both ways
 * run on scatterND: the rows of x are scattered to their place in the output (the rows not
 * taken to a spare last row, sliced off). tf.gather's kernel is about 8 times slower than
 * that on wasm, and its gradient (UnsortedSegmentSum) is missing there. The gradient is
 * scatterRows. With fast gradients off it selects by a one-hot matMul, the portable way
 * with tfjs's own gradients.
 */
export function gatherRows(x: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  if (!fast) {
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(indices, 'int32'), x.shape[0]), 'float32') as tf.Tensor2D;
    return tf.matMul(oneHot, x);
  }
  const n = x.shape[0];
  const op = customGrad((xt: tf.Tensor) => ({
    value: selectRows(xt as tf.Tensor2D, indices),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [placeRows(dy as tf.Tensor2D, indices, n)],
  }));
  return op(x) as tf.Tensor2D;
}

/**
 * Places the rows of x [M, D] at `indices` (each at most once) of a zero matrix
 * [rows, D]. Its gradient is gatherRows. Used to build token sequences (cls token plus
 * visible tokens, visible tokens plus mask tokens) without concat and tile, whose
 * gradients (strided slices) are slow on wasm.
 */
export function scatterRows(x: tf.Tensor2D, indices: Int32Array, rows: number): tf.Tensor2D {
  if (!fast) {
    const oneHotT = tf.transpose(tf.cast(tf.oneHot(tf.tensor1d(indices, 'int32'), rows), 'float32')) as tf.Tensor2D;
    return tf.matMul(oneHotT, x);
  }
  const op = customGrad((xt: tf.Tensor) => ({
    value: placeRows(xt as tf.Tensor2D, indices, rows),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [selectRows(dy as tf.Tensor2D, indices)],
  }));
  return op(x) as tf.Tensor2D;
}

function checkIndices(indices: Int32Array, n: number): void {
  for (const i of indices) if (!(i >= 0 && i < n)) throw new Error(`row index ${i} out of range [0, ${n})`);
}

/** x [M, D] placed at rows `indices` of a zero [n, D] (no gradient). */
function placeRows(x: tf.Tensor2D, indices: Int32Array, n: number): tf.Tensor2D {
  checkIndices(indices, n);
  return tf.tidy(() => tf.scatterND(tf.tensor2d(indices, [indices.length, 1], 'int32'), x, [n, x.shape[1]]));
}

/** Rows `indices` of x [N, D] (no gradient), by scattering every row of x to its output row. */
function selectRows(x: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const [n, d] = x.shape;
  const m = indices.length;
  checkIndices(indices, n);
  const dest = new Int32Array(n).fill(m);
  indices.forEach((r, j) => {
    if (dest[r] !== m) throw new Error(`row index ${r} taken twice`);
    dest[r] = j;
  });
  return tf.tidy(() => tf.slice(tf.scatterND(tf.tensor2d(dest, [n, 1], 'int32'), x, [m + 1, d]) as tf.Tensor2D, [0, 0], [m, d]));
}
