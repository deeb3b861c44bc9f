/** File-level compress / decompress (used by the commands): paths, atomic writes, verification. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readRgb, writeRgb } from '../image/io';
import { psnr } from '../metrics/psnr';
import { ssim } from '../metrics/ssim';
import { MaeRunner, RunOptions } from '../model/runner';
import { writeFileAtomic } from '../util/fsx';
import { decodeImage, encodeImage, EncodeOptions, modelInfo } from './index';

/** A bad command line: MaeCommand's error handler exits with its code, 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export const DECODE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff'];

/**
 * Output path of every input. `out` is a folder when there are several inputs, when it ends
 * with a separator or when it is an existing folder; without `out`, each output goes beside
 * its input with extension `ext`.
 */
export function outputPaths(inputs: string[], out: string | undefined, ext: string): { outputs: string[]; toFolder: boolean } {
  if (inputs.length === 0) throw new UsageError('no input files');
  const toFolder = out !== undefined && (inputs.length > 1 || /[\\/]$/.test(out) || (fs.existsSync(out) && fs.statSync(out).isDirectory()));
  const swap = (f: string) => path.basename(f, path.extname(f)) + ext;
  const outputs = inputs.map((f) => (out === undefined ? path.join(path.dirname(f), swap(f)) : toFolder ? path.join(out, swap(f)) : out));
  const seen = new Map<string, string>();
  outputs.forEach((o, i) => {
    const key = path.resolve(o);
    const prev = seen.get(key);
    if (prev !== undefined) throw new UsageError(`${prev} and ${inputs[i]} would both be written to ${o}`);
    if (key === path.resolve(inputs[i])) throw new UsageError(`${inputs[i]} would overwrite itself: pass -o`);
    seen.set(key, inputs[i]);
  });
  return { outputs, toFolder };
}

export interface CompressResult {
  input: string;
  output: string;
  width: number;
  height: number;
  /** Size of the .mae file. */
  bytes: number;
  /** bytes x 8 / pixels. */
  bpp: number;
  quality: number;
  ratio: number;
  dctQuality: number;
  modelId: string;
  /** With --verify: of the decoded image against the input (null in JSON when identical). */
  psnr?: number;
  ssim?: number;
  encodeMs: number;
  decodeMs?: number;
}

export async function compressFile(input: string, output: string, runner: MaeRunner, opts: EncodeOptions & { verify?: boolean; onProgress?: RunOptions['onProgress'] }): Promise<CompressResult> {
  const img = await readRgb(input);
  const t0 = process.hrtime.bigint();
  const enc = encodeImage(img, modelInfo(runner), opts);
  const encodeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const res: CompressResult = {
    input,
    output,
    width: img.width,
    height: img.height,
    bytes: enc.bytes.length,
    bpp: (enc.bytes.length * 8) / (img.width * img.height),
    quality: enc.params.quality,
    ratio: enc.params.ratio,
    dctQuality: enc.params.dctQuality,
    modelId: runner.modelId,
    encodeMs,
  };
  if (opts.verify) {
    const t1 = process.hrtime.bigint();
    const dec = decodeImage(enc.bytes, runner, output, { onProgress: opts.onProgress });
    res.decodeMs = Number(process.hrtime.bigint() - t1) / 1e6;
    res.psnr = psnr(dec.image.data, img.data);
    res.ssim = ssim(dec.image.data, img.data, img.width, img.height);
  }
  writeFileAtomic(output, enc.bytes);
  return res;
}

export interface DecompressResult {
  input: string;
  output: string;
  width: number;
  height: number;
  /** Size of the .mae file. */
  bytes: number;
  bpp: number;
  modelId: string;
  decodeMs: number;
}

export async function decompressFile(input: string, output: string, runner: MaeRunner, onProgress?: RunOptions['onProgress']): Promise<DecompressResult> {
  if (!fs.existsSync(input)) throw new Error(`file not found: ${input}`);
  const ext = path.extname(output).toLowerCase();
  if (!DECODE_EXTENSIONS.includes(ext)) throw new UsageError(`unsupported output format '${ext || output}' (use ${DECODE_EXTENSIONS.join(', ')})`);
  const bytes = new Uint8Array(fs.readFileSync(input));
  const t0 = process.hrtime.bigint();
  const dec = decodeImage(bytes, runner, input, { onProgress });
  const decodeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await writeRgb(output, dec.image);
  const { width, height } = dec.image;
  return { input, output, width, height, bytes: bytes.length, bpp: (bytes.length * 8) / (width * height), modelId: dec.file.modelId, decodeMs };
}

export interface Failure {
  input: string;
  error: string;
}

/** Runs `fn` over every input, going on past failures (returned, one line each). */
export async function runBatch<T>(inputs: string[], fn: (index: number) => Promise<T>, onStart?: (index: number) => void): Promise<{ files: T[]; failures: Failure[] }> {
  const files: T[] = [];
  const failures: Failure[] = [];
  for (let i = 0; i < inputs.length; i++) {
    onStart?.(i);
    try {
      files.push(await fn(i));
    } catch (error) {
      if (inputs.length === 1) throw error;
      failures.push({ input: inputs[i], error: ((error as Error).message || String(error)).split('\n')[0] });
    }
  }
  return { files, failures };
}
