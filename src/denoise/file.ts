/** Denoises one image file into another (read, denoise, atomic write): shared by the command and its worker threads. */
import * as fs from 'node:fs';
import { fillTransparent } from '../image/alpha';
import { decodeKeepingAlpha, writeRgb } from '../image/io';
import { OutputExistsError } from '../util/fsx';
import { MaeRunner } from '../model/runner';
import { denoise, DenoiseOptions } from './index';

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
  seconds: number;
}

export type FileOptions = Pick<DenoiseOptions, 'sigma' | 'stride' | 'shifts' | 'ensemble' | 'wiener' | 'wienerStride' | 'collab' | 'collabShifts' | 'collabSearch' | 'onProgress'> & {
  /** Replace an existing output (--force); otherwise an existing output fails the file. */
  overwrite?: boolean;
};

export async function denoiseFile(runner: MaeRunner, job: FileJob, opts: FileOptions = {}): Promise<FileResult> {
  const t0 = process.hrtime.bigint();
  if (opts.overwrite === false && fs.existsSync(job.output)) throw new OutputExistsError(job.output);
  const { image: read, alpha } = await decodeKeepingAlpha(job.input);
  // Transparent pixels' colour, which nobody sees, is replaced by the fill of the visible ones first.
  const img = alpha ? fillTransparent(read, alpha) : read;
  const r = denoise(runner, img, opts);
  await writeRgb(job.output, r.image, { overwrite: opts.overwrite, grey: r.grey, alpha });
  return {
    input: job.input,
    output: job.output,
    width: img.width,
    height: img.height,
    sigma: Math.round(r.sigma * 100) / 100,
    sigmaEstimated: r.sigmaEstimated,
    grey: r.grey,
    alpha: alpha !== null,
    seconds: Math.round(Number(process.hrtime.bigint() - t0) / 1e7) / 100,
  };
}

/** The first line of an error's message, without a leading "Error: ". */
export function oneLine(error: unknown): string {
  const msg = error instanceof Error ? error.message : String(error);
  return (msg.split('\n')[0] || 'unknown error').replace(/^Error: /, '');
}
