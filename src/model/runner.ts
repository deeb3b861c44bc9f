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
import { harmonicFill } from '../image/fill';
import { RgbImage } from '../image/io';
import { pixelKnownMask } from '../image/patchify';
import { initBackend, BackendInfo } from '../runtime/backend';
import { HelperPool } from './pool';

/** The model shipped with the package. */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '..', '..', 'models', 'default');
}

export interface RunOptions {
  /** Window stride in patches (default: half a window, tent-blended; see docs/MODEL.md). */
  stride?: number;
  /** Windows per forward call. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A window of the patch grid: its top-left patch. */
export interface WindowPos {
  y: number;
  x: number;
}

/** Where a list of windows adds its blended pixels: rows y0 .. y0 + rows of the image, all columns. */
export interface Band {
  y0: number;
  rows: number;
  acc: Float32Array;
  wsum: Float32Array;
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

/** Pads by edge replication to width and height multiples of `m` and at least `min`. */
export function padImage(img: FloatImage, m: number, min: number): FloatImage {
  const W = Math.max(min, Math.ceil(img.width / m) * m);
  const H = Math.max(min, Math.ceil(img.height / m) * m);
  if (W === img.width && H === img.height) return img;
  const d = new Float32Array(W * H * 3);
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

export function cropImage(img: FloatImage, width: number, height: number): FloatImage {
  if (img.width === width && img.height === height) return img;
  const d = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) d.set(img.data.subarray(y * img.width * 3, (y * img.width + width) * 3), y * width * 3);
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
    readonly modelDir: string,
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

  static async load(modelDir?: string, backend?: string, opts: LoadOptions = {}): Promise<MaeRunner> {
    const dir = modelDir ?? defaultModelDir();
    if (!modelDir && !fs.existsSync(path.join(dir, 'model.json'))) throw new Error(`the default model is missing from ${dir}: reinstall mae-cli or pass --model`);
    const info = await initBackend(backend);
    const runner = new MaeRunner(loadModel(dir), info, dir);
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
   * threads, the windows are split into bands of window rows, one per thread.
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
    const hint = hintImage ?? (anyRemoved ? { width: W, height: H, data: harmonicFill(input.data, W, H, 3, pixelKnownMask(removed, rows, cols, p)) } : input);
    const stride = Math.max(1, Math.min(win, opts.stride ?? Math.floor(win / 2)));
    const ys = starts(rows, win, stride);
    const xs = starts(cols, win, stride);
    const total = ys.length * xs.length;
    const full: Band = { y0: 0, rows: H, acc: new Float32Array(W * H * 3), wsum: new Float32Array(W * H) };
    // One band of window rows per thread, when there are enough rows to share.
    const parts = this.pool && ys.length > 1 ? Math.min(1 + this.pool.available(), ys.length) : 1;
    if (parts <= 1) {
      let done = 0;
      this.runWindows(input, hint, removed, ys.flatMap((y) => xs.map((x) => ({ y, x }))), full, (n) => opts.onProgress?.((done += n), total), opts.batchSize);
    } else {
      const S = c.windowSize;
      const bands = splitRows(ys.length, parts).map(([a, b]) => {
        const wins = ys.slice(a, b).flatMap((y) => xs.map((x) => ({ y, x })));
        const y0 = ys[a] * p;
        const rowsPx = ys[b - 1] * p + S - y0;
        return { wins, y0, rowsPx };
      });
      // This thread takes the first band; the helpers the others (their results come back as bands).
      this.pool!.run(
        { width: W, height: H, data: input.data },
        hint.data,
        removed,
        bands.slice(1).map((b) => ({ windows: b.wins, y0: b.y0, rows: b.rowsPx })),
        opts.batchSize,
        () => {
          const own = bands[0];
          let done = 0;
          this.runWindows(input, hint, removed, own.wins, full, (n) => ((done += n), opts.onProgress?.(done + this.pool!.progress(), total)), opts.batchSize);
          return done;
        },
        (done) => opts.onProgress?.(done, total),
        (i, band) => {
          // A helper's band, or this thread's rerun of it when the helper failed.
          const b = band ?? this.runBand(input, hint, removed, bands[i + 1].wins, bands[i + 1].y0, bands[i + 1].rowsPx, opts.batchSize);
          const off = b.y0 * W;
          for (let j = 0; j < b.wsum.length; j++) full.wsum[off + j] += b.wsum[j];
          for (let j = 0; j < b.acc.length; j++) full.acc[off * 3 + j] += b.acc[j];
        },
      );
    }
    const { acc, wsum } = full;
    for (let i = 0; i < W * H; i++) for (let k = 0; k < 3; k++) acc[i * 3 + k] /= wsum[i];
    return { width: W, height: H, data: acc };
  }

  /** Runs `windows` into a new band of image rows y0 .. y0 + rows (what a helper thread does). */
  runBand(input: FloatImage, hint: FloatImage, removed: Uint8Array, windows: WindowPos[], y0: number, rows: number, batchSize?: number, onBatch?: (n: number) => void): Band {
    const band: Band = { y0, rows, acc: new Float32Array(rows * input.width * 3), wsum: new Float32Array(rows * input.width) };
    this.runWindows(input, hint, removed, windows, band, onBatch ?? (() => undefined), batchSize);
    return band;
  }

  /**
   * Runs the model over `windows` (batched by visible-patch count) and adds each window's
   * output, weighted by a tent that is highest at the window centre, into `band`.
   */
  private runWindows(input: FloatImage, hint: FloatImage, removed: Uint8Array, windows: WindowPos[], band: Band, onBatch: (n: number) => void, batchSize?: number): void {
    const c = this.config;
    const p = c.patchSize;
    const W = input.width;
    const cols = W / p;
    const win = c.windowSize / p;
    const S = c.windowSize;
    const ramp = new Float32Array(S);
    for (let i = 0; i < S; i++) ramp[i] = Math.min(i + 0.5, S - i - 0.5) / (S / 2) + 1e-3;
    const { acc, wsum, y0 } = band;
    const P = patchDim(c);
    const L = win * win;
    interface Win {
      y: number;
      x: number;
      removed: Uint8Array;
      keep: number[];
    }
    const groups = new Map<number, Win[]>();
    for (const { y, x } of windows) {
      const rm = new Uint8Array(L);
      const keep: number[] = [];
      for (let r = 0; r < win; r++) for (let q = 0; q < win; q++) (rm[r * win + q] = removed[(y + r) * cols + x + q]) ? 0 : keep.push(r * win + q);
      const list = groups.get(keep.length) ?? [];
      list.push({ y, x, removed: rm, keep });
      groups.set(keep.length, list);
    }
    const bs = Math.max(1, batchSize ?? 8);
    const extract = (img: Float32Array, w: Win, out: Float32Array, off: number) => {
      for (let r = 0; r < win; r++)
        for (let q = 0; q < win; q++)
          for (let yy = 0; yy < p; yy++) {
            const src = (((w.y + r) * p + yy) * W + (w.x + q) * p) * 3;
            out.set(img.subarray(src, src + p * 3), off + (r * win + q) * P + yy * p * 3);
          }
    };
    for (const [K, wins] of groups) {
      for (let i = 0; i < wins.length; i += bs) {
        const chunk = wins.slice(i, i + bs);
        const B = chunk.length;
        let out: Float32Array;
        if (K === 0) {
          // Nothing visible in the window: the interpolation is all there is.
          out = new Float32Array(B * L * P);
          chunk.forEach((w, b) => extract(hint.data, w, out, b * L * P));
        } else {
          const xin = new Float32Array(B * L * P);
          const hin = new Float32Array(B * L * P);
          const mask: BatchMask = { batch: B, numPatches: L, lenKeep: K, keep: new Int32Array(B * K), restore: new Int32Array(B * L), removed: new Float32Array(B * L) };
          chunk.forEach((w, b) => {
            extract(input.data, w, xin, b * L * P);
            extract(hint.data, w, hin, b * L * P);
            const m = maskFromVisible(L, w.keep);
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
          out = result.dataSync() as Float32Array;
          result.dispose();
        }
        chunk.forEach((w, b) => {
          for (let r = 0; r < win; r++)
            for (let q = 0; q < win; q++)
              for (let yy = 0; yy < p; yy++)
                for (let xx = 0; xx < p; xx++) {
                  const py = r * p + yy;
                  const px = q * p + xx;
                  const wt = ramp[py] * ramp[px];
                  const gi = (w.y * p + py - y0) * W + w.x * p + px;
                  const o = b * L * P + (r * win + q) * P + (yy * p + xx) * 3;
                  acc[gi * 3] += wt * out[o];
                  acc[gi * 3 + 1] += wt * out[o + 1];
                  acc[gi * 3 + 2] += wt * out[o + 2];
                  wsum[gi] += wt;
                }
        });
        onBatch(B);
      }
    }
  }
}

/** Splits n items into k contiguous ranges [a, b) of nearly equal size. */
export function splitRows(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const a = Math.floor((i * n) / k);
    const b = Math.floor(((i + 1) * n) / k);
    if (b > a) out.push([a, b]);
  }
  return out;
}
