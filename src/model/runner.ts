/**
 * Whole-image inference: loads a model, pads the image to the patch grid, runs the MAE
 * over overlapping windows of the training size (batched by visible-patch count), and
 * blends the windows with weights that fall off towards their edges, so no seams show.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MaeConfig, patchDim } from './config';
import { BatchMask, decode, encode, Params, residualBase, toTensors } from './mae';
import { maskFromVisible } from './masking';
import { loadModel, LoadedModel } from './weights';
import { hintFill } from '../image/fill';
import { RgbImage } from '../image/io';
import { pixelKnownMask } from '../image/patchify';
import { initBackend, BackendInfo } from '../runtime/backend';
import { HelperPool, RowsTask } from './pool';

/** The model shipped with the package. */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '..', '..', 'models', 'default');
}

export interface RunOptions {
  /** Window stride in patches (default: half a window, tent-blended; see docs/MODEL.md). */
  stride?: number;
  /**
   * Windows per forward call (default: 4, fewer when that would leave a thread without at
   * least two batches). Session 8, a 768x512 photo on 2 threads, 3 fresh processes each: with
   * every patch visible and no overlap (denoising), the first pass took 1.84 to 1.93 s with 4
   * against 2.40 to 2.63 s with 16 and later passes 1.13 to 1.23 s against 1.21 to 1.45 s;
   * with overlapping windows 4.86 against 5.3 to 5.9 s and 3.8 to 4.0 against 3.8 to 4.5 s.
   * Smaller batches keep the backend's memory small (83 against 248 MB of wasm heap on one
   * thread), and its first touch is slow on these machines. (Session 3 had measured 16 faster
   * than 8, before the project's own kernels.)
   */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A window of the patch grid: its top-left patch. */
export interface WindowPos {
  y: number;
  x: number;
}

/** Windows that show the same number of patches, run in one forward call. */
export interface WindowBatch {
  visible: number;
  windows: WindowPos[];
}

/** An image on the model's scale: interleaved RGB floats in [-0.5, 0.5]. */
export interface FloatImage {
  width: number;
  height: number;
  data: Float32Array;
}

export function toFloat(img: RgbImage): FloatImage {
  const d = new Float32Array(img.data.length);
  for (let i = 0; i < d.length; i++) d[i] = img.data[i] / 255 - 0.5;
  return { width: img.width, height: img.height, data: d };
}

export function toRgb(img: FloatImage): RgbImage {
  const d = new Uint8Array(img.data.length);
  for (let i = 0; i < d.length; i++) d[i] = Math.max(0, Math.min(255, Math.round((img.data[i] + 0.5) * 255)));
  return { width: img.width, height: img.height, data: d };
}

/**
 * A float array in shared memory: what run() hands to its helper threads without a copy
 * (a 24-megapixel image is 288 MB of floats).
 */
export function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4) as unknown as ArrayBuffer);
}

/** Pads by edge replication to width and height multiples of `m` and at least `min` (into shared memory). */
export function padImage(img: FloatImage, m: number, min: number): FloatImage {
  const W = Math.max(min, Math.ceil(img.width / m) * m);
  const H = Math.max(min, Math.ceil(img.height / m) * m);
  if (W === img.width && H === img.height) return img;
  const d = sharedFloats(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(y, img.height - 1);
    for (let x = 0; x < W; x++) {
      const sx = Math.min(x, img.width - 1);
      const s = (sy * img.width + sx) * 3;
      const o = (y * W + x) * 3;
      d[o] = img.data[s];
      d[o + 1] = img.data[s + 1];
      d[o + 2] = img.data[s + 2];
    }
  }
  return { width: W, height: H, data: d };
}

/** The `width` x `height` region of `img` starting at (x0, y0) (`img` itself when that is all of it). */
export function cropImage(img: FloatImage, width: number, height: number, x0 = 0, y0 = 0): FloatImage {
  if (x0 === 0 && y0 === 0 && img.width === width && img.height === height) return img;
  const d = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) d.set(img.data.subarray(((y + y0) * img.width + x0) * 3, ((y + y0) * img.width + x0 + width) * 3), y * width * 3);
  return { width, height, data: d };
}

function starts(n: number, win: number, stride: number): number[] {
  if (n <= win) return [0];
  const out: number[] = [];
  for (let s = 0; s + win < n; s += stride) out.push(s);
  out.push(n - win);
  return [...new Set(out)];
}

export interface LoadOptions {
  /**
   * Threads that run windows (default 1: this thread only). Each extra thread is a worker
   * with its own backend and copy of the weights (wasm runs one thread per worker).
   */
  threads?: number;
}

export class MaeRunner {
  readonly params: Params;
  private pool: HelperPool | null = null;
  private constructor(
    readonly model: LoadedModel,
    readonly backend: BackendInfo,
  ) {
    this.params = toTensors(model.config, model.values);
  }

  get config(): MaeConfig {
    return this.model.config;
  }

  get modelId(): string {
    return this.model.modelId;
  }

  /** Threads that run windows: this one plus the helpers (ready or loading). */
  get threads(): number {
    return 1 + (this.pool?.size ?? 0);
  }

  /** Waits until the helper threads have loaded (runs never need to: helpers join when ready); returns how many are ready. */
  async helpersReady(): Promise<number> {
    return (await this.pool?.whenReady()) ?? 0;
  }

  /** Parts the helper threads ran in the last run() (batches of windows) or runRows() (ranges of rows). */
  get lastHelperParts(): number {
    return this.pool?.lastHelperParts ?? 0;
  }

  static async load(modelDir?: string, backend?: string, opts: LoadOptions = {}): Promise<MaeRunner> {
    const dir = modelDir ?? defaultModelDir();
    if (!modelDir && !fs.existsSync(path.join(dir, 'model.json'))) throw new Error(`the default model is missing from ${dir}: reinstall mae-cli or pass --model`);
    const info = await initBackend(backend);
    const runner = new MaeRunner(loadModel(dir), info);
    const threads = Math.max(1, Math.floor(opts.threads ?? 1));
    if (threads > 1) runner.pool = HelperPool.start(threads - 1, dir, info.name);
    return runner;
  }

  /** Stops the helper threads (they never keep the process alive; this frees their memory sooner). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  /**
   * Rebuilds the patches flagged in `removed` (patch grid of the padded image, row-major)
   * from the others; with no patch removed, returns the model's clean estimate of every
   * patch (denoising). `input` must already be padded to the patch grid. `hint` is the
   * interpolation of removed pixels (computed from `input` when omitted). With helper
   * threads, every thread takes batches of windows from one shared queue; this thread
   * blends all the outputs.
   */
  run(input: FloatImage, removed: Uint8Array, opts: RunOptions = {}, hintImage?: FloatImage): FloatImage {
    const c = this.config;
    const p = c.patchSize;
    const W = input.width;
    const H = input.height;
    if (W % p || H % p) throw new Error(`image ${W}x${H} is not padded to the patch size ${p}`);
    const cols = W / p;
    const rows = H / p;
    if (removed.length !== rows * cols) throw new Error(`mask has ${removed.length} patches, the image has ${rows * cols}`);
    const win = c.windowSize / p;
    if (rows < win || cols < win) throw new Error(`image ${W}x${H} is smaller than the model window ${c.windowSize}`);
    const anyRemoved = removed.some((v) => v);
    const hint = hintImage ?? (anyRemoved ? { width: W, height: H, data: hintFill(c.hint, input.data, W, H, 3, pixelKnownMask(removed, rows, cols, p)) } : input);
    const stride = Math.max(1, Math.min(win, opts.stride ?? Math.floor(win / 2)));
    const ys = starts(rows, win, stride);
    const xs = starts(cols, win, stride);
    const total = ys.length * xs.length;
    const batches = this.planBatches(
      removed,
      cols,
      ys.flatMap((y) => xs.map((x) => ({ y, x }))),
      opts.batchSize ?? Math.max(1, Math.min(4, Math.ceil(total / (2 * this.threads)))),
    );
    const acc = new Float32Array(W * H * 3);
    const wsum = new Float32Array(W * H);
    let done = 0;
    const blend = (j: number, out: Float32Array) => {
      this.blend(batches[j], out, W, acc, wsum);
      done += batches[j].windows.length;
      opts.onProgress?.(done, total);
    };
    if (this.pool && batches.length > 1) this.pool.run(input, hint.data, removed, batches, (j) => this.forwardBatch(input, hint, removed, batches[j]), blend);
    else batches.forEach((bt, j) => blend(j, this.forwardBatch(input, hint, removed, bt)));
    for (let i = 0; i < W * H; i++) for (let k = 0; k < 3; k++) acc[i * 3 + k] /= wsum[i];
    return { width: W, height: H, data: acc };
  }

  /** Runs the parts of a rows task (src/denoise/stages.ts) on this thread and the helpers; `blend(j, out)` once per part, in order. */
  runRows(task: RowsTask, compute: (j: number) => Float32Array, blend: (j: number, out: Float32Array) => void): void {
    if (this.pool) this.pool.rows(task, compute, blend);
    else task.parts.forEach((_, j) => blend(j, compute(j)));
  }

  /** Groups windows by how many patches they show (one forward call needs one count) into batches. */
  planBatches(removed: Uint8Array, cols: number, windows: WindowPos[], batchSize?: number): WindowBatch[] {
    const win = this.config.windowSize / this.config.patchSize;
    const groups = new Map<number, WindowPos[]>();
    for (const w of windows) {
      let K = 0;
      for (let r = 0; r < win; r++) for (let q = 0; q < win; q++) if (!removed[(w.y + r) * cols + w.x + q]) K++;
      const list = groups.get(K) ?? [];
      list.push(w);
      groups.set(K, list);
    }
    const bs = Math.max(1, batchSize ?? 8);
    const out: WindowBatch[] = [];
    for (const [K, list] of groups) for (let i = 0; i < list.length; i += bs) out.push({ visible: K, windows: list.slice(i, i + bs) });
    return out;
  }

  /** The model's output for a batch of windows: [B, L, P] patch pixels (what a helper thread computes). */
  forwardBatch(input: FloatImage, hint: FloatImage, removed: Uint8Array, batch: WindowBatch): Float32Array {
    const c = this.config;
    const p = c.patchSize;
    const W = input.width;
    const cols = W / p;
    const win = c.windowSize / p;
    const P = patchDim(c);
    const L = win * win;
    const B = batch.windows.length;
    const K = batch.visible;
    const extract = (img: Float32Array, w: WindowPos, out: Float32Array, off: number) => {
      for (let r = 0; r < win; r++)
        for (let q = 0; q < win; q++)
          for (let yy = 0; yy < p; yy++) {
            const src = (((w.y + r) * p + yy) * W + (w.x + q) * p) * 3;
            out.set(img.subarray(src, src + p * 3), off + (r * win + q) * P + yy * p * 3);
          }
    };
    if (K === 0) {
      // Nothing visible in the window: the interpolation is all there is.
      const out = new Float32Array(B * L * P);
      batch.windows.forEach((w, b) => extract(hint.data, w, out, b * L * P));
      return out;
    }
    const xin = new Float32Array(B * L * P);
    const hin = new Float32Array(B * L * P);
    const mask: BatchMask = { batch: B, numPatches: L, lenKeep: K, keep: new Int32Array(B * K), restore: new Int32Array(B * L), removed: new Float32Array(B * L) };
    batch.windows.forEach((w, b) => {
      extract(input.data, w, xin, b * L * P);
      extract(hint.data, w, hin, b * L * P);
      const keep: number[] = [];
      for (let r = 0; r < win; r++) for (let q = 0; q < win; q++) if (!removed[(w.y + r) * cols + w.x + q]) keep.push(r * win + q);
      const m = maskFromVisible(L, keep);
      mask.keep.set(m.keep, b * K);
      mask.restore.set(m.restore, b * L);
      mask.removed.set(m.removed, b * L);
    });
    const result = tf.tidy(() => {
      const xt = tf.tensor3d(xin, [B, L, P]);
      const ht = tf.tensor3d(hin, [B, L, P]);
      const grid = { rows: win, cols: win };
      const latent = encode(this.params, c, xt, grid, mask);
      return decode(this.params, c, latent, grid, mask, ht, residualBase(c, xt, ht, mask));
    });
    // tidy() keeps the tensor it returns: read it, then free it (otherwise every batch's
    // output stays in the backend's memory, over 1 GB for a 24-megapixel image).
    const out = result.dataSync() as Float32Array;
    result.dispose();
    return out;
  }

  /** Adds a batch's output into acc / wsum, each window weighted by a tent highest at its centre. */
  private blend(batch: WindowBatch, out: Float32Array, W: number, acc: Float32Array, wsum: Float32Array): void {
    const c = this.config;
    const p = c.patchSize;
    const S = c.windowSize;
    const win = S / p;
    const P = patchDim(c);
    const L = win * win;
    const ramp = this.ramp();
    batch.windows.forEach((w, b) => {
      for (let r = 0; r < win; r++)
        for (let q = 0; q < win; q++)
          for (let yy = 0; yy < p; yy++)
            for (let xx = 0; xx < p; xx++) {
              const py = r * p + yy;
              const px = q * p + xx;
              const wt = ramp[py] * ramp[px];
              const gi = (w.y * p + py) * W + w.x * p + px;
              const o = b * L * P + (r * win + q) * P + (yy * p + xx) * 3;
              acc[gi * 3] += wt * out[o];
              acc[gi * 3 + 1] += wt * out[o + 1];
              acc[gi * 3 + 2] += wt * out[o + 2];
              wsum[gi] += wt;
            }
    });
  }

  private rampCache: Float32Array | null = null;
  private ramp(): Float32Array {
    const S = this.config.windowSize;
    if (!this.rampCache) {
      this.rampCache = new Float32Array(S);
      for (let i = 0; i < S; i++) this.rampCache[i] = Math.min(i + 0.5, S - i - 0.5) / (S / 2) + 1e-3;
    }
    return this.rampCache;
  }
}

