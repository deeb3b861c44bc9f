/**
 * 8x8 blocks of an image for the denoiser's transform-domain stages (wiener.ts, collab.ts):
 * opponent colour planes, a grid of block origins at a stride, gathering blocks into rows of
 * 64 and putting them back, their 2-D DCT as one 64x64 matMul per band of blocks (tfjs, so it
 * runs on the backend's fast matMul), and the plan of strips of rows in which an image goes
 * through so that memory does not grow with its size.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FloatImage } from '../model/runner';
import type { BlockKernels } from '../runtime/wasm-kernels';

export const B = 8;
export const BB = B * B;
/** Blocks per matMul (times 3 planes): a few MB per band whatever the image size. */
const BAND_BLOCKS = 4096;

/** Orthonormal opponent colour transform (rows: luma, red-blue, green against red+blue): the noise stays white with the same sigma in every plane. */
const OPP = [
  [1 / Math.sqrt(3), 1 / Math.sqrt(3), 1 / Math.sqrt(3)],
  [1 / Math.sqrt(2), 0, -1 / Math.sqrt(2)],
  [1 / Math.sqrt(6), -2 / Math.sqrt(6), 1 / Math.sqrt(6)],
];

/**
 * A block transform: the orthonormal 8x8 DCT-II, the orthonormal 3-level Haar wavelet, or
 * BM3D's first-step wavelet, bior1.5 (2-D, periodic, 3 levels; nearly orthonormal).
 */
export type BlockTransform = 'dct' | 'haar' | 'bior';
export const BLOCK_TRANSFORMS: readonly BlockTransform[] = ['dct', 'haar', 'bior'];

/** The orthonormal 8-point transform's matrix, c[k * 8 + n] (row k: the k-th basis vector). */
function rows1d(kind: 'dct' | 'haar'): Float64Array {
  const c = new Float64Array(BB);
  if (kind === 'dct') {
    for (let k = 0; k < B; k++) for (let n = 0; n < B; n++) c[k * B + n] = (k === 0 ? Math.sqrt(1 / B) : Math.sqrt(2 / B)) * Math.cos((Math.PI * (2 * n + 1) * k) / (2 * B));
    return c;
  }
  // Haar: the mean, then differences of halves, of quarters and of neighbours, each normalised.
  for (let n = 0; n < B; n++) {
    c[n] = Math.sqrt(1 / 8);
    c[B + n] = (n < 4 ? 1 : -1) * Math.sqrt(1 / 8);
    c[(2 + (n >> 2)) * B + n] = ((n >> 1) & 1 ? -1 : 1) * 0.5;
    c[(4 + (n >> 1)) * B + n] = (n & 1 ? -1 : 1) * Math.SQRT1_2;
  }
  return c;
}

/** The 2-D 8x8 transform as a 64x64 matrix acting on row vectors of a block's pixels (row-major), and its inverse. */
function blockMatrices(kind: BlockTransform): { fwd: Float32Array; inv: Float32Array } {
  if (kind === 'bior') return biorMatrices();
  const c = rows1d(kind);
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

/** One level of the periodic bior1.5 analysis on n points (n x n): rows j < n/2 the lowpass at 2j, rows n/2 + j the highpass. */
function biorLevel(n: number): Float64Array {
  const lo = [3, -3, -22, 22, 128, 128, 22, -22, -3, 3].map((v) => v / (Math.SQRT2 * 128));
  const m = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const j = r < n / 2 ? r : r - n / 2;
    for (let k = 0; k < 10; k++) {
      const f = r < n / 2 ? lo[k] : k === 4 ? -Math.SQRT1_2 : k === 5 ? Math.SQRT1_2 : 0;
      m[r * n + ((((2 * j + k - 4) % n) + n) % n)] += f;
    }
  }
  return m;
}

/** Solves for the inverse of the n x n matrix `a` (Gauss-Jordan with partial pivoting). */
function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let j = 0; j < n; j++) {
      [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [inv[c * n + j], inv[p * n + j]] = [inv[p * n + j], inv[c * n + j]];
    }
    const d = m[c * n + c];
    for (let j = 0; j < n; j++) {
      m[c * n + j] /= d;
      inv[c * n + j] /= d;
    }
    for (let r = 0; r < n; r++) {
      const f = m[r * n + c];
      if (r === c || f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[r * n + j] -= f * m[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/**
 * The 2-D bior1.5 transform of an 8x8 block as a 64x64 matrix on row vectors of pixels, and
 * its inverse: each level filters the rows, then the columns, of the previous level's lowpass
 * corner (8x8, 4x4, 2x2), periodic within the block; the coefficients keep their places
 * (u * 8 + v, the lowest band at 0). The WebAssembly kernels bior8 / ibior8add do the same.
 */
function biorMatrices(): { fwd: Float32Array; inv: Float32Array } {
  const levels = [8, 4, 2].map((n) => ({ n, m: biorLevel(n) }));
  const fwd64 = new Float64Array(BB * BB);
  for (let p = 0; p < BB; p++) {
    const a = new Float64Array(BB);
    a[p] = 1;
    for (const { n, m } of levels) {
      const t = Float64Array.from(a);
      for (let u = 0; u < n; u++)
        for (let v = 0; v < n; v++) {
          let sum = 0;
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum += m[u * n + i] * m[v * n + j] * a[i * B + j];
          t[u * B + v] = sum;
        }
      a.set(t);
    }
    fwd64.set(a, p * BB);
  }
  return { fwd: Float32Array.from(fwd64), inv: Float32Array.from(invert(fwd64, BB)) };
}

const matrices: Partial<Record<BlockTransform, { fwd: Float32Array; inv: Float32Array }>> = {};

export interface Dct {
  readonly fwd: tf.Tensor2D;
  readonly inv: tf.Tensor2D;
}

/**
 * Runs `f` with the DCT matrices (or another transform's) as tensors, made on first use (the
 * WebAssembly block kernels need none) and disposed after.
 */
export function withDct<T>(f: (dct: Dct) => T, kind: BlockTransform = 'dct'): T {
  const m = (matrices[kind] ??= blockMatrices(kind));
  const made: { fwd?: tf.Tensor2D; inv?: tf.Tensor2D } = {};
  const dct: Dct = {
    // Kept: a first use inside a tf.tidy must not dispose them for the later ones.
    get fwd() {
      return (made.fwd ??= tf.keep(tf.tensor2d(m.fwd, [BB, BB])));
    },
    get inv() {
      return (made.inv ??= tf.keep(tf.tensor2d(m.inv, [BB, BB])));
    },
  };
  try {
    return f(dct);
  } finally {
    made.fwd?.dispose();
    made.inv?.dispose();
  }
}

/** Block origins along one axis: every `stride` pixels from `offset` (and 0 first), and the last block flush with the edge. */
export function blockOrigins(n: number, stride: number, offset = 0): number[] {
  const out: number[] = offset > 0 && n >= B ? [0] : [];
  for (let i = offset; i + B <= n; i += stride) out.push(i);
  if (out.length && out[out.length - 1] !== n - B) out.push(n - B);
  return out;
}

/** Rows [top, bottom) and columns [left, right) (default all) of an RGB image as three opponent-colour planes. */
export function toPlanes(img: FloatImage, top: number, bottom: number, left = 0, right = img.width): Float32Array[] {
  const w = right - left;
  const n = w * (bottom - top);
  const planes = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const d = img.data;
  for (let y = top, i = 0; y < bottom; y++)
    for (let x = left, o = (y * img.width + left) * 3; x < right; x++, i++, o += 3) {
      const r = d[o];
      const g = d[o + 1];
      const b = d[o + 2];
      for (let c = 0; c < 3; c++) planes[c][i] = OPP[c][0] * r + OPP[c][1] * g + OPP[c][2] * b;
    }
  return planes;
}

/**
 * Writes plane rows [from, from + rows) and columns [fromX, fromX + cols) (planes `width`
 * wide) back as RGB into `out` (`outWidth` wide) at row `to`, column `toX`.
 */
export function fromPlanes(planes: Float32Array[], width: number, from: number, rows: number, out: Float32Array, to: number, region?: { fromX: number; cols: number; outWidth: number; toX: number }): void {
  const { fromX = 0, cols = width, outWidth = width, toX = 0 } = region ?? {};
  for (let y = 0; y < rows; y++) {
    const src = (from + y) * width + fromX;
    const dst = ((to + y) * outWidth + toX) * 3;
    for (let i = 0; i < cols; i++) {
      const a = planes[0][src + i];
      const b = planes[1][src + i];
      const c = planes[2][src + i];
      for (let ch = 0; ch < 3; ch++) out[dst + i * 3 + ch] = OPP[0][ch] * a + OPP[1][ch] * b + OPP[2][ch] * c;
    }
  }
}

/** The blocks of a region: origins `xs` x `ys` in a W x H region, in bands of rows (one matMul each). */
export interface Grid {
  W: number;
  H: number;
  xs: number[];
  ys: number[];
  /** Bands of block rows, each one matMul. */
  bands: number[][];
  /** How many blocks cover each pixel (computed on first use). */
  readonly count: Float32Array;
}

export function makeGrid(W: number, H: number, xs: number[], ys: number[]): Grid {
  const rowsPerBand = Math.max(1, Math.floor(BAND_BLOCKS / xs.length));
  const bands: number[][] = [];
  for (let r = 0; r < ys.length; r += rowsPerBand) bands.push(ys.slice(r, r + rowsPerBand));
  let count: Float32Array | null = null;
  const g: Grid = {
    W,
    H,
    xs,
    ys,
    bands,
    get count(): Float32Array {
      if (!count) {
        count = new Float32Array(W * H);
        coverBlocks(count, g, ys);
      }
      return count;
    },
  };
  return g;
}

/** How many bands `ys` makes over `xs` block columns (as makeGrid cuts them). */
export function bandCount(xs: number, ys: number): number {
  return Math.ceil(ys / Math.max(1, Math.floor(BAND_BLOCKS / xs)));
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
export function scatterAdd(blocks: Float32Array, planes: Float32Array[], g: Grid, bandYs: number[]): void {
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
export function bandCoeffs(planes: Float32Array[], g: Grid, bi: number, fwd: tf.Tensor2D): tf.Tensor2D {
  const m = g.bands[bi].length * g.xs.length;
  return tf.tidy(() => tf.matMul(tf.tensor2d(gather(planes, g, g.bands[bi]), [3 * m, BB]), fwd));
}

/** All blocks' DCT coefficients per plane ([plane][block * 64 + k], blocks row by row), band by band. */
export function allCoeffs(g: Grid, band: (bi: number) => tf.Tensor2D): Float32Array[] {
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

/**
 * Adds to every pixel of `target` the weight of each block of the rows `blockYs` covering it:
 * `weights[first + k]` for the k-th block (row by row), or 1 without weights, times
 * `window[pixel in block]` where a window is given.
 */
export function coverBlocks(target: Float32Array, g: Grid, blockYs: number[], weights?: Float32Array, first = 0, window?: Float32Array): void {
  let k = first;
  for (const y of blockYs)
    for (const x of g.xs) {
      const w = weights ? weights[k] : 1;
      k++;
      for (let i = 0; i < B; i++) {
        const o = (y + i) * g.W + x;
        for (let j = 0; j < B; j++) target[o + j] += window ? w * window[i * B + j] : w;
      }
    }
}

/** Divides each plane's sums by its weights; pixels with no weight (a strip margin's edges, never output) keep `fallback`. */
export function normalize(sums: Float32Array[], weights: (plane: number) => Float32Array, fallback: Float32Array[]): Float32Array[] {
  sums.forEach((p, c) => {
    const w = weights(c);
    for (let i = 0; i < p.length; i++) p[i] = w[i] > 0 ? p[i] / w[i] : fallback[c][i];
  });
  return sums;
}

/** Rows [a, b) of the output, computed from rows [top, bottom) of the input; `ys` the block rows inside, relative to `top`. */
export interface Strip {
  a: number;
  b: number;
  top: number;
  bottom: number;
  ys: number[];
}

/**
 * Cuts rows [from, to) of an image H rows high into strips of about `pixels` pixels, each
 * with `margin` rows of context above and below, and the block rows `ys` each holds whole.
 */
export function planStrips(W: number, H: number, ys: number[], margin: number, pixels: number, from = 0, to = H): Strip[] {
  const rows = Math.max(B, Math.ceil(pixels / W));
  const strips: Strip[] = [];
  for (let a = from; a < to; a += rows) {
    const b = Math.min(to, a + rows);
    const top = Math.max(0, a - margin);
    const bottom = Math.min(H, b + margin);
    strips.push({ a, b, top, bottom, ys: ys.filter((y) => y >= top && y + B <= bottom).map((y) => y - top) });
  }
  return strips;
}

/** Checks a range of output rows of an image `H` rows high (default: all of them). */
export function rowRange(rows: readonly [number, number] | undefined, H: number, what: string): [number, number] {
  if (!rows) return [0, H];
  const [a, b] = rows;
  if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a < b && b <= H)) throw new Error(`${what}: rows must be a range [from, to) within 0..${H}, got [${a}, ${b})`);
  return [a, b];
}

/** Columns [l, r) of the output, computed from columns [left, right) of the input; `xs` the block columns inside, relative to `left`. */
export interface Band {
  l: number;
  r: number;
  left: number;
  right: number;
  xs: number[];
}

/**
 * Cuts W columns into bands about `cols` wide (one band when W is under 1.5 times that), each
 * with `margin` columns of context on both sides, and the block columns `xs` each holds whole.
 */
export function planBands(W: number, xs: number[], margin: number, cols: number): Band[] {
  const n = Math.max(1, Math.round(W / cols));
  const bands: Band[] = [];
  for (let i = 0; i < n; i++) {
    const l = Math.round((i * W) / n);
    const r = Math.round(((i + 1) * W) / n);
    const left = Math.max(0, l - margin);
    const right = Math.min(W, r + margin);
    bands.push({ l, r, left, right, xs: xs.filter((x) => x >= left && x + B <= right).map((x) => x - left) });
  }
  return bands;
}

/**
 * A region laid out in the block kernels' memory (collab.ts, wiener.ts): the grid's origins
 * (written) and the row-DCT scratch, then the caller's areas in the order given, their sizes
 * in bytes from the size of a set of 3 planes and of a set of every block's 192 coefficients.
 * Offsets stay valid until the kernels' memory is reserved again.
 */
export function kernelRegion<K extends string>(k: BlockKernels, g: Grid, areas: (size: { planes: number; blocks: number }) => Record<K, number>) {
  const nx = g.xs.length;
  const ny = g.ys.length;
  const px = g.W * g.H;
  const planeBytes = px * 4;
  const sizes = areas({ planes: 3 * planeBytes, blocks: nx * ny * 3 * BB * 4 });
  let at = 0;
  const take = (bytes: number) => ((at += bytes), at - bytes);
  const oXs = take(nx * 4);
  const oYs = take(ny * 4);
  const oRows = take(3 * g.H * nx * 32);
  const off = {} as Record<K, number>;
  for (const name of Object.keys(sizes) as K[]) off[name] = take(sizes[name]);
  const buf = k.reserve(at);
  new Int32Array(buf, oXs, nx).set(g.xs);
  new Int32Array(buf, oYs, ny).set(g.ys);
  const plane = (o: number, c: number) => new Float32Array(buf, o + c * planeBytes, px);
  return {
    buf,
    off,
    /** Floats at byte offset `o`. */
    floats: (o: number, n: number) => new Float32Array(buf, o, n),
    /** Copies 3 planes in at `o`. */
    put: (o: number, planes: Float32Array[]) => planes.forEach((p, c) => plane(o, c).set(p)),
    /** Copies of the 3 planes at `o`. */
    take: (o: number) => [0, 1, 2].map((c) => plane(o, c).slice()),
    plane,
    /** dct8 (or haar8, bior8) of the grid's blocks of the planes at `src` into `dst`. */
    dct8: (src: number, dst: number, kind: BlockTransform = 'dct') => ({ dct: k.dct8, haar: k.haar8, bior: k.bior8 })[kind](src, planeBytes, g.W, g.H, oXs, nx, oYs, ny, oRows, dst),
    /** idct8add (or ihaar8add, ibior8add) of the grid's blocks at `coef` (weights `wsum`, window `win`) into the planes at `num` and `den`. */
    idct8add: (coef: number, wsum: number, num: number, den: number, win: number, kind: BlockTransform = 'dct') => ({ dct: k.idct8add, haar: k.ihaar8add, bior: k.ibior8add })[kind](coef, wsum, g.W, oXs, nx, oYs, ny, num, den, planeBytes, win),
  };
}
