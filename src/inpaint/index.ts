/**
 * Inpainting with the MAE. The pixels under the mask are unknown and never read: they are
 * blanked first, the interpolation hint is a harmonic fill from the known pixels (at the
 * pixel level, so the known pixels of a patch that a hole only touches still inform it),
 * every patch touched by a hole is rebuilt by the model from the other patches, the known
 * pixels are copied to the output unchanged, and the seam is blended.
 *
 * The model corrects the harmonic fill it was trained with; with the `tension` option, the
 * correction that the tension spline (src/image/fill.ts) makes to the harmonic fill near a
 * hole's border is added to its output (off by default: no robust gain, docs/MODEL.md).
 *
 * Deep holes (where the model's windows would see nothing visible) are filled progressively:
 * the patches nearest the known pixels first, then the model runs again with those treated as
 * visible, working inwards.
 */
import { addTensionCorrection, hintFill } from '../image/fill';
import { RgbImage } from '../image/io';
import { MaeConfig } from '../model/config';
import { cropImage, FloatImage, padImage, sharedFloats } from '../model/runner';
import { patchRings } from './rings';
import { blendSeam, SeamInput, SeamMode } from './seam';

export { patchDepth, patchRings } from './rings';

/** What inpainting needs of a MaeRunner. */
export interface InpaintRunner {
  readonly config: MaeConfig;
  run(input: FloatImage, removed: Uint8Array, opts?: { stride?: number; batchSize?: number; onProgress?: (done: number, total: number) => void }, hint?: FloatImage): FloatImage;
}

export interface InpaintOptions {
  /** Window stride in patches (runner default: half a window). */
  stride?: number;
  batchSize?: number;
  /**
   * Fill deep holes in rings of `ringPatches` patches from their border inwards, one model
   * run per ring, each seeing the rings before it as visible. Only holes with a patch at
   * least `progressiveDepth` patches from any hole-free patch (by default just over half a
   * model window, where windows would see nothing visible); the others are filled in pass 1.
   */
  progressive?: boolean;
  ringPatches?: number;
  progressiveDepth?: number;
  /** At most this many model runs; the last fills everything left. */
  maxPasses?: number;
  seam?: SeamMode;
  /**
   * Tension of the spline fill whose difference from the harmonic fill is added to the
   * model's output in the holes (0, the default: none, the model's output as it is; 1 is the
   * tension measured in docs/MODEL.md).
   */
  tension?: number;
  /** Width (pixels) of the seam blend. */
  seamPixels?: number;
  onProgress?: (done: number, total: number, pass: number, passes: number) => void;
}

/**
 * Defaults chosen on held-out training images (the trainer's validation split), checkpoint at
 * step 800, PSNR over the hole pixels: the offset seam (16 px) gained 0.03-0.16 dB over no
 * blending on every mask kind (feathering into the hint gained less); progressive filling of
 * deep holes, one ring of patches per pass, gained 0.18 dB on boxes (6 of 8 images better)
 * while on shallow holes it lost up to 0.13 dB, hence the depth gate. The tension spline's
 * correction stays off by default (session 13, the shipped model, tension 1): on all 21
 * held-out training images it gained +0.04 / +0.01 / +0.08 / +0.00 dB on 16-pixel patches over
 * 25% / 50%, strokes and boxes, within the spread between images (docs/MODEL.md).
 */
export const INPAINT_DEFAULTS = { progressive: true, ringPatches: 1, maxPasses: 4, seam: 'offset' as SeamMode, seamPixels: 16, tension: 0 };

export class InpaintError extends Error {}

/**
 * The checks a user's mask must pass (the CLI and the library API): it marks some pixels, and
 * not all of them (nothing would be left to fill from). Returns the number of marked pixels;
 * `what` names the mask in the message.
 */
export function checkHoles(holes: Uint8Array, what = 'mask'): number {
  const n = countHoles(holes);
  if (n === 0) throw new InpaintError(`${what} is empty: no non-zero pixel marks anything to fill`);
  if (n === holes.length) throw everyPixelMarked(what);
  return n;
}

/** The error for a mask that marks every pixel (checkHoles, and rebuild() for its direct callers). */
function everyPixelMarked(what: string): InpaintError {
  return new InpaintError(`${what} marks every pixel: nothing is left to fill the holes from`);
}

/** Checks the tension option (undefined: the default). */
export function checkTension(tension: number | undefined): void {
  if (tension !== undefined && !(typeof tension === 'number' && Number.isFinite(tension) && tension >= 0)) throw new InpaintError(`tension must be a number from 0 up (0: no spline correction), got ${String(tension)}`);
}

/** Number of pixels set in a hole mask. */
export function countHoles(holes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < holes.length; i++) if (holes[i]) n++;
  return n;
}

/**
 * Hole flags from a mask image: any non-zero colour channel marks a pixel to fill. With the
 * mask's alpha plane (a mask drawn on a transparent layer), a fully transparent pixel never
 * marks one, whatever colour it stores.
 */
export function holesFromMask(mask: RgbImage, alpha: Uint8Array | null = null): Uint8Array {
  const holes = new Uint8Array(mask.width * mask.height);
  for (let i = 0; i < holes.length; i++) holes[i] = (alpha === null || alpha[i] > 0) && (mask.data[i * 3] || mask.data[i * 3 + 1] || mask.data[i * 3 + 2]) ? 1 : 0;
  return holes;
}

/**
 * Fills the pixels where `holes[i]` is set (row-major, one flag per pixel); returns a new image.
 * When every known pixel is grey (R = G = B), so are the filled ones: the mean of the model's
 * three channels, the nearest grey to its output.
 */
export function inpaint(runner: InpaintRunner, img: RgbImage, holes: Uint8Array, opts: InpaintOptions = {}): RgbImage {
  const out = new Uint8Array(img.data);
  const o = { ...INPAINT_DEFAULTS, ...stripUndefined(opts) };
  const r = rebuild(runner, img, holes, o);
  if (!r) return { width: img.width, height: img.height, data: out };
  const res = blendSeam(r, o.seam, o.seamPixels);
  const byte = (v: number) => Math.max(0, Math.min(255, Math.round((v + 0.5) * 255)));
  if (knownGrey(img.data, holes)) {
    for (let i = 0; i < holes.length; i++) if (holes[i]) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = byte((res[i * 3] + res[i * 3 + 1] + res[i * 3 + 2]) / 3);
  } else for (let i = 0; i < holes.length; i++) if (holes[i]) for (let c = 0; c < 3; c++) out[i * 3 + c] = byte(res[i * 3 + c]);
  return { width: img.width, height: img.height, data: out };
}

/** Whether every pixel outside the holes has R = G = B (the hole pixels are never read). */
function knownGrey(d: Uint8Array, holes: Uint8Array): boolean {
  for (let i = 0; i < holes.length; i++) if (!holes[i] && (d[i * 3] !== d[i * 3 + 1] || d[i * 3] !== d[i * 3 + 2])) return false;
  return true;
}

/**
 * The model part of inpaint(), before the seam blend: the known pixels on the model's scale
 * (hole pixels hold the model's values: never read as originals), the model output (hole
 * pixels from the pass that filled them, known pixels from the first pass) and the harmonic
 * hint (empty unless the seam mode is 'feather', the only one that reads it). Null when
 * there is no hole; an error when every pixel is one.
 */
export function rebuild(runner: InpaintRunner, img: RgbImage, holes: Uint8Array, opts: InpaintOptions = {}): SeamInput | null {
  const { width: W, height: H } = img;
  if (img.data.length !== W * H * 3) throw new InpaintError(`image data has ${img.data.length} bytes, expected ${W * H * 3} for ${W}x${H} RGB`);
  if (holes.length !== W * H) throw new InpaintError(`mask has ${holes.length} pixels, the image has ${W * H}`);
  const n = countHoles(holes);
  if (n === 0) return null;
  if (n === W * H) throw everyPixelMarked('mask');
  checkTension(opts.tension);
  const o = { ...INPAINT_DEFAULTS, ...stripUndefined(opts) };
  // Known pixels on the model's scale; hole pixels blanked (never read).
  const known = new Uint8Array(W * H);
  const orig = new Float32Array(W * H * 3);
  for (let i = 0; i < W * H; i++) {
    if (holes[i]) continue;
    known[i] = 1;
    for (let c = 0; c < 3; c++) orig[i * 3 + c] = img.data[i * 3 + c] / 255 - 0.5;
  }
  const p = runner.config.patchSize;
  const depth = o.progressiveDepth ?? Math.floor(runner.config.windowSize / p / 2) + 1;
  const rings = o.progressive ? patchRings(known, W, H, p, Math.max(1, o.ringPatches), depth) : null;
  const maxRing = rings ? rings.reduce((m, r) => (Number.isFinite(r) ? Math.max(m, r) : m), 0) : 0;
  const passes = Math.max(1, Math.min(Math.max(1, o.maxPasses), maxRing));
  // The values the model sees: `orig` itself, whose hole pixels (never read as originals) take
  // the model's output pass by pass. One full-size copy fewer matters for 24-megapixel photos.
  const values = orig;
  const cur = known.slice();
  const model = new Float32Array(W * H * 3);
  let scratch: Float32Array | null = null;
  let hint: Float32Array | null = null;
  const cols = Math.ceil(W / p);
  for (let pass = 1; pass <= passes; pass++) {
    // The first run's output at the known pixels is what the seam blend compares with: it goes straight into `model`.
    const target = pass === 1 ? model : (scratch ??= new Float32Array(W * H * 3));
    const run = runModel(
      runner,
      values,
      cur,
      W,
      H,
      {
        stride: o.stride,
        batchSize: o.batchSize,
        onProgress: o.onProgress ? (d, t) => o.onProgress!(d, t, pass, passes) : undefined,
      },
      target,
      o.tension,
    );
    // Only the feather seam reads the hint: otherwise it is not kept (it is as large as the image).
    if (pass === 1) hint = o.seam === 'feather' ? run.hint : new Float32Array(0);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (cur[i]) continue;
        if (pass < passes && rings![Math.floor(y / p) * cols + Math.floor(x / p)] > pass) continue;
        cur[i] = 1;
        for (let c = 0; c < 3; c++) values[i * 3 + c] = model[i * 3 + c] = target[i * 3 + c];
      }
  }
  return { width: W, height: H, orig, model, hint: hint!, known };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * One model run: the hint is the harmonic fill of `values` from the pixels flagged in
 * `known`; the model runs on the part of the image around the unknown pixels (a window of
 * context on each side) with every patch touching an unknown pixel removed. Returns the
 * model output for the whole image (the hint outside that part) and the hint.
 */
function runModel(
  runner: InpaintRunner,
  values: Float32Array,
  known: Uint8Array,
  W: number,
  H: number,
  runOpts: { stride?: number; batchSize?: number; onProgress?: (d: number, t: number) => void },
  target: Float32Array,
  tension = 0,
): { model: Float32Array; hint: Float32Array } {
  const { patchSize: p, windowSize: S } = runner.config;
  const hint = hintFill(runner.config.hint, values, W, H, 3, known);
  let x0 = W;
  let y0 = H;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      if (!known[y * W + x]) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x + 1);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y + 1);
      }
  const span = (a: number, b: number, n: number): [number, number] => {
    let lo = Math.max(0, Math.floor((a - S) / p) * p);
    let hi = Math.min(n, b + S);
    if (hi - lo < S) {
      hi = Math.min(n, lo + S);
      lo = Math.max(0, Math.floor((hi - S) / p) * p);
    }
    return [lo, hi];
  };
  [x0, x1] = span(x0, x1, W);
  [y0, y1] = span(y0, y1, H);
  const w = x1 - x0;
  const h = y1 - y0;
  const sub = sharedFloats(w * h * 3);
  const subKnown = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    sub.set(hint.subarray(((y0 + y) * W + x0) * 3, ((y0 + y) * W + x1) * 3), y * w * 3);
    subKnown.set(known.subarray((y0 + y) * W + x0, (y0 + y) * W + x1), y * w);
  }
  const padded = padImage({ width: w, height: h, data: sub }, p, S);
  const cols = padded.width / p;
  const rows = padded.height / p;
  const removed = new Uint8Array(rows * cols);
  for (let y = 0; y < padded.height; y++)
    for (let x = 0; x < padded.width; x++) if (!subKnown[Math.min(y, h - 1) * w + Math.min(x, w - 1)]) removed[Math.floor(y / p) * cols + Math.floor(x / p)] = 1;
  const res = cropImage(runner.run(padded, removed, runOpts, padded), w, h);
  const model = target;
  model.set(hint);
  for (let y = 0; y < h; y++) model.set(res.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * W + x0) * 3);
  if (tension > 0) addTensionCorrection(model, values, W, H, 3, known, hint, runner.config.hint, tension);
  return { model, hint };
}
