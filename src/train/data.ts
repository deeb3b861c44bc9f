/**
 * Training data: every image decoded once into memory, random crops with horizontal
 * flips, and batches that mix the three uses of the model (see docs/MODEL.md):
 *  - rebuild: clean visible patches, a random or blob-shaped mask at ratios 0.5 to 0.875,
 *    loss on the removed patches (the reference objective; codec and inpainting);
 *  - denoise: Gaussian noise on the input (sigma 0 to 55 per sample), nothing removed,
 *    clean target for every patch (loss on all patches).
 */
import { MaeConfig, patchDim } from '../model/config';
import { argsort, lenKeepFor, maskFromShuffle } from '../model/masking';
import { hintFill } from '../image/fill';
import { cropResize, listImages, readRgb, RgbImage } from '../image/io';
import { patchify, pixelKnownMask } from '../image/patchify';
import { Rng } from '../util/rng';

export interface Dataset {
  train: RgbImage[];
  val: RgbImage[];
  trainNames: string[];
  valNames: string[];
}

/** Loads a folder; every `valEvery`-th image (by sorted name) is held out for validation. */
export async function loadDataset(dir: string, valEvery = 20, onProgress?: (done: number, total: number) => void): Promise<Dataset> {
  const files = listImages(dir);
  if (files.length < 2) throw new Error(`need at least 2 images in ${dir}, found ${files.length}`);
  const ds: Dataset = { train: [], val: [], trainNames: [], valNames: [] };
  for (let i = 0; i < files.length; i++) {
    const img = await readRgb(files[i]);
    if (i % valEvery === valEvery - 1) {
      ds.val.push(img);
      ds.valNames.push(files[i]);
    } else {
      ds.train.push(img);
      ds.trainNames.push(files[i]);
    }
    onProgress?.(i + 1, files.length);
  }
  if (ds.val.length === 0) {
    // Small folders: hold out the last image.
    ds.val.push(ds.train.pop()!);
    ds.valNames.push(ds.trainNames.pop()!);
  }
  return ds;
}

export type TaskKind = 'rebuild' | 'denoise';

export interface TrainBatch {
  batch: number;
  rows: number;
  cols: number;
  lenKeep: number;
  kind: TaskKind;
  input: Float32Array;
  target: Float32Array;
  hint: Float32Array;
  keep: Int32Array;
  restore: Int32Array;
  removed: Float32Array;
  weights: Float32Array;
}

export interface BatchSpec {
  kind: TaskKind;
  ratio: number;
  /** Per-sample noise sigma on the 0..255 scale (denoise). */
  sigma?: (rng: Rng) => number;
  blobShare?: number;
  /**
   * Holes at the pixel level (rebuild): the removed patches' area moved by a random offset under
   * a patch and cut back to those patches, so the patches at a hole's edge are only partly
   * unknown and the hint keeps their known pixels, as `mae inpaint` sees them.
   */
  holes?: boolean;
}

/**
 * The training mixture: `denoiseShare` denoise batches (default half), the rest rebuild
 * batches, `holeShare` of those (default none) with holes at the pixel level.
 */
export function sampleSpec(rng: Rng, denoiseShare = 0.5, holeShare = 0): BatchSpec {
  if (rng.next() < denoiseShare) {
    // Nothing removed, as the denoiser runs (until session 3, half of these batches also removed
    // half the patches; no command runs the model on noisy input with patches removed).
    return { kind: 'denoise', ratio: 0, sigma: (r) => (r.next() < 0.15 ? 0 : r.uniform(5, 55)) };
  }
  const ratios = [0.5, 0.625, 0.75, 0.75, 0.875];
  const spec: BatchSpec = { kind: 'rebuild', ratio: ratios[rng.int(ratios.length)], blobShare: 0.3 };
  // Drawn only when asked, so that runs without holes keep their random stream.
  if (holeShare > 0) spec.holes = rng.next() < holeShare;
  return spec;
}

/**
 * Mask noise over a grid of `rows` x `cols` patches (lowest values are kept): uniform, or a
 * blob (distance from a random centre inside the window, the `inner` x `inner` patches at
 * offset `off`, plus jitter).
 */
function maskNoise(rows: number, cols: number, blob: boolean, rng: Rng, off = 0, inner = rows): Float64Array {
  const noise = new Float64Array(rows * cols);
  if (!blob) {
    for (let i = 0; i < noise.length; i++) noise[i] = rng.next();
    return noise;
  }
  const cy = off + rng.uniform(0, inner);
  const cx = off + rng.uniform(0, inner);
  const sx = rng.uniform(0.5, 2);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) noise[r * cols + c] = -Math.hypot((r + 0.5 - cy) * sx, (c + 0.5 - cx) / sx) + rng.uniform(0, 1.5);
  return noise;
}

/** A random crop: side 1 to 1.5 times the window (mostly native scale), aspect 3/4 to 4/3, flipped half the time. */
export function randomCrop(img: RgbImage, size: number, rng: Rng, out?: Float32Array): Float32Array {
  const scale = rng.uniform(1, 1.5);
  const aspect = Math.exp(rng.uniform(Math.log(3 / 4), Math.log(4 / 3)));
  let w = size * scale * Math.sqrt(aspect);
  let h = size * scale / Math.sqrt(aspect);
  w = Math.min(w, img.width);
  h = Math.min(h, img.height);
  const x0 = rng.uniform(0, img.width - w);
  const y0 = rng.uniform(0, img.height - h);
  return cropResize(img, x0, y0, w, h, size, size, rng.next() < 0.5, out);
}

/**
 * Builds a batch of `B` samples from `images` following `spec`. With `context` > 0 (pixels, a
 * multiple of the patch size) each crop is that much larger on every side: the mask covers
 * the whole crop (the margin at the window's share of removed patches, blob masks extended),
 * the interpolation hint is computed on the whole crop, and the model gets the centre window.
 * This is how inference sees a window: its hint comes from the whole image (a hint from the
 * window alone is about 0.8 dB worse on removed pixels at ratio 0.75, measured on held-out
 * crops), so training on window-only hints teaches corrections inference does not need.
 */
export function makeBatch(images: RgbImage[], c: MaeConfig, B: number, spec: BatchSpec, rng: Rng, context = 0): TrainBatch {
  const S = c.windowSize;
  const p = c.patchSize;
  if (!(Number.isInteger(context) && context >= 0 && context % p === 0)) throw new RangeError(`context must be a non-negative multiple of the patch size ${p}, got ${context}`);
  const T = S + 2 * context;
  const m0 = context / p;
  const rows = S / p;
  const cols = S / p;
  const tRows = T / p;
  const L = rows * cols;
  const P = patchDim(c);
  const lenKeep = lenKeepFor(L, spec.ratio);
  const b: TrainBatch = {
    batch: B,
    rows,
    cols,
    lenKeep,
    kind: spec.kind,
    input: new Float32Array(B * L * P),
    target: new Float32Array(B * L * P),
    hint: new Float32Array(B * L * P),
    keep: new Int32Array(B * lenKeep),
    restore: new Int32Array(B * L),
    removed: new Float32Array(B * L),
    weights: new Float32Array(B * L),
  };
  const big = new Float32Array(T * T * 3);
  const crop = context ? new Float32Array(S * S * 3) : big;
  for (let i = 0; i < B; i++) {
    randomCrop(images[rng.int(images.length)], T, rng, big);
    if (context) cutWindow(big, T, context, S, crop);
    b.target.set(patchify(crop, S, S, 3, p), i * L * P);
    let noisy: Float32Array = crop;
    let noisyBig: Float32Array = big;
    if (spec.sigma) {
      const s = spec.sigma(rng) / 255;
      if (s > 0) {
        noisyBig = new Float32Array(big.length);
        for (let j = 0; j < big.length; j++) noisyBig[j] = big[j] + s * rng.normal();
        noisy = context ? cutWindow(noisyBig, T, context, S) : noisyBig;
      }
    }
    b.input.set(noisy === crop ? b.target.subarray(i * L * P, (i + 1) * L * P) : patchify(noisy, S, S, 3, p), i * L * P);
    const blob = !!spec.blobShare && rng.next() < spec.blobShare;
    const noise = maskNoise(tRows, tRows, blob, rng, m0, rows);
    const inner = context ? new Float64Array(L) : noise;
    if (context) for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) inner[r * cols + q] = noise[(r + m0) * tRows + q + m0];
    const order = argsort(inner);
    const m = maskFromShuffle(order, lenKeep);
    b.keep.set(m.keep, i * lenKeep);
    b.restore.set(m.restore, i * L);
    for (let l = 0; l < L; l++) {
      b.removed[i * L + l] = m.removed[l];
      b.weights[i * L + l] = spec.kind === 'denoise' ? 1 : m.removed[l];
    }
    if (lenKeep < L) {
      // Margin patches are visible where their noise is under the first removed window patch's.
      const cut = inner[order[lenKeep]];
      const removedBig = new Uint8Array(tRows * tRows);
      for (let r = 0; r < tRows; r++)
        for (let q = 0; q < tRows; q++) {
          const inside = r >= m0 && r < m0 + rows && q >= m0 && q < m0 + cols;
          removedBig[r * tRows + q] = inside ? m.removed[(r - m0) * cols + q - m0] : noise[r * tRows + q] >= cut ? 1 : 0;
        }
      const known = pixelKnownMask(removedBig, tRows, tRows, p);
      if (spec.holes) shiftHoles(known, T, rng.int(p), rng.int(p));
      const filled = hintFill(c.hint, noisyBig, T, T, 3, known, true);
      b.hint.set(patchify(context ? cutWindow(filled, T, context, S) : filled, S, S, 3, p), i * L * P);
    }
  }
  rng.sync();
  return b;
}

/**
 * Pixel-level holes from patch-level ones, in place on a T x T known-pixel mask: a pixel stays
 * unknown only if it and the pixel (dx, dy) before it were unknown, so every hole keeps within
 * the removed patches and the patches at its edges become partly known.
 */
export function shiftHoles(known: Uint8Array, T: number, dx: number, dy: number): void {
  if (dx === 0 && dy === 0) return;
  for (let y = T - 1; y >= 0; y--)
    for (let x = T - 1; x >= 0; x--) {
      const i = y * T + x;
      if (known[i]) continue;
      const sy = y - dy;
      const sx = x - dx;
      if (sy < 0 || sx < 0 || known[sy * T + sx]) known[i] = 2;
    }
  for (let i = 0; i < known.length; i++) if (known[i] === 2) known[i] = 1;
}

/** The `S` x `S` window at offset (`m`, `m`) of a `T` x `T` RGB float image. */
function cutWindow(img: Float32Array, T: number, m: number, S: number, out = new Float32Array(S * S * 3)): Float32Array {
  for (let y = 0; y < S; y++) out.set(img.subarray(((y + m) * T + m) * 3, ((y + m) * T + m + S) * 3), y * S * 3);
  return out;
}

/** Splits a batch into `parts` nearly equal sub-batches (for the worker threads). */
export function splitBatch(b: TrainBatch, parts: number): TrainBatch[] {
  const out: TrainBatch[] = [];
  const L = b.rows * b.cols;
  const P = b.input.length / (b.batch * L);
  let start = 0;
  for (let k = 0; k < parts; k++) {
    const n = Math.floor(b.batch / parts) + (k < b.batch % parts ? 1 : 0);
    if (n === 0) continue;
    const s = start;
    const e = start + n;
    out.push({
      batch: n,
      rows: b.rows,
      cols: b.cols,
      lenKeep: b.lenKeep,
      kind: b.kind,
      input: b.input.slice(s * L * P, e * L * P),
      target: b.target.slice(s * L * P, e * L * P),
      hint: b.hint.slice(s * L * P, e * L * P),
      keep: b.keep.slice(s * b.lenKeep, e * b.lenKeep),
      restore: b.restore.slice(s * L, e * L),
      removed: b.removed.slice(s * L, e * L),
      weights: b.weights.slice(s * L, e * L),
    });
    start = e;
  }
  return out;
}
