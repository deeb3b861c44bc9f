import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/runtime/backend';
import { gelu, registerGradients } from '../src/model/ops';

registerGradients();
import { GELU_KERNEL, wasmKernelsActive, wasmRelaxedActive } from '../src/runtime/wasm-kernels';
import { Rng } from '../src/util/rng';

const ROOT = path.resolve(__dirname, '..');

/** Plain double-precision reference of a (batched) product with optional transposes. */
function reference(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number, ta: boolean, tb: boolean): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          const av = ta ? a[z * m * k + q * m + i] : a[z * m * k + i * k + q];
          const bv = tb ? b[z * k * n + j * k + q] : b[z * k * n + q * n + j];
          s += av * bv;
        }
        out[(z * m + i) * n + j] = s;
      }
  return out;
}

function maxRelError(got: Float32Array, want: Float64Array): number {
  let scale = 1e-6;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
  return e / scale;
}

describe('wasm batched matMul kernel', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmKernelsActive()).toBe(true);
    // Slice too (no copy of its input first).
    expect(String(tf.getKernel('Slice', 'wasm')!.kernelFunc)).toContain('sliceNoCopy');
  });

  // Attention shapes, every tile edge (rows mod 4, columns mod 8 and mod 4), and degenerate sizes.
  const shapes: [number, number, number, number][] = [
    [48, 65, 64, 65], [64, 65, 65, 32], [6, 17, 64, 17], [3, 5, 7, 9], [2, 4, 3, 8], [2, 1, 1, 1], [5, 3, 1, 12], [2, 9, 5, 13], [4, 8, 16, 4],
  ];
  it.each(shapes)('matches a double-precision product for batch %i of [%i x %i] @ [%i cols]', (batch, m, k, n) => {
    const rng = new Rng(batch * 1000 + m * 10 + n);
    const a = Float32Array.from({ length: batch * m * k }, () => rng.normal());
    const b = Float32Array.from({ length: batch * k * n }, () => rng.normal());
    const got = tf.tidy(() => tf.matMul(tf.tensor3d(a, [batch, m, k]), tf.tensor3d(b, [batch, k, n])).dataSync() as Float32Array);
    expect(got.length).toBe(batch * m * n);
    expect(maxRelError(got, reference(a, b, batch, m, k, n, false, false))).toBeLessThan(1e-5);
  });

  it('keeps rank-4 batch shapes, and leaves transposes and broadcast batches to tfjs (still correct)', () => {
    const rng = new Rng(3);
    const r = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const a4 = r(2 * 3 * 5 * 6);
    const b4 = r(2 * 3 * 6 * 7);
    const y4 = tf.matMul(tf.tensor4d(a4, [2, 3, 5, 6]), tf.tensor4d(b4, [2, 3, 6, 7]));
    expect(y4.shape).toEqual([2, 3, 5, 7]);
    expect(maxRelError(y4.dataSync() as Float32Array, reference(a4, b4, 6, 5, 6, 7, false, false))).toBeLessThan(1e-5);
    const a = r(4 * 6 * 5);
    const b = r(4 * 7 * 6);
    const ta = tf.matMul(tf.tensor3d(a, [4, 6, 5]), tf.tensor3d(b, [4, 7, 6]), true, true);
    expect(maxRelError(ta.dataSync() as Float32Array, reference(a, b, 4, 5, 6, 7, true, true))).toBeLessThan(1e-5);
    const bc = tf.matMul(tf.tensor3d(a.subarray(0, 4 * 30), [4, 5, 6]), tf.tensor3d(b.subarray(0, 42), [1, 6, 7]));
    expect(bc.shape).toEqual([4, 5, 7]);
    const m2 = tf.matMul(tf.tensor2d(a.subarray(0, 30), [5, 6]), tf.tensor2d(b.subarray(0, 42), [6, 7]));
    expect(maxRelError(m2.dataSync() as Float32Array, reference(a.subarray(0, 30), b.subarray(0, 42), 1, 5, 6, 7, false, false))).toBeLessThan(1e-5);
    tf.dispose([y4, ta, bc, m2]);
  });

  it('runs every product on the fused multiply-add kernel here (relaxed SIMD), 2-D ones and linear layers with their bias too', () => {
    expect(wasmRelaxedActive()).toBe(true);
    const rng = new Rng(11);
    const r = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    // Every tile edge (rows mod 4, columns mod 8 and mod 4), and an inner size left to tfjs (over 1024).
    for (const [m, k, n] of [[65, 192, 576], [7, 5, 13], [1, 1, 1], [4, 3, 12], [9, 17, 4], [9, 300, 261], [6, 260, 300], [3, 1100, 5]]) {
      const a = r(m * k);
      const b = r(k * n);
      const bias = r(n);
      const want = reference(a, b, 1, m, k, n, false, false);
      const plain = tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n]));
      expect(maxRelError(plain.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
      const withBias = want.map((v, i) => v + bias[i % n]);
      const fused = tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]), bias: tf.tensor1d(bias) });
      expect(maxRelError(fused.dataSync() as Float32Array, withBias)).toBeLessThan(1e-5);
      const noBias = tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]) });
      expect(maxRelError(noBias.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
      // An activation or a transpose goes to tfjs's kernel, still right.
      const relu = tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]), bias: tf.tensor1d(bias), activation: 'relu' });
      expect(maxRelError(relu.dataSync() as Float32Array, withBias.map((v) => Math.max(0, v)))).toBeLessThan(1e-5);
      // (Without a bias: tfjs-backend-wasm 4.22's own kernel gets transposeB with a bias wrong.)
      const tb = tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.transpose(tf.tensor2d(b, [k, n])), transposeB: true });
      expect(maxRelError(tb.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
      tf.dispose([plain, fused, noBias, relu, tb]);
    }
  });

  it('gives the gradients tfjs defines for it', () => {
    const rng = new Rng(4);
    const a = tf.tensor3d(Float32Array.from({ length: 3 * 5 * 4 }, () => rng.normal()), [3, 5, 4]);
    const b = tf.tensor3d(Float32Array.from({ length: 3 * 4 * 6 }, () => rng.normal()), [3, 4, 6]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D))))([a, b]);
    // d/dA sum((AB)^2) = 2 (AB) B^T, d/dB = 2 A^T (AB), written out on the cpu side.
    const A = a.dataSync() as Float32Array;
    const Bv = b.dataSync() as Float32Array;
    const ab = reference(A, Bv, 3, 5, 4, 6, false, false);
    const wantA = new Float64Array(3 * 5 * 4);
    const wantB = new Float64Array(3 * 4 * 6);
    for (let z = 0; z < 3; z++)
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 6; j++)
          for (let q = 0; q < 4; q++) {
            wantA[(z * 5 + i) * 4 + q] += 2 * ab[(z * 5 + i) * 6 + j] * Bv[(z * 4 + q) * 6 + j];
            wantB[(z * 4 + q) * 6 + j] += 2 * A[(z * 5 + i) * 4 + q] * ab[(z * 5 + i) * 6 + j];
          }
    expect(maxRelError(ga.dataSync() as Float32Array, wantA)).toBeLessThan(1e-5);
    expect(maxRelError(gb.dataSync() as Float32Array, wantB)).toBeLessThan(1e-5);
    tf.dispose([a, b, ga, gb]);
  });

  /** erf in double precision: its Maclaurin series below 3, the continued fraction of erfc above. */
  function erf(x: number): number {
    const s = Math.sign(x);
    const a = Math.abs(x);
    if (a < 3) {
      let sum = a;
      let term = a;
      for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
        term *= (-a * a) / n;
        sum += term / (2 * n + 1);
      }
      return (s * 2 * sum) / Math.sqrt(Math.PI);
    }
    let t = 0;
    for (let k = 60; k >= 1; k--) t = k / 2 / (a + t);
    return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + t));
  }

  it('fuses the exact GELU into one kernel within 1e-6 of 0.5 x (1 + erf(x / sqrt 2)), with its gradient', () => {
    expect(tf.getKernel(GELU_KERNEL, 'wasm')).toBeDefined();
    // Every lane position and the scalar tail: 4001 values over [-10, 10], plus specials.
    const xs = Float32Array.from({ length: 4001 }, (_, i) => -10 + i / 200);
    const got = tf.tidy(() => gelu(tf.tensor1d(xs)).dataSync() as Float32Array);
    let worst = 0;
    xs.forEach((x, i) => (worst = Math.max(worst, Math.abs(got[i] - 0.5 * x * (1 + erf(x / Math.SQRT2))))));
    expect(worst).toBeLessThan(1e-6);
    const special = tf.tidy(() => Array.from(gelu(tf.tensor1d([0, Infinity, -Infinity, 1e30, -1e30])).dataSync()));
    // As the five-op composition: -Infinity * 0 is NaN there too.
    expect(special).toEqual([0, Infinity, NaN, Math.fround(1e30), -0]);
    const x = tf.tensor2d(Float32Array.from({ length: 30 }, (_, i) => (i - 15) / 4), [5, 6]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x);
    const want = Array.from(x.dataSync(), (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
    Array.from(g.dataSync()).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5));
    tf.dispose([x, g]);
  });

  // Slices of every rank it takes (1 to 4), contiguous or not, -1 sizes, int32 and empty ones.
  const slices: [number[], number[], number[]][] = [
    [[12], [3], [5]], [[6, 9], [0, 3], [6, 3]], [[6, 9], [2, 0], [3, -1]], [[4, 5, 6], [1, 2, 3], [2, 3, -1]], [[3, 4, 5, 6], [1, 0, 2, 1], [2, 4, 2, 4]], [[3, 4], [1, 1], [0, 2]],
  ];
  it.each(slices)('slices a %j tensor from %j, size %j, as a plain copy does', (shape, begin, size) => {
    const n = shape.reduce((p, q) => p * q, 1);
    const x = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);
    const sz = size.map((v, d) => (v < 0 ? shape[d] - begin[d] : v));
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, q) => p * q, 1));
    const want: number[] = [];
    const walk = (d: number, at: number): void => {
      if (d === shape.length) return void want.push(x[at]);
      for (let i = 0; i < sz[d]; i++) walk(d + 1, at + (begin[d] + i) * strides[d]);
    };
    walk(0, 0);
    const got = tf.tidy(() => Array.from(tf.slice(tf.tensor(x, shape), begin, size).dataSync()));
    const gotInt = tf.tidy(() => Array.from(tf.slice(tf.tensor(Int32Array.from(x, (v) => Math.round(v * 2)), shape, 'int32'), begin, size).dataSync()));
    expect(got).toEqual(want);
    expect(gotInt).toEqual(want.map((v) => Math.round(v * 2)));
  });

  it('is turned off by MAE_WASM_KERNELS=0 (the fused multiply-adds by MAE_WASM_RELAXED=0), and mae info says which kernels run', () => {
    const run = (env: Record<string, string>) =>
      JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'info', '--backend', 'wasm', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' }));
    expect(run({ MAE_WASM_KERNELS: '0' }).simdBatchMatMul).toBe(false);
    expect(run({ MAE_WASM_KERNELS: '0' }).fmaMatMul).toBe(false);
    expect(run({ MAE_WASM_KERNELS: '1' })).toMatchObject({ simdBatchMatMul: true, fmaMatMul: true });
    expect(run({ MAE_WASM_RELAXED: '0' })).toMatchObject({ simdBatchMatMul: true, fmaMatMul: false });
  });

  it('is built from the committed generator (scripts/gen-wasm-kernels.js --check)', () => {
    expect(execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-wasm-kernels.js'), '--check'], { encoding: 'utf8' })).toContain('up to date');
  });
});
