/**
 * Collaborative filtering of groups of similar blocks, as in BM3D (Dabov et al., 2007), with
 * the blocks on a grid: every block of the grid (the reference) is grouped with the blocks of
 * the grid within `reach` steps that look most like it (at most `group`, a power of 2, the
 * reference always in). The group's 8x8 DCTs go through a Walsh-Hadamard transform across its
 * members, the 3-D spectrum is shrunk, and every member's estimate goes back to its place with
 * the group's weight; estimates are summed in the DCT domain and turned into pixels once.
 *
 * Two shrinkages, BM3D's two steps:
 * - hard thresholding (no pilot): coefficients under lambda x sigma are zeroed, blocks are
 *   matched on the noisy image, weight 1 / (coefficients kept);
 * - Wiener (with a pilot, an estimate of the clean image): each coefficient is scaled by
 *   P^2 / (P^2 + sigma^2), P the pilot's, blocks are matched on the pilot, weight
 *   1 / sum(gain^2).
 *
 * Colour images are filtered in an opponent colour space, every plane with the groups found
 * on luma: on a stride-1 grid (the dense search) by the distance of the blocks' luma pixels, as
 * BM3D matches, computed offset by offset for all the references at once (the `collab1`
 * kernel); on coarser grids by the distance of their luma coefficients, candidate by candidate
 * (the same distance for the orthonormal DCT and Haar transforms; bior1.5's is close to it). The image goes through in strips of rows with margins wide enough that each strip
 * comes out as the whole image would give it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FloatImage } from '../model/runner';
import { blockKernels } from '../runtime/wasm-kernels';
import { B, BB, BLOCK_TRANSFORMS, BlockTransform, bandCoeffs, blockOrigins, fromPlanes, Grid, kernelRegion, makeGrid, normalize, planBands, planStrips, rowRange, scatterAdd, coverBlocks, toPlanes, withDct, Dct } from './blocks';

/** Options of one pass; the defaults are DEFAULT_COLLAB's, by step (with a pilot or without). */
export interface CollabOptions {
  /** Grid stride in pixels, 1..8 (default 3 without a pilot, 2 with one). */
  stride?: number;
  /** How far group members may lie from the reference, in grid steps (default 4 without a pilot, 5 with one). */
  reach?: number;
  /** Most blocks in a group: 1, 2, 4, 8, 16 or 32 (default 8 without a pilot, 16 with one). */
  group?: number;
  /**
   * References every `refStep` grid steps (and the last block of each row and column); members
   * still from every block of the grid (default 1: every block is a reference). BM3D's design is
   * stride 1 with refStep 3: references every 3 pixels, members at any pixel.
   */
  refStep?: number;
  /**
   * The shrinkage: 'wiener' (the default with a pilot) or 'hard' (without one; with a pilot,
   * hard thresholding of the noisy groups matched on the pilot).
   */
  shrink?: 'hard' | 'wiener';
  /**
   * The 2-D transform of the blocks: 'dct', 'haar' (the 3-level Haar wavelet) or 'bior' (BM3D's
   * bior1.5 wavelet, 3 levels). Default: bior1.5 for hard thresholding without a pilot (as in
   * BM3D's first step), the DCT with one.
   */
  transform?: BlockTransform;
  /** Beta of the Kaiser window weighing each block's pixels when estimates are put back (default: BM3D's 2 without a pilot, 0 (flat) with one). */
  kaiser?: number;
  /** Hard threshold in sigmas (default 2.7, BM3D's). */
  lambda?: number;
  /** Pixels per tile processed at a time (the result does not depend on it). */
  stripPixels?: number;
  /** Columns per band of a wide image (default 768; the result does not depend on it). */
  bandColumns?: number;
  /** Where the grid starts, in pixels from the top left corner, 0 (default) to stride - 1 (a block at 0 is added). */
  offset?: number;
  /** Output rows [from, to) only (default all): the image returned is that high, its rows those the whole image would have. */
  rows?: readonly [number, number];
  /** @internal Use the JavaScript loops even where the WebAssembly kernel runs (the tests compare the two). */
  js?: boolean;
  /** Reference rows done out of the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Defaults of the two steps (bench/collab-tune.js on held-out training images). The first
 * step (no pilot) only feeds the guide of the second: on a stride-3 grid (BM3D's own step),
 * groups of up to 8 within 12 pixels, it scores as well as on the stride-2 grid in less than
 * half the time (session 6). The second step (with a pilot) makes the output: stride 2, within
 * 10 pixels. With session 11's bior1.5 first step a denser first step guides better (every
 * pixel a member, references every 4 pixels within 12: +0.05 / +0.05 / +0.07 dB at sigma
 * 15 / 25 / 50), but a batch of photos took 15 to 20% longer: left out of the default.
 */
export const DEFAULT_COLLAB = { hard: { stride: 3, refStep: 1, reach: 4, group: 8 }, wiener: { stride: 2, refStep: 1, reach: 5, group: 16 } };

/** How the collaborative stage finds the members of a group. */
export type CollabSearch = 'grid' | 'dense';
export const COLLAB_SEARCHES: readonly CollabSearch[] = ['grid', 'dense'];

/**
 * The `dense` search, BM3D's: members at any pixel within 16 of their reference, groups of up
 * to 16 (first step) and 32 (second); references every 3 pixels in the first step (BM3D's
 * step) and every 2 in the second. On 4 held-out training images at sigma 15 / 25 / 50 it
 * scores 33.20 / 30.31 / 26.85 dB against 33.08 / 30.18 / 26.68 for the grids of
 * DEFAULT_COLLAB (session 11, both with the bior1.5 first step; session 9, with the Haar one:
 * 33.16 / 30.25 / 26.75 against 33.04 / 30.11 / 26.60; references every 3 pixels in both
 * steps: 33.12 / 30.21 / 26.74; every pixel in the second: 30.26 at sigma 25 for 3 times the
 * time), for about 5 times the stage's time (docs/MODEL.md).
 */
export const DENSE_COLLAB = { hard: { stride: 1, refStep: 3, reach: 16, group: 16 }, wiener: { stride: 1, refStep: 2, reach: 16, group: 32 } };
const DEFAULT_LAMBDA = 2.7;
/**
 * The transform of the first step (hard thresholding, no pilot); see CollabOptions.transform.
 * On 4 held-out training images the Haar wavelet's first step scored the same alone as the
 * DCT's, but guided the second step better: +0.02 / +0.04 / +0.02 dB at sigma 15 / 25 / 50
 * with the grid search, +0.04 / +0.04 / +0.03 with the dense one (session 9). BM3D's bior1.5
 * in its 2-D form (each level on the previous one's lowpass corner), with BM3D's Kaiser window,
 * lifts the dense first step alone from 29.52 to 29.75 dB at sigma 25 (the reference BM3D's
 * own: 29.76), and the result from 30.25 to 30.31 (session 11, docs/MODEL.md). The Wiener step
 * keeps the DCT: with Haar it lost 0.35 dB at sigma 25.
 */
const DEFAULT_BASIC_TRANSFORM: BlockTransform = 'bior';
/** Pixels per tile (plus margins): about 2.3 KB per block (noisy, pilot and summed coefficients of 3 planes). */
const STRIP_PIXELS = 256 * 1024;
/** Columns per band of a wide image (plus margins). */
const BAND_COLS = 768;
/** Largest distance to the reference per pixel, on the 0..255 scale of the mean of R, G and B: BM3D's thresholds (hard, Wiener) for sigma up to 40, and beyond. */
const TAU = { hard: [2500, 5000], wiener: [400, 3500] };

const C3 = 3 * BB;
/** Reference rows the stride-1 kernel matches at a time (their squared differences shared). */
const CHUNK = 8;
/** Beta of the Kaiser window that weighs a block's pixels when they are put back (0: flat). */
const DEFAULT_KAISER = 0;
/** The same for the first step (no pilot): BM3D's 2. */
const DEFAULT_BASIC_KAISER = 2;

/** The 8x8 Kaiser window of parameter beta (BM3D's is 2), row-major; all ones at 0. */
function kaiser(beta: number): Float32Array {
  const i0 = (x: number) => {
    let sum = 1;
    let term = 1;
    for (let k = 1; k < 30; k++) {
      term *= (x / (2 * k)) ** 2;
      sum += term;
    }
    return sum;
  };
  const w = Array.from({ length: B }, (_, n) => i0(beta * Math.sqrt(1 - ((2 * n) / (B - 1) - 1) ** 2)) / i0(beta));
  return Float32Array.from({ length: BB }, (_, k) => w[k >> 3] * w[k & 7]);
}

/**
 * The matching threshold on the sum of squared differences of a block's 64 luma coefficients
 * (the model's scale). BM3D's thresholds apply to the mean of R, G and B; our luma is the
 * orthonormal (R + G + B) / sqrt(3), whose squared differences are 3 times larger. Session 5
 * compared without that factor, 3 times stricter than BM3D: with it, +0.02 to +0.06 dB on
 * held-out images (bench/collab-tune.js), for about 10% more time in the stage.
 */
const tau = (o: Shrink) => (3 * (o.guided ? TAU.wiener : TAU.hard)[o.sigma * 255 > 40 ? 1 : 0] * BB) / (255 * 255);

/** Unnormalised Walsh-Hadamard transform across the n (a power of 2) rows of 192 of `a`, in place. */
function wht(a: Float32Array, n: number): void {
  for (let h = 1; h < n; h *= 2)
    for (let i = 0; i < n; i += 2 * h)
      for (let j = i; j < i + h; j++) {
        const r0 = j * C3;
        const r1 = (j + h) * C3;
        for (let k = 0; k < C3; k++) {
          const x = a[r0 + k];
          const y = a[r1 + k];
          a[r0 + k] = x + y;
          a[r1 + k] = x - y;
        }
      }
}

/** Every block's DCT coefficients, the 3 planes side by side: [block * 192 + plane * 64 + k]. */
function coefficients(planes: Float32Array[], g: Grid, fwd: tf.Tensor2D): Float32Array {
  const out = new Float32Array(g.xs.length * g.ys.length * C3);
  let first = 0;
  g.bands.forEach((bandYs, bi) => {
    const m = bandYs.length * g.xs.length;
    const t = bandCoeffs(planes, g, bi, fwd);
    const d = t.dataSync() as Float32Array;
    t.dispose();
    for (let c = 0; c < 3; c++) for (let b = 0; b < m; b++) out.set(d.subarray((c * m + b) * BB, (c * m + b + 1) * BB), (first + b) * C3 + c * BB);
    first += m;
  });
  return out;
}

/**
 * Filters `noisy` (the model's scale, sigma too): with a pilot, a collaborative Wiener pass
 * guided by it; without, hard thresholding. Images under 8 pixels either way come back as they are.
 */
export function collaborativeFilter(noisy: FloatImage, pilot: FloatImage | null, sigma: number, opts: CollabOptions = {}): FloatImage {
  const defaults = pilot ? DEFAULT_COLLAB.wiener : DEFAULT_COLLAB.hard;
  const stride = opts.stride ?? defaults.stride;
  const reach = opts.reach ?? defaults.reach;
  const group = opts.group ?? defaults.group;
  const lambda = opts.lambda ?? DEFAULT_LAMBDA;
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= B)) throw new Error(`collaborative filter: stride must be an integer from 1 to ${B}, got ${String(opts.stride)}`);
  if (!(Number.isInteger(reach) && reach >= 0 && reach <= 16)) throw new Error(`collaborative filter: reach must be an integer from 0 to 16, got ${String(opts.reach)}`);
  const refStep = opts.refStep ?? defaults.refStep;
  if (!(Number.isInteger(refStep) && refStep >= 1 && refStep <= 8)) throw new Error(`collaborative filter: refStep must be an integer from 1 to 8, got ${String(opts.refStep)}`);
  if (![1, 2, 4, 8, 16, 32].includes(group)) throw new Error(`collaborative filter: group must be 1, 2, 4, 8, 16 or 32, got ${String(opts.group)}`);
  if (!(lambda > 0)) throw new Error(`collaborative filter: lambda must be positive, got ${String(opts.lambda)}`);
  if (pilot && (noisy.width !== pilot.width || noisy.height !== pilot.height)) throw new Error('collaborative filter: the noisy image and the pilot differ in size');
  const W = noisy.width;
  const H = noisy.height;
  const [r0, r1] = rowRange(opts.rows, H, 'collaborative filter');
  const base = pilot ?? noisy;
  if (W < B || H < B || !(sigma > 0)) return opts.rows ? { width: W, height: r1 - r0, data: base.data.slice(r0 * W * 3, r1 * W * 3) } : base;
  const offset = opts.offset ?? 0;
  if (!(Number.isInteger(offset) && offset >= 0 && offset < stride)) throw new Error(`collaborative filter: offset must be an integer from 0 to stride - 1, got ${String(opts.offset)}`);
  // A reference's members lie within reach steps of it, and a pixel gets estimates from the
  // members covering it: an output pixel depends on pixels within 2 * reach * stride + 8.
  // The image goes through in tiles (bands of columns on wide images, strips of rows) with
  // that margin on every side, so each comes out as the whole image would give it.
  const margin = 2 * reach * stride + B + 2;
  // A stride-1 grid holds 4 times the blocks of a stride-2 one per pixel: half the pixels per tile.
  const pixels = opts.stripPixels ?? STRIP_PIXELS * Math.min(1, (stride * stride) / 2);
  const xs = blockOrigins(W, stride, offset);
  const ys = blockOrigins(H, stride, offset);
  const bands = planBands(W, xs, margin, Math.max(opts.bandColumns ?? BAND_COLS, 2 * margin));
  const tiles = bands.flatMap((band) => planStrips(band.right - band.left, H, ys, margin, Math.max(pixels, 2 * margin * (band.right - band.left)), r0, r1).map((strip) => ({ band, strip })));
  const total = tiles.reduce((n, t) => n + t.strip.ys.length, 0);
  let done = 0;
  const tick = opts.onProgress ? () => opts.onProgress!(++done, total) : undefined;
  const out = new Float32Array(W * (r1 - r0) * 3);
  const transform = opts.transform ?? (pilot ? 'dct' : DEFAULT_BASIC_TRANSFORM);
  if (!BLOCK_TRANSFORMS.includes(transform)) throw new Error(`collaborative filter: transform must be ${BLOCK_TRANSFORMS.join(', ')}, got ${String(opts.transform)}`);
  const shrink: Shrink = { hard: !pilot || opts.shrink === 'hard', guided: !!pilot, sigma, lambda, group, reach, transform, js: opts.js, dense: stride === 1, window: kaiser(opts.kaiser ?? (pilot ? DEFAULT_KAISER : DEFAULT_BASIC_KAISER)) };
  // Which block origins are references, by absolute position: every refStep-th of the image's
  // origins along each axis and the last one (so that every pixel is covered by a reference).
  const refAt = (all: number[]) => new Set(all.filter((_, k) => k % refStep === 0 || k === all.length - 1));
  const refXs = refStep > 1 ? refAt(xs) : null;
  const refYs = refStep > 1 ? refAt(ys) : null;
  // References whose groups can reach a tile's output (members lie within reach grid steps,
  // that is reach x stride pixels, and cover 8): the others only feed the margins.
  const near = reach * stride;
  const useful = (at: number, from: number, to: number, set: Set<number> | null) => +(at - near < to && at + near + B > from && (!set || set.has(at)));
  withDct((dct) => {
    for (const { band, strip: s } of tiles) {
      const w = band.right - band.left;
      const g = makeGrid(w, s.bottom - s.top, band.xs, s.ys);
      const refs = { x: Uint8Array.from(band.xs, (x) => useful(band.left + x, band.l, band.r, refXs)), y: Uint8Array.from(s.ys, (y) => useful(s.top + y, s.a, s.b, refYs)) };
      const n = toPlanes(noisy, s.top, s.bottom, band.left, band.right);
      const p = pilot ? toPlanes(pilot, s.top, s.bottom, band.left, band.right) : n;
      const r = (shrink.js ? null : filterRegionWasm(n, p, g, shrink, refs, tick)) ?? filterRegion(n, p, g, shrink, dct, refs, tick);
      fromPlanes(r, w, s.a - s.top, s.b - s.a, out, s.a - r0, { fromX: band.l - band.left, cols: band.r - band.l, outWidth: W, toX: band.l });
    }
  }, transform);
  return { width: W, height: r1 - r0, data: out };
}

/** Which block columns and rows of a region are references (1) or only members (0). */
interface Refs {
  x: Uint8Array;
  y: Uint8Array;
}

interface Shrink {
  hard: boolean;
  /** Blocks are matched on a pilot (else on the noisy image). */
  guided: boolean;
  transform: BlockTransform;
  /** Weights of a block's pixels when its estimates are put back (8x8, row-major). */
  window: Float32Array;
  sigma: number;
  lambda: number;
  group: number;
  reach: number;
  /** The JavaScript loops even where the WebAssembly kernel runs (tests). */
  js?: boolean;
  /** A stride-1 grid: blocks are matched on the luma pixels (offset by offset in the kernel). */
  dense: boolean;
}

/** The pass over one region (all columns, some rows) given as planes; `p` is `n` for hard thresholding. */
function filterRegion(n: Float32Array[], p: Float32Array[], g: Grid, o: Shrink, dct: Dct, refs: Refs, tick?: () => void): Float32Array[] {
  const nx = g.xs.length;
  const ny = g.ys.length;
  const nb = nx * ny;
  const N = coefficients(n, g, dct.fwd);
  const P = o.guided ? coefficients(p, g, dct.fwd) : N;
  const { acc, wsum } = groupsJs(N, P, nx, ny, o, tau(o), refs, tick, o.dense ? { luma: p[0], width: g.W } : undefined);
  // Back to pixels: the summed block estimates through one inverse DCT, over the summed weights.
  const num = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const den = [new Float32Array(g.W * g.H), new Float32Array(g.W * g.H), new Float32Array(g.W * g.H)];
  const wc = [new Float32Array(nb), new Float32Array(nb), new Float32Array(nb)];
  for (let b = 0; b < nb; b++) for (let c = 0; c < 3; c++) wc[c][b] = wsum[b * 3 + c];
  let first = 0;
  for (const bandYs of g.bands) {
    const m = bandYs.length * nx;
    const rows = new Float32Array(3 * m * BB);
    for (let c = 0; c < 3; c++) for (let b = 0; b < m; b++) rows.set(acc.subarray((first + b) * C3 + c * BB, (first + b) * C3 + (c + 1) * BB), (c * m + b) * BB);
    const outT = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [3 * m, BB]), dct.inv));
    const px = outT.dataSync() as Float32Array;
    outT.dispose();
    for (let i = 0; i < px.length; i++) px[i] *= o.window[i & (BB - 1)];
    scatterAdd(px, num, g, bandYs);
    for (let c = 0; c < 3; c++) coverBlocks(den[c], g, bandYs, wc[c], first, o.window);
    first += m;
  }
  return normalize(num, (c) => den[c], p);
}

/** Squared distance of two blocks' luma coefficients (at ro and co of P), stopping once at `limit`. */
function coefDistance(P: Float32Array, ro: number, co: number, limit: number): number {
  let d = 0;
  for (let k = 0; k < BB && d < limit; k++) {
    const e = P[ro + k] - P[co + k];
    d += e * e;
  }
  return d;
}

/**
 * Squared distance of the 8x8 luma pixels of the blocks at (x0, y0) and (x1, y1) of a plane
 * `width` wide (a stride-1 grid: block origins are pixels), stopping once at `limit` after a row.
 */
function pixelDistance(Y: Float32Array, width: number, x0: number, y0: number, x1: number, y1: number, limit: number): number {
  let d = 0;
  for (let r = 0; r < B && d < limit; r++)
    for (let c = 0, a = (y0 + r) * width + x0, b = (y1 + r) * width + x1; c < B; c++) {
      const e = Y[a + c] - Y[b + c];
      d += e * e;
    }
  return d;
}

/** The groups of every reference block, in JavaScript (what the WebAssembly kernel does, where it is missing). */
function groupsJs(N: Float32Array, P: Float32Array, nx: number, ny: number, o: Shrink, tau: number, refs: Refs, tick?: () => void, pixels?: { luma: Float32Array; width: number }): { acc: Float32Array; wsum: Float32Array } {
  const nb = nx * ny;
  const s2 = o.sigma * o.sigma;
  const acc = new Float32Array(nb * C3);
  const wsum = new Float32Array(nb * 3);
  const K = o.group;
  const candD = new Float32Array(K + 1);
  const candB = new Int32Array(K + 1);
  const G = new Float32Array(K * C3);
  const Q = new Float32Array(K * C3);
  const wt = new Float32Array(3);
  const R = o.reach;
  for (let iy = 0; iy < ny; iy++) {
    if (!refs.y[iy]) {
      tick?.();
      continue;
    }
    for (let ix = 0; ix < nx; ix++) {
      if (!refs.x[ix]) continue;
      const ref = iy * nx + ix;
      const ro = ref * C3;
      // The K nearest blocks within tau (luma coefficients of the pilot, or of the noisy
      // image), kept sorted; the reference first.
      candD[0] = -1;
      candB[0] = ref;
      let m = 1;
      for (let jy = Math.max(0, iy - R); jy <= Math.min(ny - 1, iy + R); jy++)
        for (let jx = Math.max(0, ix - R); jx <= Math.min(nx - 1, ix + R); jx++) {
          const cb = jy * nx + jx;
          if (cb === ref) continue;
          const limit = m === K ? candD[K - 1] : tau;
          const d = pixels ? pixelDistance(pixels.luma, pixels.width, ix, iy, jx, jy, limit) : coefDistance(P, ro, cb * C3, limit);
          if (d >= limit) continue;
          let i = m < K ? m++ : K - 1;
          while (i > 1 && candD[i - 1] > d) {
            candD[i] = candD[i - 1];
            candB[i] = candB[i - 1];
            i--;
          }
          candD[i] = d;
          candB[i] = cb;
        }
      let gn = 1;
      while (gn * 2 <= m) gn *= 2;
      for (let t = 0; t < gn; t++) {
        G.set(N.subarray(candB[t] * C3, candB[t] * C3 + C3), t * C3);
        if (!o.hard) Q.set(P.subarray(candB[t] * C3, candB[t] * C3 + C3), t * C3);
      }
      wht(G, gn);
      if (o.hard) {
        // The unnormalised transform scales coefficients by sqrt(gn).
        const thr = o.lambda * o.sigma * Math.sqrt(gn);
        for (let c = 0; c < 3; c++) {
          let kept = 0;
          for (let t = 0; t < gn; t++)
            for (let k = t * C3 + c * BB, e = k + BB; k < e; k++) {
              if (Math.abs(G[k]) < thr) G[k] = 0;
              else kept++;
            }
          wt[c] = 1 / Math.max(1, kept);
        }
      } else {
        wht(Q, gn);
        const ns2 = gn * s2;
        for (let c = 0; c < 3; c++) {
          let sw = 0;
          for (let t = 0; t < gn; t++)
            for (let k = t * C3 + c * BB, e = k + BB; k < e; k++) {
              const q = Q[k] * Q[k];
              const w = q / (q + ns2);
              G[k] *= w;
              sw += w * w;
            }
          wt[c] = 1 / Math.max(sw, 1e-6);
        }
      }
      wht(G, gn);
      // The inverse transform is the forward one over gn.
      for (let t = 0; t < gn; t++) {
        const mo = candB[t] * C3;
        for (let c = 0; c < 3; c++) {
          const w = wt[c] / gn;
          for (let k = c * BB, e = k + BB; k < e; k++) acc[mo + k] += w * G[t * C3 + k];
          wsum[candB[t] * 3 + c] += wt[c];
        }
      }
    }
    tick?.();
  }
  return { acc, wsum };
}

/**
 * filterRegion in WebAssembly SIMD (scripts/gen-wasm-kernels.js: the DCTs, the groups and the
 * inverse DCTs with their sums), or null where the kernel is not available.
 */
function filterRegionWasm(n: Float32Array[], p: Float32Array[], g: Grid, o: Shrink, refs: Refs, tick?: () => void): Float32Array[] | null {
  const k = blockKernels();
  if (!k) return null;
  const nx = g.xs.length;
  const ny = g.ys.length;
  const nb = nx * ny;
  // A stride-1 grid matches offset by offset on the luma plane, CHUNK reference rows at a time
  // (references are at most 8 rows apart: a chunk's rows span at most CHUNK x 8 + 8).
  const { dense } = o;
  const refCols = [...refs.x.keys()].filter((x) => refs.x[x]);
  const refRows = [...refs.y.keys()].filter((y) => refs.y[y]);
  const span = Math.min(CHUNK, refRows.length) * B + B;
  const r = kernelRegion(k, g, (size) => ({
    noisy: size.planes,
    pilot: o.guided ? size.planes : 0,
    win: BB * 4,
    N: size.blocks,
    P: o.guided ? size.blocks : 0,
    A: size.blocks,
    W: nb * 12,
    num: size.planes,
    den: size.planes,
    S: 256 * o.group + 512 + (dense ? 4 * (g.W + 16) * (span + 1) + 4 * (nx + 8) * (2 + CHUNK) + 4 * CHUNK * refCols.length * (1 + 2 * o.group) : 8 * (o.group + 1)),
    rows: dense ? 4 * CHUNK : 0,
    cols: nx * 4,
  }));
  if (!dense) new Int32Array(r.buf, r.off.cols, nx).set(refs.x);
  const { A, W, num, den, S } = r.off;
  const N = r.off.N;
  const P = o.guided ? r.off.P : N;
  r.put(r.off.noisy, n);
  if (o.guided) r.put(r.off.pilot, p);
  r.floats(r.off.win, BB).set(o.window);
  r.floats(A, (S - A) / 4).fill(0);
  r.dct8(r.off.noisy, N, o.transform);
  if (o.guided) r.dct8(r.off.pilot, P, o.transform);
  if (dense) {
    new Int32Array(r.buf, r.off.cols, refCols.length).set(refCols);
    const Y = o.guided ? r.off.pilot : r.off.noisy;
    let y = 0;
    for (let c = 0; c < refRows.length; c += CHUNK) {
      const rows = refRows.slice(c, c + CHUNK);
      new Int32Array(r.buf, r.off.rows, rows.length).set(rows);
      k.runDense(N, P, Y, A, W, S, g.W, nx, ny, o.reach, o.group, o.hard ? 1 : 0, tau(o), o.lambda * o.sigma, o.sigma * o.sigma, r.off.rows, rows.length, r.off.cols, refCols.length);
      for (const last = rows[rows.length - 1]; y <= last; y++) tick?.();
    }
    for (; y < ny; y++) tick?.();
  } else
    for (let y = 0; y < ny; y++) {
      if (refs.y[y]) k.run(N, P, A, W, S, nx, ny, o.reach, o.group, o.hard ? 1 : 0, tau(o), o.lambda * o.sigma, o.sigma * o.sigma, y, y + 1, r.off.cols);
      tick?.();
    }
  r.idct8add(A, W, num, den, r.off.win, o.transform);
  return normalize(r.take(num), (c) => r.plane(den, c), p);
}
