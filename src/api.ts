/**
 * The library API: compress, decompress, denoise, inpaint and compare images held in memory
 * (encoded image bytes or raw RGB pixels), with a model loaded once and reused. The commands
 * are built on these functions; src/index.ts exports them as the package's entry point.
 */
import * as path from 'node:path';
import { decodeImage, encodeImage, inspect as inspectFile, modelInfo, needsModel } from './codec';
import { MaeFile } from './codec/container';
import { CodecParams, DEFAULT_QUALITY, qualityParams } from './codec/quality';
import { checkDenoiseOptions, denoise as denoiseRgb } from './denoise';
import { denoiseFile as denoiseImageFile, FileResult as DenoiseFileResult } from './denoise/file';
import { checkRgb, decodeImageSource, decodeKeepingAlpha, encodeRgb, EncodeOptions, OUTPUT_FORMATS, RgbImage } from './image/io';
import { checkHoles, checkTension, holesFromMask, inpaint as inpaintRgb, InpaintError } from './inpaint';
import { CompareResult, compareRgb } from './metrics';
import { defaultModelDir, MaeRunner } from './model/runner';
import { UsageError } from './util/errors';
import { sameFile } from './util/fsx';

/** Raw pixels: 8-bit sRGB, interleaved R, G, B, row-major; `data.length === width * height * 3`. */
export type RawImage = RgbImage;

/** An image: the bytes of an encoded file (PNG, JPEG, WebP, AVIF, TIFF, GIF, SVG; a Buffer is fine) or raw pixels. */
export type ImageInput = Uint8Array | RawImage;

/** A loaded model (with its TensorFlow.js backend); load it once with loadModel and pass it in `model`. */
export type Model = MaeRunner;

export type ImageFormat = 'png' | 'jpg' | 'jpeg' | 'webp' | 'avif' | 'tif' | 'tiff';

export interface ModelOptions {
  /** A model from loadModel, or the folder of one (default: the shipped model, loaded once and cached). */
  model?: Model | string;
  /** TensorFlow.js backend when a model is loaded here: 'wasm', 'cpu', 'tfjs-node', ... (default: MAE_BACKEND, else auto). */
  backend?: string;
  /** Threads that run the model on one image when it is loaded here (default 1; see loadModel). */
  threads?: number;
}

export interface ProgressOptions {
  /** Model windows done out of the total (called synchronously while the model runs). */
  onProgress?: (done: number, total: number) => void;
}

const models = new Map<string, Promise<MaeRunner>>();

/**
 * Loads a model folder (default: the shipped model) and initialises its backend. Loads are
 * cached by folder, backend and threads, so calling it again is cheap. With `threads` > 1,
 * that many - 1 worker threads load their own copy in the background and share the windows
 * of each image (they never keep the process alive; `model.close()` stops them).
 */
export function loadModel(dir?: string, opts: { backend?: string; threads?: number } = {}): Promise<Model> {
  const threads = opts.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1)) return Promise.reject(new UsageError(`threads must be a positive integer, got ${String(opts.threads)}`));
  const key = `${path.resolve(dir ?? defaultModelDir())}\0${opts.backend ?? ''}\0${threads}`;
  let p = models.get(key);
  if (!p) {
    p = MaeRunner.load(dir, opts.backend, { threads });
    models.set(key, p);
    p.catch(() => models.delete(key));
  }
  return p;
}

async function useModel(o: ModelOptions): Promise<MaeRunner> {
  if (o.model instanceof MaeRunner) return o.model;
  if (o.model !== undefined && typeof o.model !== 'string') throw new UsageError('model must be a Model from loadModel() or a folder path');
  return loadModel(o.model, { backend: o.backend, threads: o.threads });
}

/** Decodes encoded image bytes (EXIF rotation applied, alpha flattened on white, 8-bit sRGB), or checks raw pixels. */
export async function toRawImage(image: ImageInput, name = 'image'): Promise<RawImage> {
  if (image instanceof Uint8Array) return decodeImageSource(image, name);
  checkRgb(image, name);
  return image;
}

/** Encodes raw pixels as an image file's bytes (PNG by default; JPEG at quality 95; WebP and AVIF lossless). */
export async function toImageBytes(image: RawImage, format: ImageFormat = 'png', opts: EncodeOptions = {}): Promise<Buffer> {
  if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`unsupported image format '${String(format)}' (use ${OUTPUT_FORMATS.join(', ')})`);
  checkRgb(image);
  return encodeRgb(image, format, opts);
}

export interface CompressOptions extends ModelOptions {
  /** 1..100 (default 50): sets the share of removed patches and the DCT quality (docs/FORMAT.md). */
  quality?: number;
  /** Share of patches to remove, 0 <= ratio < 1 (overrides the quality table). */
  ratio?: number;
}

/** The parameters compress() uses for these options: quality, removed share and DCT quality. */
export function compressParams(opts: Pick<CompressOptions, 'quality' | 'ratio'> = {}): CodecParams {
  try {
    return qualityParams(opts.quality ?? DEFAULT_QUALITY, opts.ratio);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Compresses an image into the bytes of an .mae file. */
export async function compress(image: ImageInput, opts: CompressOptions = {}): Promise<Buffer> {
  const params = compressParams(opts);
  const img = await toRawImage(image);
  const runner = await useModel(opts);
  const enc = encodeImage(img, modelInfo(runner), { quality: params.quality, ratio: params.ratio });
  return Buffer.from(enc.bytes.buffer, enc.bytes.byteOffset, enc.bytes.byteLength);
}

/** What an .mae file says about itself (checksum verified; no model needed). */
export type MaeHeader = Omit<MaeFile, 'mask' | 'coeffs' | 'latents'> & { maskBytes: number; coeffBytes: number };

export function inspect(mae: Uint8Array, name = 'input'): MaeHeader {
  const { mask, coeffs, latents: _latents, ...rest } = inspectFile(mae, name);
  return { ...rest, maskBytes: mask.length, coeffBytes: coeffs.length };
}

export interface DecompressOptions extends ModelOptions, ProgressOptions {
  /** Names the input in error messages (default 'input'). */
  name?: string;
}

/**
 * Decodes the bytes of an .mae file. The file is checked before any model is loaded. A file
 * whose mask removes patches needs the model that encoded it (its id is in the file); one with
 * every patch kept decodes without loading any. Errors are CodecErrors.
 */
export async function decompress(mae: Uint8Array, opts: DecompressOptions = {}): Promise<RawImage> {
  const name = opts.name ?? 'input';
  // The model is loaded only if the file's mask removes patches (a file with every patch kept decodes without it).
  const file = inspectFile(mae, name);
  const runner = needsModel(file, name) ? await useModel(opts) : null;
  return decodeImage(file, runner, name, { onProgress: opts.onProgress }).image;
}

/** For denoise, progress counts the model's windows, then the Wiener passes and the collaborative stage as shares of them. */
export interface DenoiseOptions extends ModelOptions, ProgressOptions {
  /** Noise sigma on the 0..255 scale, or 'auto' (default) to estimate it. */
  sigma?: number | 'auto';
  /** Window stride in patches (default: a whole window, no overlap). */
  stride?: number;
  /** Patch-grid offsets averaged: 1 (default), 2 or 4. */
  shifts?: number;
  /** Wiener passes guided by the MAE's estimate (default 2; 0: the MAE's estimate alone). */
  wiener?: number;
  /** Block stride of the Wiener passes in pixels, 1..8 (default 3; 2 is a little better and slower). */
  wienerStride?: number;
  /** The collaborative stage on groups of similar blocks (BM3D's two steps around the model's estimate; default true). */
  collab?: boolean;
  /** Grid offsets averaged in the collaborative stage: 1 (default) or 2 (+0.05 to +0.07 dB on CBSD68, twice the stage's time). */
  collabShifts?: number;
  /** How the collaborative stage finds its groups: 'grid' (default) or 'dense' (BM3D's search: +0.13 to +0.16 dB on CBSD68 (30.72 dB at sigma 25), about 5 times the stage's time; not with collabShifts 2). */
  collabSearch?: 'grid' | 'dense';
}

export interface DenoisedImage extends RawImage {
  /** Sigma used (0..255 scale). */
  sigma: number;
  sigmaEstimated: boolean;
  /** Denoised as a grey image (every input pixel R = G = B; the noise then the same in the three channels): the output is exactly grey. */
  grey: boolean;
}

/** The denoiser's own options out of the API's (sigma 'auto' by default), checked: a bad one is a UsageError. */
function denoiserOptions(opts: DenoiseOptions) {
  const o = { sigma: opts.sigma ?? 'auto', stride: opts.stride, shifts: opts.shifts, wiener: opts.wiener, wienerStride: opts.wienerStride, collab: opts.collab, collabShifts: opts.collabShifts, collabSearch: opts.collabSearch };
  try {
    checkDenoiseOptions(o);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return o;
}

export async function denoise(image: ImageInput, opts: DenoiseOptions = {}): Promise<DenoisedImage> {
  const o = denoiserOptions(opts);
  const img = await toRawImage(image);
  const runner = await useModel(opts);
  const r = denoiseRgb(runner, img, { ...o, onProgress: opts.onProgress });
  return { ...r.image, sigma: r.sigma, sigmaEstimated: r.sigmaEstimated, grey: r.grey };
}

export type { DenoiseFileResult };

export interface DenoiseFileOptions extends DenoiseOptions {
  /** Replace an existing output (default false: an existing output is an OutputExistsError). */
  overwrite?: boolean;
}

/**
 * Denoises one image file into another as `mae denoise` does: a grey photo as grey (written in
 * one channel), transparency kept, a 16-bit PNG or TIFF kept at 16 bits when the output is PNG
 * or TIFF; the format follows the output's extension; written atomically.
 */
export async function denoiseFile(input: string, output: string, opts: DenoiseFileOptions = {}): Promise<DenoiseFileResult> {
  const o = denoiserOptions(opts);
  if (!OUTPUT_FORMATS.includes(path.extname(output).slice(1).toLowerCase())) throw new UsageError(`unsupported output format for ${output} (use ${OUTPUT_FORMATS.join(', ')})`);
  if (sameFile(input, output)) throw new UsageError(`${input} would be overwritten by its own output`);
  const runner = await useModel(opts);
  return denoiseImageFile(runner, { input, output }, { ...o, overwrite: opts.overwrite ?? false, onProgress: opts.onProgress });
}

/** Pixels to fill: one byte per pixel, row-major, non-zero = fill. */
export interface HoleMask {
  width: number;
  height: number;
  holes: Uint8Array;
}

export interface InpaintOptions extends ModelOptions {
  /** Window stride in patches (default: half a window). */
  stride?: number;
  /** Tension of the spline fill whose correction of the harmonic fill is added to the model's output (default 0: the model's output alone; 1 smooths the fill's start at the border). */
  tension?: number;
  onProgress?: (done: number, total: number, pass: number, passes: number) => void;
}

/**
 * Fills the masked pixels. `mask` is an image of the same size (any non-zero colour channel
 * marks a pixel to fill) or a HoleMask. The other pixels are returned unchanged.
 */
export async function inpaint(image: ImageInput, mask: ImageInput | HoleMask, opts: InpaintOptions = {}): Promise<RawImage> {
  const img = await toRawImage(image);
  let holes: Uint8Array;
  let mw: number;
  let mh: number;
  if (!(mask instanceof Uint8Array) && 'holes' in mask) {
    ({ width: mw, height: mh, holes } = mask);
    if (!(holes instanceof Uint8Array) || holes.length !== mw * mh) throw new InpaintError(`mask.holes must be a Uint8Array of width x height (${mw}x${mh}) bytes`);
  } else {
    // An encoded mask keeps its transparency: a transparent pixel never marks a hole.
    const { image: m, alpha } = mask instanceof Uint8Array ? await decodeKeepingAlpha(mask, 'mask') : { image: await toRawImage(mask, 'mask'), alpha: null };
    ({ width: mw, height: mh } = m);
    holes = holesFromMask(m, alpha);
  }
  if (mw !== img.width || mh !== img.height) throw new InpaintError(`mask is ${mw}x${mh}, the image is ${img.width}x${img.height}`);
  checkHoles(holes);
  checkTension(opts.tension);
  const runner = await useModel(opts);
  return inpaintRgb(runner, img, holes, { stride: opts.stride, tension: opts.tension, onProgress: opts.onProgress });
}

export interface MetricsOptions {
  /** Also return pixelmatch's diff image (mismatched pixels in red). */
  diff?: boolean;
  /** pixelmatch threshold, 0..1 (default 0.1). */
  threshold?: number;
}

export interface MetricsResult extends CompareResult {
  diff?: RawImage;
}

/** PSNR (dB, Infinity when identical), SSIM and pixelmatch's count of mismatched pixels of `candidate` against `reference`. */
export async function metrics(reference: ImageInput, candidate: ImageInput, opts: MetricsOptions = {}): Promise<MetricsResult> {
  const [ref, cand] = await Promise.all([toRawImage(reference, 'reference'), toRawImage(candidate, 'candidate')]);
  const { result, diff } = compareRgb(ref, cand, { threshold: opts.threshold, diff: opts.diff });
  return diff ? { ...result, diff } : result;
}
