/** File-level compress / decompress (used by the commands): paths, `-` for stdin/stdout, atomic writes, verification. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compress, compressParams, decompress, toImageBytes } from '../api';
import { decodeImage, inspect, needsModel } from './index';
import { readStdin, STDIO, writeStdout } from '../cli/stdio';
import { decodeKeepingAlpha, decodeRgb, readRgb, RgbImage } from '../image/io';
import { psnr } from '../metrics/psnr';
import { ssim } from '../metrics/ssim';
import { MaeRunner, RunOptions } from '../model/runner';
import { UsageError } from '../util/errors';
import { OutputExistsError, sameFile, writeFileAtomic } from '../util/fsx';

export { UsageError } from '../util/errors';

export const DECODE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff'];

/**
 * Output path of every input. `out` is a folder when there are several inputs, when it ends
 * with a separator or when it is an existing folder; without `out`, each output goes beside
 * its input with extension `ext`. `-` is standard input or output: alone, one input only.
 */
export function outputPaths(inputs: string[], out: string | undefined, ext: string): { outputs: string[]; toFolder: boolean } {
  if (inputs.length === 0) throw new UsageError('no input files');
  if (inputs.includes(STDIO) && inputs.length > 1) throw new UsageError("'-' (standard input) must be the only input");
  if (out === STDIO) {
    if (inputs.length > 1) throw new UsageError(`-o - (standard output) takes one input, got ${inputs.length}`);
    return { outputs: [STDIO], toFolder: false };
  }
  if (inputs[0] === STDIO && out === undefined) return { outputs: [STDIO], toFolder: false };
  const toFolder = out !== undefined && (inputs.length > 1 || /[\\/]$/.test(out) || (fs.existsSync(out) && fs.statSync(out).isDirectory()));
  if (toFolder && inputs[0] === STDIO) throw new UsageError('with standard input, -o must name a file (or - for standard output)');
  if (toFolder && fs.existsSync(out!) && !fs.statSync(out!).isDirectory()) throw new UsageError(`output ${out} is a file; with ${inputs.length} inputs it must be a folder`);
  const swap = (f: string) => path.basename(f, path.extname(f)) + ext;
  const outputs = inputs.map((f) => (out === undefined ? path.join(path.dirname(f), swap(f)) : toFolder ? path.join(out, swap(f)) : out));
  const seen = new Map<string, string>();
  outputs.forEach((o, i) => {
    const key = path.resolve(o);
    const prev = seen.get(key);
    if (prev !== undefined) throw new UsageError(`${prev} and ${inputs[i]} would both be written to ${o}`);
    seen.set(key, inputs[i]);
  });
  checkNotInputs(outputs, inputs);
  return { outputs, toFolder };
}

/** Refuses any output that is one of the inputs (same path or same file through a link), with or without --force. */
export function checkNotInputs(outputs: string[], inputs: string[]): void {
  for (const o of outputs) for (const i of inputs) if (sameFile(o, i)) throw new UsageError(`${i} would be overwritten by its own output: choose another output (-o)`);
}

/** Reads an image argument: a file, or `-` for standard input. */
export async function readImageArg(input: string): Promise<RgbImage> {
  return input === STDIO ? decodeRgb(await readStdin(), 'standard input') : readRgb(input);
}

/** readImageArg keeping transparency (decodeKeepingAlpha): the colour as stored, and the alpha plane or null. */
export async function readImageArgKeepingAlpha(input: string): Promise<{ image: RgbImage; alpha: Uint8Array | null }> {
  return input === STDIO ? decodeKeepingAlpha(await readStdin(), 'standard input') : decodeKeepingAlpha(input);
}

/** Reads a binary argument: a file (with clear errors), or `-` for standard input. */
export async function readBytesArg(input: string): Promise<Uint8Array> {
  if (input === STDIO) return readStdin();
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch {
    throw new Error(`file not found: ${input}`);
  }
  if (st.isDirectory()) throw new Error(`${input} is a folder, not a file`);
  try {
    return new Uint8Array(fs.readFileSync(input));
  } catch (error) {
    throw new Error(`cannot read ${input}: ${(error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
}

/** Writes bytes to a file atomically (refusing an existing one unless `overwrite`), or to standard output for `-`. */
export async function writeBytesArg(output: string, bytes: Uint8Array, overwrite: boolean): Promise<void> {
  if (output === STDIO) await writeStdout(bytes);
  else writeFileAtomic(output, bytes, { overwrite });
}

/** The format of an image output: its extension, or `format` (default png) for standard output. */
export function outputFormat(output: string, format?: string): string {
  if (output === STDIO) return format ?? 'png';
  const ext = path.extname(output).toLowerCase();
  if (!DECODE_EXTENSIONS.includes(ext)) throw new UsageError(`unsupported output format '${ext || output}' (use ${DECODE_EXTENSIONS.join(', ')})`);
  return ext.slice(1);
}

/** Encodes and writes an image to a file (atomically) or standard output. */
export async function writeImageArg(output: string, img: RgbImage, opts: { overwrite: boolean; format?: string; grey?: boolean; alpha?: Uint8Array | null }): Promise<void> {
  if (output !== STDIO && !opts.overwrite && fs.existsSync(output)) throw new OutputExistsError(output);
  await writeBytesArg(output, await toImageBytes(img, outputFormat(output, opts.format) as 'png', { grey: opts.grey, alpha: opts.alpha }), opts.overwrite);
}

/** A runner, or a function that loads it on first use (so a bad input fails before the model loads). */
export type RunnerSource = MaeRunner | (() => Promise<MaeRunner>);

function getRunner(r: RunnerSource): Promise<MaeRunner> {
  return r instanceof MaeRunner ? Promise.resolve(r) : r();
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

export interface CompressFileOptions {
  quality?: number;
  ratio?: number;
  verify?: boolean;
  /** Replace an existing output (--force). */
  overwrite?: boolean;
  onProgress?: RunOptions['onProgress'];
}

export async function compressFile(input: string, output: string, runner: RunnerSource, opts: CompressFileOptions = {}): Promise<CompressResult> {
  if (output !== STDIO && !opts.overwrite && fs.existsSync(output)) throw new OutputExistsError(output);
  const params = compressParams(opts);
  const img = await readImageArg(input);
  const model = await getRunner(runner);
  const t0 = process.hrtime.bigint();
  const bytes = await compress(img, { model, quality: params.quality, ratio: params.ratio });
  const encodeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const res: CompressResult = {
    input,
    output,
    width: img.width,
    height: img.height,
    bytes: bytes.length,
    bpp: (bytes.length * 8) / (img.width * img.height),
    quality: params.quality,
    ratio: params.ratio,
    dctQuality: params.dctQuality,
    modelId: model.modelId,
    encodeMs,
  };
  if (opts.verify) {
    const t1 = process.hrtime.bigint();
    const dec = await decompress(bytes, { model, name: output, onProgress: opts.onProgress });
    res.decodeMs = Number(process.hrtime.bigint() - t1) / 1e6;
    res.psnr = psnr(dec.data, img.data);
    res.ssim = ssim(dec.data, img.data, img.width, img.height);
  }
  await writeBytesArg(output, bytes, Boolean(opts.overwrite));
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

export interface DecompressFileOptions {
  /** Replace an existing output (--force). */
  overwrite?: boolean;
  /** Image format for standard output (default png). */
  format?: string;
  onProgress?: RunOptions['onProgress'];
}

export async function decompressFile(input: string, output: string, runner: RunnerSource, opts: DecompressFileOptions | RunOptions['onProgress'] = {}): Promise<DecompressResult> {
  const o: DecompressFileOptions = typeof opts === 'function' ? { onProgress: opts } : opts;
  const format = outputFormat(output, o.format);
  if (output !== STDIO && !o.overwrite && fs.existsSync(output)) throw new OutputExistsError(output);
  const name = input === STDIO ? 'standard input' : input;
  const bytes = await readBytesArg(input);
  const header = inspect(bytes, name); // a bad file fails here, before the model loads
  // Only a file whose mask removes patches needs the model: the others never load it.
  const model = needsModel(header, name) ? await getRunner(runner) : null;
  const t0 = process.hrtime.bigint();
  const { image } = decodeImage(header, model, name, { onProgress: o.onProgress });
  const decodeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await writeImageArg(output, image, { overwrite: Boolean(o.overwrite), format });
  const { width, height } = image;
  return { input, output, width, height, bytes: bytes.length, bpp: (bytes.length * 8) / (width * height), modelId: header.modelId, decodeMs };
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
