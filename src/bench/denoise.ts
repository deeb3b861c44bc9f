/**
 * `mae bench denoise`: Gaussian noise of each sigma (0..255 scale, seeded) added to the
 * float image and not clipped, as the published tables do; the MAE denoises that float
 * image, the classical peers (which need 8-bit input) get it clipped and rounded. PSNR and
 * SSIM on the 8-bit RGB results, seconds per image.
 */
import * as path from 'node:path';
import sharp from 'sharp';
import { listImages, readRgb, RgbImage } from '../image/io';
import { psnr } from '../metrics/psnr';
import { ssim } from '../metrics/ssim';
import { FloatImage, MaeRunner, toFloat, toRgb } from '../model/runner';
import { DEFAULT_WIENER, denoiseFloat, makeGrey, stageSigma } from '../denoise';
import { collaborativeRefine, runStage } from '../denoise/stages';
import type { CollabSearch } from '../denoise/collab';
import { Rng } from '../util/rng';
import { loadOpenCv } from './opencv';
import { BenchOptions } from './options';

export interface DenoiseRow {
  sigma: number;
  method: string;
  images: number;
  psnr: number;
  ssim: number;
  secondsPerImage: number;
}

/** Published CBSD68 colour denoising PSNR (dB) for context: not measured here. */
export const PUBLISHED_CBSD68: { method: string; source: string; psnr: Record<number, number> }[] = [
  { method: 'CBM3D', source: 'Dabov et al. 2007, as tabulated by Zhang et al. (DnCNN, 2017)', psnr: { 15: 33.52, 25: 30.71, 50: 27.38 } },
  { method: 'DnCNN', source: 'Zhang et al., TIP 2017 (CDnCNN-B)', psnr: { 15: 33.89, 25: 31.23, 50: 27.92 } },
  { method: 'DRUNet', source: 'Zhang et al., TPAMI 2021 (DPIR)', psnr: { 15: 34.3, 25: 31.69, 50: 28.51 } },
];

/** Published BSD68 grey denoising PSNR (dB) (the same 68 photos in grey), for context with --grey: not measured here. */
export const PUBLISHED_BSD68: { method: string; source: string; psnr: Record<number, number> }[] = [
  { method: 'BM3D', source: 'Dabov et al. 2007, as tabulated by Zhang et al. (DnCNN, 2017)', psnr: { 15: 31.07, 25: 28.57, 50: 25.62 } },
  { method: 'DnCNN', source: 'Zhang et al., TIP 2017 (DnCNN-S)', psnr: { 15: 31.72, 25: 29.23, 50: 26.23 } },
  { method: 'DRUNet', source: 'Zhang et al., TPAMI 2021 (DPIR)', psnr: { 15: 31.91, 25: 29.48, 50: 26.59 } },
];

/** A colour image made grey as MATLAB's rgb2gray does (0.2989 R + 0.5870 G + 0.1140 B, rounded), in three equal channels. */
export function rgb2gray(img: RgbImage): RgbImage {
  const d = new Uint8Array(img.data.length);
  for (let i = 0; i < d.length; i += 3) d[i] = d[i + 1] = d[i + 2] = Math.round(0.2989 * img.data[i] + 0.587 * img.data[i + 1] + 0.114 * img.data[i + 2]);
  return { width: img.width, height: img.height, data: d };
}

/**
 * Strength of the classical peers for a noise sigma. Fixed rules, chosen on held-out
 * training images (every 20th of ../shared/datasets/train, the last 10 of those), never on
 * the test sets: the best blur sigma there was 0.75 / 1.0 / 1.5 and the best median size
 * 3 / 3 / 7 at noise sigma 15 / 25 / 50.
 */
export function blurSigmaFor(noiseSigma: number): number {
  return 0.5 + noiseSigma / 50;
}

export function medianSizeFor(noiseSigma: number): number {
  return noiseSigma <= 30 ? 3 : noiseSigma <= 40 ? 5 : 7;
}

export const PEER_RULES = 'Gaussian blur sigma = 0.5 + noise sigma / 50; median size 3 up to noise sigma 30, 5 up to 40, 7 above (rules chosen on held-out training images)';

export interface DenoiseBenchOptions extends BenchOptions {
  sigmas: number[];
  seed?: number;
  stride?: number;
  /** Make every image grey (rgb2gray) and add the same noise to R, G and B: a grey benchmark. */
  grey?: boolean;
  onNote?: (msg: string) => void;
}

export interface DenoiseBenchResult {
  rows: DenoiseRow[];
  notes: string[];
  /** Mean sigma the MAE estimated from the noisy images, per true sigma. */
  estimatedSigma: Record<number, number>;
}

/** The float image (model scale) plus seeded Gaussian noise of `sigma` (0..255 scale), not clipped. */
export function addNoise(img: FloatImage, sigma: number, rng: Rng, grey = false): FloatImage {
  const s = sigma / 255;
  const d = new Float32Array(img.data.length);
  if (grey)
    for (let i = 0; i < d.length; i += 3) {
      const n = s * rng.normal();
      for (let c = 0; c < 3; c++) d[i + c] = img.data[i + c] + n;
    }
  else for (let i = 0; i < d.length; i++) d[i] = img.data[i] + s * rng.normal();
  return { width: img.width, height: img.height, data: d };
}

async function viaSharp(img: RgbImage, op: (s: sharp.Sharp) => sharp.Sharp): Promise<RgbImage> {
  const input = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } });
  const { data, info } = await op(input).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== img.width || info.height !== img.height || info.channels !== 3) throw new Error(`sharp returned ${info.width}x${info.height}x${info.channels}`);
  return { width: img.width, height: img.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

type Method = {
  name: (sigma: number) => string;
  run: (noisy: FloatImage, noisy8: RgbImage, sigma: number) => Promise<RgbImage>;
  /** Its time when not the run's own (a stage of another method). */
  seconds?: () => number;
};

export async function benchDenoise(o: DenoiseBenchOptions): Promise<DenoiseBenchResult> {
  const files = listImages(o.data).slice(0, o.limit ?? Infinity);
  if (files.length === 0) throw new Error(`no images in ${o.data}`);
  if (o.sigmas.length === 0) throw new Error('no noise sigma given');
  const runner = await MaeRunner.load(o.model, o.backend, { threads: o.threads });
  const notes: string[] = [];
  const note = (m: string) => {
    notes.push(m);
    o.onNote?.(m);
  };
  note('noise: Gaussian, added to the float image and not clipped; the MAE denoises that float image, the peers get it clipped to 0..255 and rounded to 8 bits (they need 8-bit input)');
  note(`MAE: model ${runner.modelId}, backend ${runner.backend.name}; blind: sigma is estimated from each noisy image (it sets how much of the input is blended back and the Wiener gains)`);
  note(`peers: ${PEER_RULES}`);
  if (o.grey) note('grey: every image made grey as MATLAB rgb2gray does, the same noise added to R, G and B; the MAE detects a grey image and denoises it as one');
  const cv = await loadOpenCv();
  note(
    cv && typeof cv.fastNlMeansDenoisingColored === 'function'
      ? 'OpenCV non-local means is available in this @techstark/opencv-js build but not wired into this benchmark'
      : `OpenCV non-local means: skipped (${cv ? 'this @techstark/opencv-js build has no fastNlMeansDenoisingColored' : '@techstark/opencv-js is not installed'})`,
  );
  const estimated: Record<number, number[]> = {};
  // The default pipeline runs stage by stage, timed: the MAE's estimate, the Wiener passes it
  // guides, the collaborative stage. The rows without a later stage score an earlier output
  // (their time is that of the stages they run); the classical row runs BM3D's two steps
  // alone (collab.ts with no model), so the table shows what the model adds.
  let stages: { mae: FloatImage; wiener: FloatImage; sigma: number; grey: boolean; seconds: number[] } | null = null;
  /** A row that reruns the collaborative stage with `opts` over the default's stages (its time in `stages.seconds[slot]`). */
  const collabVariant = (name: string, opts: { shifts?: number; search?: CollabSearch }, slot: number): Method => ({
    name: () => name,
    run: async (noisy) => {
      const t0 = performance.now();
      const out = collaborativeRefine(noisy, stages!.wiener, stageSigma(stages!.sigma, stages!.grey), { runner, ...opts });
      stages!.seconds[slot] = (performance.now() - t0) / 1000;
      return asOutput(out);
    },
    seconds: () => stages!.seconds[0] + stages!.seconds[1] + stages!.seconds[slot],
  });
  /** A stage's image as the command would return it (a grey image made exactly grey), leaving the stage as it is. */
  const asOutput = (img: FloatImage) => {
    if (!stages!.grey) return toRgb(img);
    const copy = { ...img, data: Float32Array.from(img.data) };
    makeGrey(copy.data);
    return toRgb(copy);
  };
  const methods: Method[] = [
    {
      name: () => 'mae denoise (default)',
      run: async (noisy, _n8, sigma) => {
        let t0 = performance.now();
        const lap = () => {
          const t = performance.now();
          const d = (t - t0) / 1000;
          t0 = t;
          return d;
        };
        const r = denoiseFloat(runner, noisy, { sigma: 'auto', stride: o.stride, wiener: 0, collab: false });
        const tMae = lap();
        (estimated[sigma] ??= []).push(r.sigma);
        // As denoiseFloat runs them (a grey image: the luma plane's sigma, a grey output).
        const s = stageSigma(r.sigma, r.grey);
        const wiener = runStage(runner, 'wiener', noisy, r.image, s, DEFAULT_WIENER);
        const tWiener = lap();
        const out = collaborativeRefine(noisy, wiener, s, { runner });
        stages = { mae: r.image, wiener, sigma: r.sigma, grey: r.grey, seconds: [tMae, tWiener, lap()] };
        return asOutput(out);
      },
      seconds: () => stages!.seconds[0] + stages!.seconds[1] + stages!.seconds[2],
    },
    // The collaborative stage again with another setting, over the default's Wiener output.
    collabVariant('mae denoise --collab-shifts 2', { shifts: 2 }, 3),
    collabVariant('mae denoise --collab-search dense', { search: 'dense' }, 4),
    { name: () => 'mae + wiener passes (--no-collab)', run: async () => asOutput(stages!.wiener), seconds: () => stages!.seconds[0] + stages!.seconds[1] },
    { name: () => 'mae alone (--wiener 0 --no-collab)', run: async () => asOutput(stages!.mae), seconds: () => stages!.seconds[0] },
    {
      name: () => 'classical only: collaborative stage, no model',
      run: async (noisy) => asOutput(collaborativeRefine(noisy, noisy, stageSigma(stages!.sigma, stages!.grey), { fuse: 1, runner })),
    },
    { name: (s) => `gaussian blur (sigma ${blurSigmaFor(s).toFixed(2)})`, run: (_n, n8, s) => viaSharp(n8, (x) => x.blur(blurSigmaFor(s))) },
    { name: (s) => `median filter (${medianSizeFor(s)}x${medianSizeFor(s)})`, run: (_n, n8, s) => viaSharp(n8, (x) => x.median(medianSizeFor(s))) },
    { name: () => 'noisy input (8-bit)', run: async (_n, n8) => n8 },
  ];
  const rows: DenoiseRow[] = [];
  for (const sigma of o.sigmas) {
    const acc = methods.map(() => ({ p: 0, s: 0, t: 0 }));
    for (let fi = 0; fi < files.length; fi++) {
      const read = await readRgb(files[fi]);
      const clean = o.grey ? rgb2gray(read) : read;
      const noisy = addNoise(toFloat(clean), sigma, new Rng((o.seed ?? 0) * 1000003 + fi * 1009 + Math.round(sigma * 16)), o.grey);
      const noisy8 = toRgb(noisy);
      for (let k = 0; k < methods.length; k++) {
        const t = process.hrtime.bigint();
        const out = await methods[k].run(noisy, noisy8, sigma);
        acc[k].t += methods[k].seconds?.() ?? Number(process.hrtime.bigint() - t) / 1e9;
        acc[k].p += psnr(out.data, clean.data);
        acc[k].s += ssim(out.data, clean.data, clean.width, clean.height);
      }
      o.onProgress?.(`sigma ${sigma}: ${fi + 1}/${files.length} ${path.basename(files[fi])}`);
    }
    const n = files.length;
    methods.forEach((m, k) => rows.push({ sigma, method: m.name(sigma), images: n, psnr: acc[k].p / n, ssim: acc[k].s / n, secondsPerImage: acc[k].t / n }));
  }
  const estimatedSigma: Record<number, number> = {};
  for (const [s, v] of Object.entries(estimated)) estimatedSigma[Number(s)] = v.reduce((a, b) => a + b, 0) / v.length;
  return { rows, notes, estimatedSigma };
}
