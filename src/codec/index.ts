/**
 * The MAE codec. The encoder keeps the patches the decoder would rebuild worst, codes
 * them with an 8x8 DCT transform coder, and codes which patches it removed; the decoder
 * decodes the kept patches and lets the MAE rebuild the removed ones from them.
 * docs/FORMAT.md specifies the file.
 */
import { RgbImage } from '../image/io';
import { MaeRunner, RunOptions } from '../model/runner';
import { CodecError, MaeFile, packContainer, unpackContainer } from './container';
import { BLOCK, decodeBlock, encodeBlock, quantTables, slopeStep } from './dct';
import { deblock, DeblockParams } from './deblock';
import { COEFFS_PER_PATCH, decodeCoeffs, decodeMask, encodeCoeffs, encodeMask, keptLayout, Method } from './entropy';
import { CodecParams, DEFAULT_QUALITY, qualityParams } from './quality';
import { chooseRemoved, estimateBits, interpolationScores, rdScores, removedCount } from './select';

export { CodecError } from './container';
export { qualityParams, DEFAULT_QUALITY } from './quality';

/** The codec's patch (and DCT block) side. */
export const PATCH = 8;
/**
 * Window stride (patches) and batch of the decoder's model run: fixed, so that decoding is
 * reproducible (docs/FORMAT.md, "Reconstruction with the model").
 */
export const DECODE_STRIDE = 4;
export const DECODE_BATCH = 8;
/** Encoder's AC dead-zone (measured on training images, docs/FORMAT.md). */
export const DEADZONE = 0.2;

export interface ModelInfo {
  modelId: string;
  patchSize: number;
  windowSize: number;
}

export function modelInfo(runner: MaeRunner): ModelInfo {
  return { modelId: runner.modelId, patchSize: runner.config.patchSize, windowSize: runner.config.windowSize };
}

export interface EncodeOptions {
  quality?: number;
  /** Overrides the removed share of the quality table. */
  ratio?: number;
  /** Overrides the DCT quality of the quality table (measurements). */
  dctQuality?: number;
  /** Forces an entropy-coding method for both streams (measurements). */
  method?: Method;
  /** AC dead-zone of the quantizer (measurements; default DEADZONE). */
  deadzone?: number;
  /** Patch ranking: 'rd' (default) or 'interp' (measurements). */
  select?: 'rd' | 'interp';
}

export interface EncodeResult {
  bytes: Uint8Array;
  params: CodecParams;
  removed: Uint8Array;
  /** Sizes of the mask and coefficient streams. */
  maskBytes: number;
  coeffBytes: number;
}

/** Edge-replicates an RGB image to (rows*p) x (cols*p), floats 0..255. */
function padToGrid(img: RgbImage, p: number): { data: Float32Array; rows: number; cols: number } {
  const cols = Math.ceil(img.width / p);
  const rows = Math.ceil(img.height / p);
  const W = cols * p;
  const data = new Float32Array(rows * p * W * 3);
  for (let y = 0; y < rows * p; y++) {
    const sy = Math.min(y, img.height - 1);
    for (let x = 0; x < W; x++) {
      const s = (sy * img.width + Math.min(x, img.width - 1)) * 3;
      const o = (y * W + x) * 3;
      data[o] = img.data[s];
      data[o + 1] = img.data[s + 1];
      data[o + 2] = img.data[s + 2];
    }
  }
  return { data, rows, cols };
}

export function encodeImage(img: RgbImage, model: ModelInfo, opts: EncodeOptions = {}): EncodeResult {
  if (model.patchSize !== PATCH) throw new CodecError(`the codec needs a model with ${PATCH}-pixel patches; model ${model.modelId} has ${model.patchSize}`);
  if (img.width < 1 || img.height < 1) throw new CodecError('the image is empty');
  const base = qualityParams(opts.quality ?? DEFAULT_QUALITY, opts.ratio);
  const params: CodecParams = { ...base, dctQuality: opts.dctQuality ?? base.dctQuality };
  const p = PATCH;
  const { data, rows, cols } = padToGrid(img, p);
  const n = rows * cols;
  const count = removedCount(n, params.ratio);
  const tables = quantTables(params.dctQuality);
  const W = cols * p;
  // Quantized coefficients of every patch (the removed ones are dropped below).
  const all = new Int32Array(n * COEFFS_PER_PATCH);
  const block = new Float64Array(BLOCK * 3);
  const rec = new Float64Array(BLOCK * 3);
  const quantMse = new Float64Array(n);
  const bits = new Float64Array(n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const qi = all.subarray(i * COEFFS_PER_PATCH, (i + 1) * COEFFS_PER_PATCH);
      for (let y = 0; y < p; y++) for (let x = 0; x < p * 3; x++) block[y * p * 3 + x] = data[((r * p + y) * W + c * p) * 3 + x];
      encodeBlock(block, tables, qi, opts.deadzone ?? DEADZONE);
      if (count === 0) continue;
      decodeBlock(qi, tables, rec);
      let s = 0;
      let m = 0;
      for (let y = 0; y < p && r * p + y < img.height; y++)
        for (let x = 0; x < p && c * p + x < img.width; x++)
          for (let k = 0; k < 3; k++) {
            const d = rec[(y * p + x) * 3 + k] - block[(y * p + x) * 3 + k];
            s += d * d;
            m++;
          }
      quantMse[i] = s / m;
      bits[i] = estimateBits(qi);
    }
  let removed: Uint8Array = new Uint8Array(n);
  if (count > 0) {
    const interp = interpolationScores(data, { rows, cols, p }, img.width, img.height);
    removed = chooseRemoved((opts.select ?? 'rd') === 'rd' ? rdScores(interp, quantMse, bits) : interp, count);
  }
  const lay = keptLayout(removed, rows, cols);
  const q = new Int32Array(lay.count * COEFFS_PER_PATCH);
  for (let i = 0, k = 0; i < n; i++) if (!removed[i]) q.set(all.subarray(i * COEFFS_PER_PATCH, (i + 1) * COEFFS_PER_PATCH), COEFFS_PER_PATCH * k++);
  const mask = encodeMask(removed, rows, cols, opts.method);
  const coeffs = encodeCoeffs(q, lay, opts.method);
  const bytes = packContainer({
    width: img.width,
    height: img.height,
    channels: 3,
    colorSpace: 'srgb',
    modelId: model.modelId,
    patchSize: p,
    windowSize: model.windowSize,
    quality: params.quality,
    ratio: params.ratio,
    dctQuality: params.dctQuality,
    mask,
    coeffs,
    latents: null,
  });
  return { bytes, params, removed, maskBytes: mask.length, coeffBytes: coeffs.length };
}

/** Reads the header only (checksum verified): size, model and parameters. */
export function inspect(bytes: Uint8Array, name = 'input'): MaeFile {
  return unpackContainer(bytes, name);
}

/** Whether decoding `f` runs the model: its mask removes at least one patch. `name` names the file if the mask is damaged. */
export function needsModel(f: MaeFile, name = 'input'): boolean {
  try {
    return decodeMask(f.mask, Math.ceil(f.height / f.patchSize), Math.ceil(f.width / f.patchSize)).some((v) => v);
  } catch (error) {
    throw new CodecError(`${name} is damaged: ${(error as Error).message}`);
  }
}

/** The model that rebuilds `f`'s removed patches: `runner`, if it is the one that encoded the file. */
function modelFor(f: MaeFile, runner: MaeRunner | null, name: string): MaeRunner {
  if (!runner) throw new CodecError(`${name} needs model ${f.modelId} to rebuild its removed patches`);
  if (f.modelId !== runner.modelId)
    throw new CodecError(`${name} was encoded with model ${f.modelId}, but the loaded model is ${runner.modelId}: pass --model with the folder of ${f.modelId}`);
  if (runner.config.patchSize !== f.patchSize || runner.config.windowSize !== f.windowSize)
    throw new CodecError(`${name} needs patch ${f.patchSize} and window ${f.windowSize}; model ${runner.modelId} has ${runner.config.patchSize} and ${runner.config.windowSize}`);
  return runner;
}

export interface DecodeOptions {
  onProgress?: RunOptions['onProgress'];
  /** Measurements only: skip the version-2 deblocking, or change its thresholds. */
  deblock?: boolean;
  deblockParams?: DeblockParams;
  /** Window stride in patches (measurements only: files decode with DECODE_STRIDE). */
  stride?: number;
}

export interface Decoded {
  image: RgbImage;
  file: MaeFile;
  /** Number of patches the model rebuilt. */
  removedPatches: number;
}

/**
 * Decodes an .mae file. A file whose patches were all kept (quality 15 and up by default)
 * decodes without the model (`runner` may be null, or any model), so it survives a change of
 * the shipped model; one with removed patches needs the model that encoded it (needsModel
 * tells which). `source` is the file's bytes, or the file as `inspect` already read it (not
 * unpacked twice). `name` names the file in errors.
 */
export function decodeImage(source: Uint8Array | MaeFile, runner: MaeRunner | null, name = 'input', opts: DecodeOptions = {}): Decoded {
  const f = source instanceof Uint8Array ? unpackContainer(source, name) : source;
  const p = f.patchSize;
  const cols = Math.ceil(f.width / p);
  const rows = Math.ceil(f.height / p);
  const W = cols * p;
  const H = rows * p;
  let removed: Uint8Array;
  let q: Int32Array;
  try {
    removed = decodeMask(f.mask, rows, cols);
    q = decodeCoeffs(f.coeffs, keptLayout(removed, rows, cols));
  } catch (error) {
    throw new CodecError(`${name} is damaged: ${(error as Error).message}`);
  }
  const tables = quantTables(f.dctQuality, f.version);
  const nRemoved = removed.reduce((s, v) => s + v, 0);
  const model = nRemoved > 0 ? modelFor(f, runner, name) : null;
  // Kept patches go straight to the output bytes (rounded, clamped) and, when the model runs,
  // to its input (v / 255 - 0.5, padded to at least one window): no full-size float64 copy,
  // so a 24-megapixel image decodes in well under 2 GB.
  const Wp = Math.max(W, f.windowSize);
  const Hp = Math.max(H, f.windowSize);
  const input = model ? new Float32Array(Wp * Hp * 3) : null;
  const data = new Uint8Array(f.width * f.height * 3);
  const block = new Float64Array(BLOCK * 3);
  let k = 0;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      if (removed[r * cols + c]) continue;
      decodeBlock(q.subarray(k * COEFFS_PER_PATCH, (k + 1) * COEFFS_PER_PATCH), tables, block);
      for (let y = 0; y < p; y++) {
        const gy = r * p + y;
        for (let x = 0; x < p * 3; x++) {
          const v = block[y * p * 3 + x];
          const gx = c * p * 3 + x;
          if (input) input[gy * Wp * 3 + gx] = v / 255 - 0.5;
          if (gy < f.height && gx < f.width * 3) data[gy * f.width * 3 + gx] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
      k++;
    }
  if (model && input) {
    // The model's input: patches beyond the grid count as removed.
    const cp = Wp / p;
    const rm = new Uint8Array((Hp / p) * cp).fill(1);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) rm[r * cp + c] = removed[r * cols + c];
    const out = model.run({ width: Wp, height: Hp, data: input }, rm, { stride: opts.stride ?? DECODE_STRIDE, batchSize: DECODE_BATCH, onProgress: opts.onProgress });
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        if (!removed[r * cols + c]) continue;
        for (let y = r * p; y < Math.min((r + 1) * p, f.height); y++)
          for (let x = c * p * 3; x < Math.min((c + 1) * p, f.width) * 3; x++) data[y * f.width * 3 + x] = Math.max(0, Math.min(255, Math.round((out.data[y * Wp * 3 + x] + 0.5) * 255)));
      }
  }
  if (f.version >= 2 && opts.deblock !== false) deblock(data, f.width, f.height, rows, cols, p, removed, slopeStep(f.dctQuality), opts.deblockParams);
  return { image: { width: f.width, height: f.height, data }, file: f, removedPatches: nRemoved };
}
