/**
 * Denoising with the MAE: the model was also trained to return the clean estimate of every
 * patch from a noisy window with nothing removed (Gaussian noise, sigma 5 to 55), so a pass
 * of the runner with no patch removed denoises. The model is blind (it is never told sigma);
 * sigma, given or estimated from the image, only sets how much of the noisy input is blended
 * back in (see residualInputWeight).
 *
 * Defaults come from bench/denoise-tune.js on held-out training crops (never the test sets):
 * non-overlapping windows (strides 4 and 2 measured equal to 0.01 dB with the session-2
 * model), one patch grid with each pass filtered along its patch borders (deblock.ts: that
 * filter gets most of what a second grid offset by half a patch gets, at no cost; --shifts 2
 * adds +0.12 to +0.2 dB for twice the time). Self-ensembles of flips and transposes stay
 * off: an early checkpoint gained at most 0.035 dB from them. The residual blend costs
 * nothing and never lost. Re-run the scripts when the model changes.
 */
import { cropImage, FloatImage, MaeRunner, padImage, toFloat, toRgb } from '../model/runner';
import { isGreyRgb, RgbImage } from '../image/io';
import { deblockPass } from './deblock';
import { estimateSigma } from './sigma';
import { transformImage, untransformImage } from './transforms';
import { DEFAULT_WIENER } from './wiener';
import { collaborativeRefine, runStage } from './stages';
import { COLLAB_SEARCHES, CollabSearch } from './collab';

export { DEFAULT_WIENER } from './wiener';

export { estimateSigma, estimateSigmaPerChannel } from './sigma';

export interface DenoiseOptions {
  /** Noise sigma on the 0..255 scale, or 'auto' (default) to estimate it from the image. */
  sigma?: number | 'auto';
  /** Window stride in patches (default: a whole window, no overlap: denoising gains nothing from overlap, see docs/MODEL.md). */
  stride?: number;
  /** Self-ensemble size: 1 (default), 2 (plus the mirror image), 4 or 8 (flips and transposes). */
  ensemble?: number;
  /**
   * Patch-grid offsets averaged: 1 (default: the grid at the origin), 2 (plus the grid moved
   * by half a patch in both directions, so that no patch border falls at the same place twice:
   * +0.12 to +0.2 dB for twice the time) or 4 (plus the two half-patch moves along one axis).
   */
  shifts?: number;
  /** Filter each pass along its patch borders (deblock.ts), with thresholds from sigma (default true). */
  deblock?: boolean;
  /** Share of the noisy input in the output, 0..1, or 'auto' (default: residualInputWeight). */
  inputWeight?: number | 'auto';
  /**
   * Passes of empirical Wiener filtering in a sliding 8x8 DCT guided by the MAE's estimate
   * (wiener.ts), each guided by the previous one; 0 returns the MAE's estimate (default 2).
   */
  wiener?: number;
  /** Block stride of the Wiener passes in pixels, 1..8 (default 3). */
  wienerStride?: number;
  /**
   * The collaborative stage (collab.ts, default true): BM3D's two steps on groups of similar
   * blocks, the second guided by the Wiener passes' output fused with the first's.
   */
  collab?: boolean;
  /** Grid offsets averaged in each pass of the collaborative stage: 1 (default) or 2 (+0.05 to +0.07 dB on CBSD68, twice the stage's time). */
  collabShifts?: number;
  /**
   * How the collaborative stage finds the members of its groups: 'grid' (default: on grids of
   * blocks 3 and 2 pixels apart) or 'dense' (BM3D's search: members at any pixel within 16 of
   * references 3 and 2 pixels apart; +0.13 to +0.16 dB on CBSD68 (30.72 dB at sigma 25), about 5 times the stage's
   * time; not with collabShifts 2).
   */
  collabSearch?: CollabSearch;
  /**
   * Whether the noise is the same in the three channels, as in a grey image (R = G = B at every
   * pixel); default: detected from the pixels. Its luma plane then carries sigma x sqrt 3 of
   * noise (and its colour planes none), which the Wiener passes and the collaborative stage
   * take, and the output is exactly grey. Treated as colour noise, a grey image at sigma 25
   * lost 4.2 dB (docs/MODEL.md).
   */
  greyNoise?: boolean;
  batchSize?: number;
  /**
   * Progress in units of work: the windows of every pass of the model, then the Wiener passes
   * and the collaborative stage, each counted as a share of them (about their share of the time).
   */
  onProgress?: (done: number, total: number) => void;
}

export interface DenoiseResult<T> {
  image: T;
  /** Sigma used (0..255 scale). */
  sigma: number;
  sigmaEstimated: boolean;
  inputWeight: number;
  /** Whether the image was denoised as grey (greyNoise): its output is then exactly grey. */
  grey: boolean;
}

/** Transform codes of each ensemble size (see transforms.ts): identity first, the mirror next. */
const ENSEMBLES: Record<number, number[]> = { 1: [0], 2: [0, 1], 4: [0, 1, 2, 3], 8: [0, 1, 2, 3, 4, 5, 6, 7] };

/**
 * Share of the noisy input in the output that minimises the expected squared error, from
 * the noise sigma and the residual r = noisy - model alone: with out = w*noisy + (1-w)*model,
 * the optimum is w = 1 - <r, noise> / |r|^2, and <r, noise> = sigma^2 (N - div model) by
 * Stein's lemma; taking the divergence as 0 (a denoiser that does not pass noise through)
 * gives w = 1 - sigma^2 / mean(r^2), clamped to [0, 1]. When the model removes about the
 * noise, w is near 0; when it also removes detail (small sigma, or a clean image) the
 * residual exceeds the noise and more of the input is kept. Values on the 0..255 scale.
 */
export function residualInputWeight(noisy: Float32Array, model: Float32Array, sigma: number): number {
  let ss = 0;
  for (let i = 0; i < noisy.length; i++) {
    const r = (noisy[i] - model[i]) * 255;
    ss += r * r;
  }
  const ms = ss / Math.max(1, noisy.length);
  if (ms <= 0) return 0;
  return Math.max(0, Math.min(1, 1 - (sigma * sigma) / ms));
}

/** The given sigma (checked by checkDenoiseOptions), or the estimate. */
function resolveSigma(opt: DenoiseOptions['sigma'], f: FloatImage): { sigma: number; estimated: boolean } {
  if (opt === undefined || opt === 'auto') {
    const d = new Float32Array(f.data.length);
    for (let i = 0; i < d.length; i++) d[i] = (f.data[i] + 0.5) * 255;
    return { sigma: estimateSigma({ width: f.width, height: f.height, data: d }), estimated: true };
  }
  return { sigma: opt, estimated: false };
}

/**
 * Checks the options of denoiseFloat before any work (the API turns the error into a usage
 * error); each stage checks its own options again for direct callers.
 */
export function checkDenoiseOptions(opts: DenoiseOptions): void {
  const { sigma, ensemble, shifts, wiener, wienerStride, collab, collabShifts, collabSearch, inputWeight } = opts;
  const bad = (what: string, v: unknown) => {
    throw new RangeError(`${what}, got ${String(v)}`);
  };
  if (sigma !== undefined && sigma !== 'auto' && !(typeof sigma === 'number' && Number.isFinite(sigma) && sigma >= 0 && sigma <= 255)) bad("sigma must be a number from 0 to 255 or 'auto'", sigma);
  if (ensemble !== undefined && !ENSEMBLES[ensemble]) bad('ensemble must be 1, 2, 4 or 8', ensemble);
  if (shifts !== undefined && shifts !== 1 && shifts !== 2 && shifts !== 4) bad('shifts must be 1, 2 or 4', shifts);
  if (wiener !== undefined && !(Number.isInteger(wiener) && wiener >= 0 && wiener <= 8)) bad('wiener passes must be an integer from 0 to 8', wiener);
  if (wienerStride !== undefined && !(Number.isInteger(wienerStride) && wienerStride >= 1 && wienerStride <= 8)) bad('wiener stride must be an integer from 1 to 8', wienerStride);
  if (collab !== undefined && typeof collab !== 'boolean') bad('collab must be true or false', collab);
  if (collabShifts !== undefined && collabShifts !== 1 && collabShifts !== 2) bad('collab shifts must be 1 or 2', collabShifts);
  if (collabSearch !== undefined && !COLLAB_SEARCHES.includes(collabSearch)) bad(`collab search must be ${COLLAB_SEARCHES.join(' or ')}`, collabSearch);
  if (collabSearch === 'dense' && collabShifts === 2) bad('collab shifts 2 works with the grid search only (the dense search already takes members at every pixel)', `collab search ${collabSearch}`);
  if (inputWeight !== undefined && inputWeight !== 'auto' && !(typeof inputWeight === 'number' && inputWeight >= 0 && inputWeight <= 1)) bad("input weight must be between 0 and 1 or 'auto'", inputWeight);
  if (opts.greyNoise !== undefined && typeof opts.greyNoise !== 'boolean') bad('grey noise must be true or false', opts.greyNoise);
}

/**
 * The noise sigma (0..1 scale) the stages after the model take, from the image's (0..255):
 * they work in an orthonormal opponent colour space, where noise that is the same in R, G and
 * B (a grey image) is all in the luma plane, sqrt 3 times sigma.
 */
export function stageSigma(sigma: number, grey: boolean): number {
  return ((grey ? Math.sqrt(3) : 1) * sigma) / 255;
}

/** Sets R, G and B of every pixel to their mean, in place: the nearest grey image. */
export function makeGrey(data: Float32Array): void {
  for (let i = 0; i < data.length; i += 3) data[i] = data[i + 1] = data[i + 2] = (data[i] + data[i + 1] + data[i + 2]) / 3;
}

/** Denoises an image on the model's scale (floats in [-0.5, 0.5], possibly beyond: unclipped noise). */
export function denoiseFloat(runner: MaeRunner, img: FloatImage, opts: DenoiseOptions = {}): DenoiseResult<FloatImage> {
  checkDenoiseOptions(opts);
  const { sigma, estimated } = resolveSigma(opts.sigma, img);
  const codes = ENSEMBLES[opts.ensemble ?? 1];
  const nShifts = opts.shifts ?? 1;
  const iterations = opts.wiener ?? DEFAULT_WIENER.iterations;
  const collab = opts.collab ?? true;
  const collabShifts = opts.collabShifts ?? 1;
  // The shares of the progress of the stages after the model, in windows: about their time next
  // to the model's (one thread, 768x512 photos, session 6: the model 4 s, a Wiener pass 0.18 s,
  // the collaborative stage 1.0 to 1.2 s per grid offset).
  const shares = [0.05 * iterations, collab ? 0.3 * collabShifts * (opts.collabSearch === 'dense' ? 5 : 1) : 0];
  const afterUnits = (windows: number) => Math.ceil(windows * (shares[0] + shares[1]));
  const wOpt = opts.inputWeight ?? 'auto';
  const p = runner.config.patchSize;
  const S = runner.config.windowSize;
  // With one pass its output is the result (no extra full-size copy); an ensemble averages into `acc`.
  const p2 = Math.floor(p / 2);
  const offsets = [
    [0, 0],
    [p2, p2],
    [p2, 0],
    [0, p2],
  ].slice(0, nShifts);
  const passes = codes.flatMap((k) => offsets.map(([sx, sy]) => ({ k, sx, sy })));
  let acc: Float32Array | null = passes.length > 1 ? new Float32Array(img.data.length) : null;
  let passDone = 0;
  let passTotal = 0;
  // This transform's pass on the grid at the origin (offsets [0, 0] come first for each transform).
  let grid0: FloatImage | null = null;
  passes.forEach(({ k, sx, sy }, i) => {
    const t = transformImage(img, k);
    // A moved grid runs on the image less its first sx columns and sy rows (so on as many
    // windows as the first grid); those strips keep the first grid's estimate.
    const moved = sx > 0 || sy > 0;
    let est: FloatImage;
    if (moved && (t.width <= sx + p || t.height <= sy + p)) est = grid0!;
    else {
      const src = cropImage(t, t.width - sx, t.height - sy, sx, sy);
      const padded = padImage(src, p, S);
      const removed = new Uint8Array((padded.width / p) * (padded.height / p));
      const out = runner.run(padded, removed, {
        stride: opts.stride ?? S / p,
        batchSize: opts.batchSize,
        onProgress: opts.onProgress
          ? (d, n) => {
              passTotal = n;
              opts.onProgress!(passDone + d, n * passes.length + afterUnits(n * passes.length));
            }
          : undefined,
      });
      passDone = passTotal * (i + 1);
      if (opts.deblock ?? true) deblockPass(out, p, sigma);
      est = cropImage(out, src.width, src.height);
      if (moved) {
        const full = Float32Array.from(grid0!.data);
        for (let y = 0; y < est.height; y++) full.set(est.data.subarray(y * est.width * 3, (y + 1) * est.width * 3), ((y + sy) * t.width + sx) * 3);
        est = { width: t.width, height: t.height, data: full };
      }
    }
    if (!moved) grid0 = est;
    const back = untransformImage(est, k);
    if (passes.length === 1) acc = back.data;
    else for (let j = 0; j < acc!.length; j++) acc![j] += back.data[j];
  });
  const n = passes.length;
  if (!acc) throw new Error('internal: no denoising pass ran');
  if (n > 1) for (let j = 0; j < acc.length; j++) acc[j] /= n;
  const res: Float32Array = acc;
  const w = wOpt === 'auto' ? residualInputWeight(img.data, res, sigma) : wOpt;
  if (w > 0) for (let j = 0; j < res.length; j++) res[j] = w * img.data[j] + (1 - w) * res[j];
  const pilot: FloatImage = { width: img.width, height: img.height, data: res };
  const windows = passTotal * passes.length;
  const total = windows + afterUnits(windows);
  // Progress of a stage after the model: its share of the windows, after those before it.
  const stage = (i: number) => {
    const start = i === 0 ? 0 : shares[0];
    return opts.onProgress && windows > 0 ? (d: number, t: number) => opts.onProgress!(windows + ((total - windows) * (start + (shares[i] * d) / t)) / (shares[0] + shares[1]), total) : undefined;
  };
  const grey = opts.greyNoise ?? isGreyRgb(img);
  const s = stageSigma(sigma, grey);
  let image = iterations > 0 ? runStage(runner, 'wiener', img, pilot, s, { iterations, stride: opts.wienerStride ?? DEFAULT_WIENER.stride }, stage(0)) : pilot;
  if (collab) image = collaborativeRefine(img, image, s, { runner, shifts: collabShifts, search: opts.collabSearch, onProgress: stage(1) });
  // Every stage returns a new image (the model's pass too), so this one is ours to change.
  if (grey) makeGrey(image.data);
  return { image, sigma, sigmaEstimated: estimated, inputWeight: w, grey };
}

/** Denoises an 8-bit RGB image. */
export function denoise(runner: MaeRunner, img: RgbImage, opts: DenoiseOptions = {}): DenoiseResult<RgbImage> {
  const r = denoiseFloat(runner, toFloat(img), opts);
  return { ...r, image: toRgb(r.image) };
}
