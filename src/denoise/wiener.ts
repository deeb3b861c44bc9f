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
  /**
   * Adds a last, collaborative pass (BM3D's second step on the block grid): each block is
   * filtered together with up to 15 similar blocks of the grid within 3 steps, the Wiener gains
   * taken from the 3-D spectrum (DCT, then Walsh-Hadamard across the group) of the previous
   * output. Default false: it adds about 0.2 dB for several times the stage's time.
   */
  match?: boolean;
}

/** Most blocks in a group of the collaborative pass (a power of 2). */
const GROUP = 16;
/** Search reach of the collaborative pass, in grid steps each way. */
const REACH = 3;
/** Largest distance between a reference block and a group member: 400 per pixel on the 0..255 scale, BM3D's step-2 threshold for sigma up to 40. */
const MATCH_TAU = (400 * 64) / (255 * 255);

/** The stage's defaults (bench/wiener-tune.js on held-out training images). */
export const DEFAULT_WIENER = { iterations: 2, stride: 3 };

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

/** The DCT coefficients of a band's blocks, per plane: [3 * blocks, 64] (plane-major). */
function bandCoeffs(planes: Float32Array[], g: Grid, bi: number, fwd: tf.Tensor2D): tf.Tensor2D {
  const m = g.bands[bi].length * g.xs.length;
  return tf.tidy(() => tf.matMul(tf.tensor2d(gather(planes, g, g.bands[bi]), [3 * m, BB]), fwd));
}

/**
 * Adds to every pixel of `target` the weight of each block of the rows `blockYs` covering it:
 * `weights[first + k]` for the k-th block (row by row), or 1 without weights.
 */
function coverBlocks(target: Float32Array, g: Grid, blockYs: number[], weights?: Float32Array, first = 0): void {
  let k = first;
  for (const y of blockYs)
    for (const x of g.xs) {
      const w = weights ? weights[k] : 1;
      k++;
      for (let i = 0; i < B; i++) {
        const o = (y + i) * g.W + x;
        for (let j = 0; j < B; j++) target[o + j] += w;
      }
    }
}

/** Divides each plane's sums by its weights; pixels with no weight (a strip margin's edges, never output) keep the pilot. */
function normalize(sums: Float32Array[], weights: (plane: number) => Float32Array, pilot: Float32Array[]): Float32Array[] {
  sums.forEach((p, c) => {
    const w = weights(c);
    for (let i = 0; i < p.length; i++) p[i] = w[i] > 0 ? p[i] / w[i] : pilot[c][i];
  });
  return sums;
}

/** One pass: every block of the noisy image shrunk by the Wiener gains of the same block of `pilot`. */
function wienerPass(noisyCoeffs: (band: number) => tf.Tensor2D, pilot: Float32Array[], g: Grid, sigma: number, fwd: tf.Tensor2D, inv: tf.Tensor2D, tick?: () => void): Float32Array[] {
  const acc = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const s2 = sigma * sigma;
  g.bands.forEach((bandYs, bi) => {
    const outT = tf.tidy(() => {
      const pc = tf.square(bandCoeffs(pilot, g, bi, fwd));
      const gain = tf.div(pc, tf.add(pc, s2));
      return tf.matMul(tf.mul(noisyCoeffs(bi), gain), inv);
    });
    // (tidy would walk a returned typed array element by element: read the tensor outside.)
    const out = outT.dataSync() as Float32Array;
    outT.dispose();
    scatterAdd(out, acc, g, bandYs);
    tick?.();
  });
  return normalize(acc, () => g.count, pilot);
}

/** All blocks' DCT coefficients per plane ([plane][block * 64 + k], blocks row by row), band by band. */
function allCoeffs(g: Grid, band: (bi: number) => tf.Tensor2D): Float32Array[] {
  const nb = g.xs.length * g.ys.length;
  const out = [new Float32Array(nb * BB), new Float32Array(nb * BB), new Float32Array(nb * BB)];
  let first = 0;
  g.bands.forEach((bandYs, bi) => {
    const m = bandYs.length * g.xs.length;
    const t = tf.tidy(() => tf.clone(band(bi)));
    const d = t.dataSync() as Float32Array;
    t.dispose();
    for (let c = 0; c < 3; c++) out[c].set(d.subarray(c * m * BB, (c + 1) * m * BB), first * BB);
    first += m;
  });
  return out;
}

/** Orthonormal Walsh-Hadamard transform across the n (a power of 2) rows of 64 of `a`, in place. */
function wht(a: Float32Array, n: number): void {
  for (let h = 1; h < n; h *= 2)
    for (let i = 0; i < n; i += 2 * h)
      for (let j = i; j < i + h; j++) {
        const r0 = j * BB;
        const r1 = (j + h) * BB;
        for (let k = 0; k < BB; k++) {
          const x = a[r0 + k];
          const y = a[r1 + k];
          a[r0 + k] = x + y;
          a[r1 + k] = x - y;
        }
      }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < n * BB; i++) a[i] *= s;
}

/**
 * The collaborative pass: for every block of the grid (the reference), the blocks of the grid
 * within REACH steps whose luma coefficients in `pilot` lie within MATCH_TAU of it (nearest
 * first, at most GROUP, a power of 2, the reference always in) form a group; each plane's
 * group is transformed across its members, shrunk by the Wiener gains of the pilot's group,
 * transformed back, and every member's estimate is added to it with the group's weight
 * 1 / sum(gain^2), as BM3D aggregates. Block estimates are summed in the DCT domain and
 * turned into pixels once.
 */
function collaborativePass(noisyCoeffs: (band: number) => tf.Tensor2D, pilot: Float32Array[], g: Grid, sigma: number, fwd: tf.Tensor2D, inv: tf.Tensor2D, tick?: () => void): Float32Array[] {
  const nx = g.xs.length;
  const ny = g.ys.length;
  const nb = nx * ny;
  const N = allCoeffs(g, noisyCoeffs);
  const P = allCoeffs(g, (bi) => bandCoeffs(pilot, g, bi, fwd));
  const s2 = sigma * sigma;
  const acc = [new Float32Array(nb * BB), new Float32Array(nb * BB), new Float32Array(nb * BB)];
  const wsum = [new Float32Array(nb), new Float32Array(nb), new Float32Array(nb)];
  const side = 2 * REACH + 1;
  const candD = new Float32Array(side * side);
  const candB = new Int32Array(side * side);
  const group = new Int32Array(GROUP);
  const gn = new Float32Array(GROUP * BB);
  const gp = new Float32Array(GROUP * BB);
  const L = P[0];
  for (let iy = 0; iy < ny; iy++)
    for (let ix = 0; ix < nx; ix++) {
      const ref = iy * nx + ix;
      // Candidates: the reference first (distance -1), then the close ones, kept sorted (insertion).
      let m = 0;
      for (let jy = Math.max(0, iy - REACH); jy <= Math.min(ny - 1, iy + REACH); jy++)
        for (let jx = Math.max(0, ix - REACH); jx <= Math.min(nx - 1, ix + REACH); jx++) {
          const cb = jy * nx + jx;
          let d = -1;
          if (cb !== ref) {
            d = 0;
            const o1 = ref * BB;
            const o2 = cb * BB;
            for (let k = 0; k < BB; k++) {
              const e = L[o1 + k] - L[o2 + k];
              d += e * e;
            }
            if (d >= MATCH_TAU) continue;
          }
          let i = m++;
          while (i > 0 && candD[i - 1] > d) {
            candD[i] = candD[i - 1];
            candB[i] = candB[i - 1];
            i--;
          }
          candD[i] = d;
          candB[i] = cb;
        }
      let n = 1;
      while (n * 2 <= Math.min(GROUP, m)) n *= 2;
      for (let t = 0; t < n; t++) group[t] = candB[t];
      for (let c = 0; c < 3; c++) {
        for (let t = 0; t < n; t++) {
          gn.set(N[c].subarray(group[t] * BB, group[t] * BB + BB), t * BB);
          gp.set(P[c].subarray(group[t] * BB, group[t] * BB + BB), t * BB);
        }
        wht(gn, n);
        wht(gp, n);
        let sw = 0;
        for (let i = 0; i < n * BB; i++) {
          const q = gp[i] * gp[i];
          const w = q / (q + s2);
          gn[i] *= w;
          sw += w * w;
        }
        wht(gn, n);
        const wt = 1 / Math.max(sw, 1e-6);
        const a = acc[c];
        for (let t = 0; t < n; t++) {
          const o = group[t] * BB;
          for (let k = 0; k < BB; k++) a[o + k] += wt * gn[t * BB + k];
          wsum[c][group[t]] += wt;
        }
      }
    }
  // Back to pixels: the summed block estimates through one inverse DCT, over the summed weights.
  const num = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const den = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  let first = 0;
  for (const bandYs of g.bands) {
    const m = bandYs.length * nx;
    const rows = new Float32Array(3 * m * BB);
    for (let c = 0; c < 3; c++) rows.set(acc[c].subarray(first * BB, (first + m) * BB), c * m * BB);
    const outT = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [3 * m, BB]), inv));
    const out = outT.dataSync() as Float32Array;
    outT.dispose();
    scatterAdd(out, num, g, bandYs);
    for (let c = 0; c < 3; c++) coverBlocks(den[c], g, bandYs, wsum[c], first);
    first += m;
    tick?.();
  }
  return normalize(num, (c) => den[c], pilot);
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
  const match = opts.match ?? false;
  if (W < B || H < B || (iterations === 0 && !match) || !(sigma > 0)) return pilot;
  matrices ??= dctMatrices();
  const xs = blockOrigins(W, stride);
  const ys = blockOrigins(H, stride);
  const out = new Float32Array(W * H * 3);
  // Strips of rows, each with a margin of 8 rows per pass above and below: output row r of
  // pass k depends only on rows within 7 of it in pass k - 1, so the strip's own rows come
  // out as the whole image would give them, and memory stays bounded at any image size.
  // The collaborative pass reaches REACH steps to a reference block and REACH more to its
  // group members: 2 * REACH * stride + 8 rows, plus 2 for safety.
  const margin = iterations * B + (match ? 2 * REACH * stride + B + 2 : 0);
  const rows = Math.max(B, Math.ceil((opts.stripPixels ?? (match ? STRIP_PIXELS / 4 : STRIP_PIXELS)) / W));
  const strips: { a: number; b: number; top: number; bottom: number; ys: number[] }[] = [];
  for (let a = 0; a < H; a += rows) {
    const b = Math.min(H, a + rows);
    const top = Math.max(0, a - margin);
    const bottom = Math.min(H, b + margin);
    strips.push({ a, b, top, bottom, ys: ys.filter((y) => y >= top && y + B <= bottom).map((y) => y - top) });
  }
  const rowsPerBand = Math.max(1, Math.floor(BAND_BLOCKS / xs.length));
  const total = (iterations + (match ? 1 : 0)) * strips.reduce((n, s) => n + Math.ceil(s.ys.length / rowsPerBand), 0);
  let done = 0;
  const tick = opts.onProgress ? () => opts.onProgress!(++done, total) : undefined;
  const fwd = tf.tensor2d(matrices.fwd, [BB, BB]);
  const inv = tf.tensor2d(matrices.inv, [BB, BB]);
  try {
    for (const s of strips) {
      const p = refineRegion(toPlanes(noisy, s.top, s.bottom), toPlanes(pilot, s.top, s.bottom), W, s.bottom - s.top, xs, s.ys, sigma, iterations, match, fwd, inv, rowsPerBand, tick);
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
  match: boolean,
  fwd: tf.Tensor2D,
  inv: tf.Tensor2D,
  rowsPerBand: number,
  tick?: () => void,
): Float32Array[] {
  const bands: number[][] = [];
  for (let r = 0; r < ys.length; r += rowsPerBand) bands.push(ys.slice(r, r + rowsPerBand));
  const g: Grid = { W, H, xs, ys, bands, count: new Float32Array(W * H) };
  coverBlocks(g.count, g, ys);
  const cache: tf.Tensor2D[] = [];
  const keep = iterations + (match ? 1 : 0) > 1 && xs.length * ys.length * 3 * BB * 4 <= CACHE_BYTES;
  const noisyCoeffs = (bi: number): tf.Tensor2D => {
    if (cache[bi]) return cache[bi];
    const c = bandCoeffs(n, g, bi, fwd);
    if (keep) cache[bi] = tf.keep(c);
    return c;
  };
  try {
    let p = pilot;
    for (let it = 0; it < iterations; it++) p = wienerPass(noisyCoeffs, p, g, sigma, fwd, inv, tick);
    if (match) p = collaborativePass(noisyCoeffs, p, g, sigma, fwd, inv, tick);
    return p;
  } finally {
    tf.dispose(cache);
  }
}
