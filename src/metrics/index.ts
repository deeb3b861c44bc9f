/** Compares two RGB images: PSNR, SSIM and the pixelmatch count, with an optional diff image. */
import pixelmatch from 'pixelmatch';
import { RgbImage, writeRgb } from '../image/io';
import { psnr } from './psnr';
import { ssim } from './ssim';

export { mse, psnr } from './psnr';
export { ssim } from './ssim';

export interface CompareOptions {
  /** Write pixelmatch's diff image here (format by extension). */
  diffPath?: string;
  /** pixelmatch threshold (0..1, smaller is more sensitive). */
  threshold?: number;
  /** Replace an existing diff image (default true). */
  overwrite?: boolean;
}

export interface CompareResult {
  width: number;
  height: number;
  /** dB; Infinity for identical images (null once serialised to JSON). */
  psnr: number;
  ssim: number;
  mismatchedPixels: number;
  /** mismatchedPixels / (width*height). */
  mismatchedShare: number;
}

export class SizeMismatchError extends Error {}

function toRgba(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb[i * 3];
    out[i * 4 + 1] = rgb[i * 3 + 1];
    out[i * 4 + 2] = rgb[i * 3 + 2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

function toRgb(rgba: Uint8Array): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4];
    out[i * 3 + 1] = rgba[i * 4 + 1];
    out[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return out;
}

/** Compares two images; with `diff`, also returns pixelmatch's diff image (mismatched pixels in red). */
export function compareRgb(ref: RgbImage, cand: RgbImage, opts: { threshold?: number; diff?: boolean } = {}): { result: CompareResult; diff: RgbImage | null } {
  const { width, height } = ref;
  if (cand.width !== width || cand.height !== height) {
    throw new SizeMismatchError(`images differ in size: ${width}x${height} vs ${cand.width}x${cand.height}`);
  }
  const diff = opts.diff ? new Uint8Array(width * height * 4) : null;
  const mismatchedPixels = pixelmatch(toRgba(ref.data), toRgba(cand.data), diff, width, height, { threshold: opts.threshold ?? 0.1 });
  const result: CompareResult = {
    width,
    height,
    psnr: psnr(ref.data, cand.data),
    ssim: ssim(ref.data, cand.data, width, height, 3),
    mismatchedPixels,
    mismatchedShare: mismatchedPixels / (width * height),
  };
  return { result, diff: diff ? { width, height, data: toRgb(diff) } : null };
}

export async function compareImages(ref: RgbImage, cand: RgbImage, opts: CompareOptions = {}): Promise<CompareResult> {
  const { result, diff } = compareRgb(ref, cand, { threshold: opts.threshold, diff: Boolean(opts.diffPath) });
  if (diff && opts.diffPath) await writeRgb(opts.diffPath, diff, { overwrite: opts.overwrite });
  return result;
}
