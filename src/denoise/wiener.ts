/**
 * The denoiser's second stage: empirical Wiener filtering in a sliding 8x8 DCT, guided by
 * the MAE's estimate (the "pilot"), as the second step of BM3D (Dabov et al., 2007) is
 * guided by its first, without the block matching.
 *
 * The MAE's estimate is smooth where it is unsure: it loses fine texture that is still in the
 * noisy image. For every 8x8 block (at a stride, in an orthonormal opponent colour space so
 * that the noise stays white with the same sigma in every plane), each DCT coefficient of the
 * noisy block is scaled by P^2 / (P^2 + sigma^2), P the pilot's coefficient: kept where the
 * pilot says there is signal, removed where it says there is only noise. Blocks are put back
 * and overlapping estimates averaged. A second iteration uses the first's output as pilot.
 * With sigma 0 the noisy image comes back unchanged.
 *
 * The transforms are 64x64 matMuls over all the blocks of a band of rows (tfjs, so they run on
 * the backend's fast matMul); gathering and putting back blocks is plain JavaScript. The image
 * goes through in strips of rows with margins wide enough that each strip's rows come out as
 * the whole image would give them, so the memory needed does not grow with the image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FloatImage } from '../model/runner';

export interface WienerOptions {
  /** Block stride in pixels, 1..8 (default 3). */
  stride?: number;
  /** Passes, each guided by the previous output (default 2). */
  iterations?: number;
  /** Pixels per strip of rows processed at a time (default about 2M; the result does not depend on it). */
  stripPixels?: number;
  /** Bands of blocks done out of the total, over all strips and passes. */
  onProgress?: (done: number, total: number) => void;
}

const B = 8;
const BB = B * B;
/** Blocks per matMul (times 3 planes): a few MB per band whatever the image size. */
const BAND_BLOCKS = 4096;
/** Pixels per strip of rows (plus margins) processed at a time: about 10 floats each. */
const STRIP_PIXELS = 1 << 21;

/** Orthonormal opponent colour transform (rows: luma, red-blue, green against red+blue). */
const OPP = [
  [1 / Math.sqrt(3), 1 / Math.sqrt(3), 1 / Math.sqrt(3)],
  [1 / Math.sqrt(2), 0, -1 / Math.sqrt(2)],
  [1 / Math.sqrt(6), -2 / Math.sqrt(6), 1 / Math.sqrt(6)],
];

/** The 2-D 8x8 DCT-II as a 64x64 matrix acting on row vectors of a block's pixels (row-major). */
function dctMatrices(): { fwd: Float32Array; inv: Float32Array } {
  const c = new Float64Array(BB);
  for (let k = 0; k < B; k++) for (let n = 0; n < B; n++) c[k * B + n] = (k === 0 ? Math.sqrt(1 / B) : Math.sqrt(2 / B)) * Math.cos((Math.PI * (2 * n + 1) * k) / (2 * B));
  // coefficient (u, v) = sum over pixels (y, x) of c[u, y] c[v, x] pixel(y, x); fwd[(y, x), (u, v)].
  const fwd = new Float32Array(BB * BB);
  const inv = new Float32Array(BB * BB);
  for (let y = 0; y < B; y++)
    for (let x = 0; x < B; x++)
      for (let u = 0; u < B; u++)
        for (let v = 0; v < B; v++) {
          const w = c[u * B + y] * c[v * B + x];
          fwd[(y * B + x) * BB + u * B + v] = w;
          inv[(u * B + v) * BB + y * B + x] = w;
        }
  return { fwd, inv };
}

let matrices: { fwd: Float32Array; inv: Float32Array } | null = null;

/** Block origins along one axis: every `stride` pixels, and the last block flush with the edge. */
export function blockOrigins(n: number, stride: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + B <= n; i += stride) out.push(i);
  if (out.length && out[out.length - 1] !== n - B) out.push(n - B);
  return out;
}

/** Rows [top, bottom) of an RGB image as three opponent-colour planes. */
function toPlanes(img: FloatImage, top: number, bottom: number): Float32Array[] {
  const n = img.width * (bottom - top);
  const planes = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const d = img.data;
  const o = top * img.width * 3;
  for (let i = 0; i < n; i++) {
    const r = d[o + i * 3];
    const g = d[o + i * 3 + 1];
    const b = d[o + i * 3 + 2];
    for (let c = 0; c < 3; c++) planes[c][i] = OPP[c][0] * r + OPP[c][1] * g + OPP[c][2] * b;
  }
  return planes;
}

/** Writes plane rows [from, from + rows) back as RGB into `out` at image row `to`. */
function fromPlanes(planes: Float32Array[], width: number, from: number, rows: number, out: Float32Array, to: number): void {
  const n = width * rows;
  const src = from * width;
  const dst = to * width * 3;
  for (let i = 0; i < n; i++) {
    const a = planes[0][src + i];
    const b = planes[1][src + i];
    const c = planes[2][src + i];
    for (let ch = 0; ch < 3; ch++) out[dst + i * 3 + ch] = OPP[0][ch] * a + OPP[1][ch] * b + OPP[2][ch] * c;
  }
}

/** Bytes of noisy-block DCT coefficients kept across passes (above it they are recomputed each pass). */
const CACHE_BYTES = 192 * 1024 * 1024;

interface Grid {
  W: number;
  H: number;
  xs: number[];
  ys: number[];
  /** Bands of block rows, each one matMul. */
  bands: number[][];
  /** How many blocks cover each pixel. */
  count: Float32Array;
}

/** Copies the blocks of a band, per plane, into rows of 64 (im2col). */
function gather(planes: Float32Array[], g: Grid, bandYs: number[]): Float32Array {
  const m = bandYs.length * g.xs.length;
  const out = new Float32Array(3 * m * BB);
  for (let c = 0; c < 3; c++) {
    const p = planes[c];
    let o = c * m * BB;
    for (const y of bandYs)
      for (const x of g.xs)
        for (let i = 0; i < B; i++) {
          const s = (y + i) * g.W + x;
          for (let j = 0; j < B; j++) out[o++] = p[s + j];
        }
  }
  return out;
}

/** Adds the blocks of a band back at their place (col2im), per plane. */
function scatterAdd(blocks: Float32Array, planes: Float32Array[], g: Grid, bandYs: number[]): void {
  const m = bandYs.length * g.xs.length;
  const W = g.W;
  for (let c = 0; c < 3; c++) {
    const p = planes[c];
    let o = c * m * BB;
    for (let yi = 0; yi < bandYs.length; yi++) {
      const y = bandYs[yi];
      for (let xi = 0; xi < g.xs.length; xi++) {
        const x = g.xs[xi];
        for (let i = 0; i < B; i++) {
          const s = (y + i) * W + x;
          for (let j = 0; j < B; j++) p[s + j] += blocks[o + j];
          o += B;
        }
      }
    }
  }
}

/** One pass: every block of the noisy image shrunk by the Wiener gains of the same block of `pilot`. */
function wienerPass(noisyCoeffs: (band: number) => tf.Tensor2D, pilot: Float32Array[], g: Grid, sigma: number, fwd: tf.Tensor2D, inv: tf.Tensor2D, tick?: () => void): Float32Array[] {
  const acc = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const s2 = sigma * sigma;
  g.bands.forEach((bandYs, bi) => {
    const m = bandYs.length * g.xs.length;
    const pb = gather(pilot, g, bandYs);
    const outT = tf.tidy(() => {
      const pc = tf.square(tf.matMul(tf.tensor2d(pb, [3 * m, BB]), fwd));
      const gain = tf.div(pc, tf.add(pc, s2));
      return tf.matMul(tf.mul(noisyCoeffs(bi), gain), inv);
    });
    // (tidy would walk a returned typed array element by element: read the tensor outside.)
    const out = outT.dataSync() as Float32Array;
    outT.dispose();
    scatterAdd(out, acc, g, bandYs);
    tick?.();
  });
  // Pixels no block covers (the edges of a strip's margin, never output) keep the pilot.
  acc.forEach((ap, c) => {
    for (let i = 0; i < ap.length; i++) ap[i] = g.count[i] > 0 ? ap[i] / g.count[i] : pilot[c][i];
  });
  return acc;
}

/**
 * Refines `pilot`, an estimate of the clean image, from `noisy` and the noise `sigma` (both
 * images and sigma on the model's scale, where 1 is the full 0..255 range). Images under 8
 * pixels in either direction come back as the pilot.
 */
export function wienerRefine(noisy: FloatImage, pilot: FloatImage, sigma: number, opts: WienerOptions = {}): FloatImage {
  const stride = opts.stride ?? 3;
  const iterations = opts.iterations ?? 2;
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= B)) throw new Error(`wiener stride must be an integer from 1 to ${B}, got ${String(opts.stride)}`);
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new Error(`wiener iterations must be a non-negative integer, got ${String(opts.iterations)}`);
  if (noisy.width !== pilot.width || noisy.height !== pilot.height) throw new Error('wiener: the noisy image and the pilot differ in size');
  const W = noisy.width;
  const H = noisy.height;
  if (W < B || H < B || iterations === 0 || !(sigma > 0)) return pilot;
  matrices ??= dctMatrices();
  const xs = blockOrigins(W, stride);
  const ys = blockOrigins(H, stride);
  const out = new Float32Array(W * H * 3);
  // Strips of rows, each with a margin of 8 rows per pass above and below: output row r of
  // pass k depends only on rows within 7 of it in pass k - 1, so the strip's own rows come
  // out as the whole image would give them, and memory stays bounded at any image size.
  const margin = iterations * B;
  const rows = Math.max(B, Math.ceil((opts.stripPixels ?? STRIP_PIXELS) / W));
  const strips: { a: number; b: number; top: number; bottom: number; ys: number[] }[] = [];
  for (let a = 0; a < H; a += rows) {
    const b = Math.min(H, a + rows);
    const top = Math.max(0, a - margin);
    const bottom = Math.min(H, b + margin);
    strips.push({ a, b, top, bottom, ys: ys.filter((y) => y >= top && y + B <= bottom).map((y) => y - top) });
  }
  const rowsPerBand = Math.max(1, Math.floor(BAND_BLOCKS / xs.length));
  const total = iterations * strips.reduce((n, s) => n + Math.ceil(s.ys.length / rowsPerBand), 0);
  let done = 0;
  const tick = opts.onProgress ? () => opts.onProgress!(++done, total) : undefined;
  const fwd = tf.tensor2d(matrices.fwd, [BB, BB]);
  const inv = tf.tensor2d(matrices.inv, [BB, BB]);
  try {
    for (const s of strips) {
      const p = refineRegion(toPlanes(noisy, s.top, s.bottom), toPlanes(pilot, s.top, s.bottom), W, s.bottom - s.top, xs, s.ys, sigma, iterations, fwd, inv, rowsPerBand, tick);
      fromPlanes(p, W, s.a - s.top, s.b - s.a, out, s.a);
    }
  } finally {
    tf.dispose([fwd, inv]);
  }
  return { width: W, height: H, data: out };
}

/** The passes over one region (all columns, some rows) given as planes. */
function refineRegion(
  n: Float32Array[],
  pilot: Float32Array[],
  W: number,
  H: number,
  xs: number[],
  ys: number[],
  sigma: number,
  iterations: number,
  fwd: tf.Tensor2D,
  inv: tf.Tensor2D,
  rowsPerBand: number,
  tick?: () => void,
): Float32Array[] {
  const bands: number[][] = [];
  for (let r = 0; r < ys.length; r += rowsPerBand) bands.push(ys.slice(r, r + rowsPerBand));
  const count = new Float32Array(W * H);
  for (const y of ys) for (const x of xs) for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) count[(y + i) * W + x + j]++;
  const g: Grid = { W, H, xs, ys, bands, count };
  const cache: tf.Tensor2D[] = [];
  const keep = iterations > 1 && xs.length * ys.length * 3 * BB * 4 <= CACHE_BYTES;
  const noisyCoeffs = (bi: number): tf.Tensor2D => {
    if (cache[bi]) return cache[bi];
    const m = bands[bi].length * xs.length;
    const c = tf.matMul(tf.tensor2d(gather(n, g, bands[bi]), [3 * m, BB]), fwd);
    if (keep) cache[bi] = tf.keep(c) as tf.Tensor2D;
    return c as tf.Tensor2D;
  };
  try {
    let p = pilot;
    for (let it = 0; it < iterations; it++) p = wienerPass(noisyCoeffs, p, g, sigma, fwd, inv, tick);
    return p;
  } finally {
    tf.dispose(cache);
  }
}
