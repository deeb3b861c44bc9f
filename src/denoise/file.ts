/** Denoises one image file into another (read, denoise, atomic write): shared by the command and its worker threads. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fillTransparent, fillTransparentFloat } from '../image/alpha';
import { decodeDeep, decodeKeepingAlpha, DEEP_FORMATS, encodeDeep, probeImage, writeRgb } from '../image/io';
import { OutputExistsError, writeFileAtomic } from '../util/fsx';
import { MaeRunner } from '../model/runner';
import { denoise, denoiseFloat, DenoiseOptions } from './index';

export interface FileJob {
  input: string;
  output: string;
}

export interface FileResult {
  input: string;
  output: string;
  width: number;
  height: number;
  /** Sigma used, 0..255 scale. */
  sigma: number;
  sigmaEstimated: boolean;
  /** Denoised as a grey image (R = G = B; see DenoiseOptions.greyNoise) and written as one. */
  grey: boolean;
  /** The input had transparency, written back unchanged (where the output format stores it: not JPEG). */
  alpha: boolean;
  /** Bits per sample of the output: 16 for a 16-bit input written as PNG or TIFF, else 8. */
  bits: 8 | 16;
  seconds: number;
}

export type FileOptions = Pick<DenoiseOptions, 'sigma' | 'stride' | 'shifts' | 'ensemble' | 'wiener' | 'wienerStride' | 'collab' | 'collabShifts' | 'collabSearch' | 'onProgress'> & {
  /** Replace an existing output (--force); otherwise an existing output fails the file. */
  overwrite?: boolean;
};

export async function denoiseFile(runner: MaeRunner, job: FileJob, opts: FileOptions = {}): Promise<FileResult> {
  const t0 = process.hrtime.bigint();
  if (opts.overwrite === false && fs.existsSync(job.output)) throw new OutputExistsError(job.output);
  const format = path.extname(job.output).slice(1).toLowerCase() || 'png';
  const bits = DEEP_FORMATS.includes(format) ? (await probeImage(job.input)).bits : 8;
  const { width, height, r, alpha } = bits === 16 ? await denoiseDeep(runner, job, format, opts) : await denoise8(runner, job, opts);
  return {
    input: job.input,
    output: job.output,
    width,
    height,
    sigma: Math.round(r.sigma * 100) / 100,
    sigmaEstimated: r.sigmaEstimated,
    grey: r.grey,
    alpha,
    bits,
    seconds: Math.round(Number(process.hrtime.bigint() - t0) / 1e7) / 100,
  };
}

/** What a denoised file's result reports of its image. */
type Denoised = { width: number; height: number; r: { sigma: number; sigmaEstimated: boolean; grey: boolean }; alpha: boolean };

/** denoiseFile at 8 bits. */
async function denoise8(runner: MaeRunner, job: FileJob, opts: FileOptions): Promise<Denoised> {
  const { image: read, alpha } = await decodeKeepingAlpha(job.input);
  // Transparent pixels' colour, which nobody sees, is replaced by the fill of the visible ones first.
  const img = alpha ? fillTransparent(read, alpha) : read;
  const r = denoise(runner, img, opts);
  await writeRgb(job.output, r.image, { overwrite: opts.overwrite, grey: r.grey, alpha });
  return { width: img.width, height: img.height, r, alpha: alpha !== null };
}

/**
 * denoiseFile for a 16-bit input written as PNG or TIFF: decoded, denoised and written at 16
 * bits (the stages run on floats, so nothing is lost to 8-bit rounding on the way).
 */
async function denoiseDeep(runner: MaeRunner, job: FileJob, format: string, opts: FileOptions): Promise<Denoised> {
  const src = await decodeDeep(job.input);
  const { width, height } = src;
  const rgb = (src.alpha && fillTransparentFloat(src.data, width, height, src.alpha)) || src.data;
  const r = denoiseFloat(runner, { width, height, data: rgb.map((v) => v / 255 - 0.5) }, opts);
  const out = { width, height, data: r.image.data.map((v) => (v + 0.5) * 255), alpha: src.alpha };
  writeFileAtomic(job.output, await encodeDeep(out, format, { grey: r.grey }), { overwrite: opts.overwrite });
  return { width, height, r, alpha: src.alpha !== null };
}

/** The first line of an error's message, without a leading "Error: ". */
export function oneLine(error: unknown): string {
  const msg = error instanceof Error ? error.message : String(error);
  return (msg.split('\n')[0] || 'unknown error').replace(/^Error: /, '');
}
