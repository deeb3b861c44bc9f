/**
 * The denoiser's Wiener stage: empirical Wiener filtering in a sliding 8x8 DCT, guided by an
 * estimate of the clean image (the "pilot"), as in the second step of BM3D (Dabov et al.,
 * 2007) without its block matching (collab.ts does that).
 *
 * For every 8x8 block (at a stride, in an orthonormal opponent colour space so that the noise
 * stays white with the same sigma in every plane), each DCT coefficient of the noisy block is
 * scaled by P^2 / (P^2 + sigma^2), P the pilot's coefficient: kept where the pilot says there
 * is signal, removed where it says there is only noise. Blocks are put back and overlapping
 * estimates averaged. Each further pass uses the previous output as its pilot. With sigma 0
 * the noisy image comes back unchanged.
 *
 * The image goes through in strips of rows with margins wide enough that each strip's rows
 * come out as the whole image would give them, so the memory needed does not grow with the
 * image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FloatImage } from '../model/runner';
import { blockKernels } from '../runtime/wasm-kernels';
import { B, BB, bandCoeffs, bandCount, blockOrigins, Dct, fromPlanes, Grid, kernelRegion, makeGrid, normalize, planStrips, rowRange, scatterAdd, toPlanes, withDct } from './blocks';

export { blockOrigins } from './blocks';

export interface WienerOptions {
  /** Block stride in pixels, 1..8 (default 3). */
  stride?: number;
  /** Passes, each guided by the previous output (default 2). */
  iterations?: number;
  /** Pixels per strip of rows processed at a time (default about 2M; the result does not depend on it). */
  stripPixels?: number;
  /** @internal Use tfjs matMuls and JavaScript loops even where the WebAssembly kernels run (the tests compare the two). */
  js?: boolean;
  /** Output rows [from, to) only (default all): the image returned is that high, its rows those the whole image would have. */
  rows?: readonly [number, number];
  /** Work done out of the total, over all strips and passes. */
  onProgress?: (done: number, total: number) => void;
}

/** The stage's defaults (bench/wiener-tune.js on held-out training images). */
export const DEFAULT_WIENER = { iterations: 2, stride: 3 };

/** Pixels per strip of rows (plus margins) processed at a time: about 10 floats each, and 2 x 192 per block. */
const STRIP_PIXELS = 1 << 19;
/** Bytes of noisy-block DCT coefficients kept across passes (above it they are recomputed each pass). */
const CACHE_BYTES = 192 * 1024 * 1024;

/** One pass: every block of the noisy image shrunk by the Wiener gains of the same block of `pilot`. */
function wienerPass(noisyCoeffs: (band: number) => tf.Tensor2D, pilot: Float32Array[], g: Grid, sigma: number, dct: Dct, tick?: () => void): Float32Array[] {
  const acc = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const s2 = sigma * sigma;
  g.bands.forEach((bandYs, bi) => {
    const outT = tf.tidy(() => {
      const pc = tf.square(bandCoeffs(pilot, g, bi, dct.fwd));
      const gain = tf.div(pc, tf.add(pc, s2));
      return tf.matMul(tf.mul(noisyCoeffs(bi), gain), dct.inv);
    });
    // (tidy would walk a returned typed array element by element: read the tensor outside.)
    const out = outT.dataSync() as Float32Array;
    outT.dispose();
    scatterAdd(out, acc, g, bandYs);
    tick?.();
  });
  return normalize(acc, () => g.count, pilot);
}

/**
 * Refines `pilot`, an estimate of the clean image, from `noisy` and the noise `sigma` (both
 * images and sigma on the model's scale, where 1 is the full 0..255 range). Images under 8
 * pixels in either direction come back as the pilot.
 */
export function wienerRefine(noisy: FloatImage, pilot: FloatImage, sigma: number, opts: WienerOptions = {}): FloatImage {
  const stride = opts.stride ?? DEFAULT_WIENER.stride;
  const iterations = opts.iterations ?? DEFAULT_WIENER.iterations;
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= B)) throw new Error(`wiener stride must be an integer from 1 to ${B}, got ${String(opts.stride)}`);
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new Error(`wiener iterations must be a non-negative integer, got ${String(opts.iterations)}`);
  if (noisy.width !== pilot.width || noisy.height !== pilot.height) throw new Error('wiener: the noisy image and the pilot differ in size');
  const W = noisy.width;
  const H = noisy.height;
  const [r0, r1] = rowRange(opts.rows, H, 'wiener');
  if (W < B || H < B || iterations === 0 || !(sigma > 0)) return opts.rows ? { width: W, height: r1 - r0, data: pilot.data.slice(r0 * W * 3, r1 * W * 3) } : pilot;
  const xs = blockOrigins(W, stride);
  // Strips of rows, each with a margin of 8 rows per pass above and below: output row r of
  // pass k depends only on rows within 7 of it in pass k - 1, so the strip's own rows come
  // out as the whole image would give them, and memory stays bounded at any image size.
  const strips = planStrips(W, H, blockOrigins(H, stride), iterations * B, opts.stripPixels ?? STRIP_PIXELS, r0, r1);
  const total = iterations * strips.reduce((n, s) => n + bandCount(xs.length, s.ys.length), 0);
  let done = 0;
  const tick = opts.onProgress ? () => opts.onProgress!(++done, total) : undefined;
  const out = new Float32Array(W * (r1 - r0) * 3);
  withDct((dct) => {
    for (const s of strips) {
      const n = toPlanes(noisy, s.top, s.bottom);
      const p0 = toPlanes(pilot, s.top, s.bottom);
      const g = makeGrid(W, s.bottom - s.top, xs, s.ys);
      const p = (opts.js ? null : refineRegionWasm(n, p0, g, sigma, iterations, tick)) ?? refineRegion(n, p0, g, sigma, iterations, dct, tick);
      fromPlanes(p, W, s.a - s.top, s.b - s.a, out, s.a - r0);
    }
  });
  return { width: W, height: r1 - r0, data: out };
}

/** The plain passes over one region (all columns, some rows) given as planes. */
function refineRegion(n: Float32Array[], pilot: Float32Array[], g: Grid, sigma: number, iterations: number, dct: Dct, tick?: () => void): Float32Array[] {
  const cache: tf.Tensor2D[] = [];
  const keep = iterations > 1 && g.xs.length * g.ys.length * 3 * BB * 4 <= CACHE_BYTES;
  const noisyCoeffs = (bi: number): tf.Tensor2D => {
    if (cache[bi]) return cache[bi];
    const c = bandCoeffs(n, g, bi, dct.fwd);
    if (keep) cache[bi] = tf.keep(c);
    return c;
  };
  try {
    let p = pilot;
    for (let it = 0; it < iterations; it++) p = wienerPass(noisyCoeffs, p, g, sigma, dct, tick);
    return p;
  } finally {
    tf.dispose(cache);
  }
}

/**
 * refineRegion with the WebAssembly kernels (the DCTs and the inverse DCTs with their sums, as
 * collab.ts uses them), or null where they are not available. Progress: one tick per band.
 */
function refineRegionWasm(n: Float32Array[], pilot: Float32Array[], g: Grid, sigma: number, iterations: number, tick?: () => void): Float32Array[] | null {
  const k = blockKernels();
  if (!k) return null;
  const nb = g.xs.length * g.ys.length;
  const r = kernelRegion(k, g, (size) => ({ noisy: size.planes, pilot: size.planes, win: BB * 4, N: size.blocks, P: size.blocks, ones: nb * 12, num: size.planes, den: size.planes }));
  const { pilot: oPilot, num, den, ones, win } = r.off;
  r.put(r.off.noisy, n);
  r.floats(win, BB).fill(1);
  r.floats(ones, nb * 3).fill(1);
  r.dct8(r.off.noisy, r.off.N);
  const N = r.floats(r.off.N, nb * 3 * BB);
  const P = r.floats(r.off.P, nb * 3 * BB);
  const s2 = sigma * sigma;
  let p = pilot;
  for (let it = 0; it < iterations; it++) {
    r.put(oPilot, p);
    r.dct8(oPilot, r.off.P);
    for (let i = 0; i < P.length; i++) {
      const q = P[i] * P[i];
      P[i] = (N[i] * q) / (q + s2);
    }
    r.floats(num, 6 * g.W * g.H).fill(0);
    r.idct8add(r.off.P, ones, num, den, win);
    p = normalize(r.take(num), () => g.count, p);
    for (let b = 0; b < g.bands.length; b++) tick?.();
  }
  return p;
}
