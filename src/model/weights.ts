/**
 * The weights format: a folder with `model.json` (TensorFlow.js weights manifest plus the
 * model config, training record and model id) and one `weights.bin` shard. Tensor names
 * follow the reference implementation's state dict; see docs/MODEL.md for each layout.
 * Float32 or float16 storage (tfjs manifest `quantization: {dtype: 'float16'}`), always
 * float32 compute.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, MaeConfig, validateConfig } from './config';
import { paramSpecs } from './mae';
import { writeFileAtomic } from '../util/fsx';

export const WEIGHTS_FORMAT = 'mae-tfjs-weights';
export const WEIGHTS_FORMAT_VERSION = 1;

export interface TrainingRecord {
  data?: string;
  steps?: number;
  samples?: number;
  wallSeconds?: number;
  [key: string]: unknown;
}

export interface ModelFile {
  format: string;
  formatVersion: number;
  modelId: string;
  config: MaeConfig;
  training: TrainingRecord;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32'; quantization?: { dtype: 'float16' } }[] }[];
}

export interface LoadedModel {
  dir: string;
  modelId: string;
  config: MaeConfig;
  training: TrainingRecord;
  values: Record<string, Float32Array>;
}

export class ModelError extends Error {}

/** A short stable id: sha256 of the config and the stored weight bytes. */
export function computeModelId(config: MaeConfig, weightBytes: Uint8Array): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify(canonicalConfig(config)));
  h.update(weightBytes);
  return `mae-${h.digest('hex').slice(0, 16)}`;
}

function canonicalConfig(c: MaeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(c).sort()) {
    // Off-by-default extensions are left out so that ids of models saved before them stay.
    if (k === 'patchSkip' && !c.patchSkip) continue;
    if (k === 'hint' && c.hint === 'relaxed') continue;
    out[k] = (c as unknown as Record<string, unknown>)[k];
  }
  return out;
}

// float32 <-> float16 conversion (IEEE half, round to nearest even).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant = (mant | 0x800000) >>> (1 - e);
    if (mant & 0x1000 && mant & 0x2fff) mant += 0x2000;
    return sign | (mant >>> 13);
  }
  if (mant & 0x1000 && mant & 0x2fff) {
    mant += 0x2000;
    if (mant & 0x800000) {
      mant = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | (mant >>> 13);
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export interface SaveOptions {
  dtype?: 'float32' | 'float16';
  training?: TrainingRecord;
}

/** Writes model.json and weights.bin into `dir` (each atomically). Returns the model id. */
export function saveModel(dir: string, config: MaeConfig, values: Record<string, Float32Array>, opts: SaveOptions = {}): string {
  const dtype = opts.dtype ?? 'float32';
  const specs = paramSpecs(config);
  const total = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const bytes = new Uint8Array(total * (dtype === 'float16' ? 2 : 4));
  const view = new DataView(bytes.buffer);
  let off = 0;
  for (const s of specs) {
    const v = values[s.name];
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!v || v.length !== n) throw new ModelError(`tensor ${s.name} has ${v ? v.length : 0} values, expected ${n}`);
    for (let i = 0; i < n; i++) {
      if (dtype === 'float16') {
        view.setUint16(off, toHalf(v[i]), true);
        off += 2;
      } else {
        view.setFloat32(off, v[i], true);
        off += 4;
      }
    }
  }
  const modelId = computeModelId(config, bytes);
  const file: ModelFile = {
    format: WEIGHTS_FORMAT,
    formatVersion: WEIGHTS_FORMAT_VERSION,
    modelId,
    config,
    training: opts.training ?? {},
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' as const, ...(dtype === 'float16' ? { quantization: { dtype: 'float16' as const } } : {}) })),
      },
    ],
  };
  writeFileAtomic(path.join(dir, 'weights.bin'), bytes);
  writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(file, null, 1) + '\n');
  return modelId;
}

/** Reads a model folder (or its model.json). Every problem is a ModelError naming the file. */
export function loadModel(dirOrJson: string): LoadedModel {
  const jsonPath = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, 'model.json');
  const dir = path.dirname(jsonPath);
  if (!fs.existsSync(jsonPath)) throw new ModelError(`model file not found: ${jsonPath}`);
  let file: ModelFile;
  try {
    file = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as ModelFile;
  } catch (error) {
    throw new ModelError(`model file ${jsonPath} is not valid JSON (${(error as Error).message})`);
  }
  if (!file || file.format !== WEIGHTS_FORMAT) throw new ModelError(`${jsonPath} is not an mae model (format '${String(file?.format)}', expected '${WEIGHTS_FORMAT}')`);
  if (file.formatVersion > WEIGHTS_FORMAT_VERSION) throw new ModelError(`${jsonPath} has weights format version ${file.formatVersion}; this mae reads up to ${WEIGHTS_FORMAT_VERSION}: upgrade mae-cli`);
  let config: MaeConfig;
  try {
    // Keys added after a model was saved take the value that matches its tensors.
    config = validateConfig({ ...DEFAULT_CONFIG, ...{ patchSkip: false, hint: 'relaxed' as const }, ...file.config });
  } catch (error) {
    if (error instanceof ConfigError) throw new ModelError(`${jsonPath}: ${error.message}`);
    throw error;
  }
  const group = file.weightsManifest?.[0];
  if (!group || !Array.isArray(group.paths) || group.paths.length === 0) throw new ModelError(`${jsonPath} has no weights manifest`);
  const chunks: Buffer[] = [];
  for (const p of group.paths) {
    const bin = path.join(dir, p);
    if (!fs.existsSync(bin)) throw new ModelError(`weights file not found: ${bin}`);
    chunks.push(fs.readFileSync(bin));
  }
  const buf = Buffer.concat(chunks);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const byName = new Map(group.weights.map((w) => [w.name, w]));
  const values: Record<string, Float32Array> = {};
  let off = 0;
  const binName = path.join(dir, group.paths[0]);
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const half = w.quantization?.dtype === 'float16';
    const need = n * (half ? 2 : 4);
    if (off + need > bytes.length) throw new ModelError(`weights file ${binName} is truncated: ${bytes.length} bytes, the manifest needs more (at ${w.name})`);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = half ? fromHalf(view.getUint16(off + 2 * i, true)) : view.getFloat32(off + 4 * i, true);
    off += need;
    values[w.name] = v;
  }
  if (off !== bytes.length) throw new ModelError(`weights file ${binName} has ${bytes.length} bytes, the manifest describes ${off}`);
  for (const s of paramSpecs(config)) {
    const w = byName.get(s.name);
    if (!w) throw new ModelError(`${jsonPath} lacks tensor ${s.name}`);
    if (w.shape.join('x') !== s.shape.join('x')) throw new ModelError(`${jsonPath}: tensor ${s.name} has shape [${w.shape}], the config needs [${s.shape}]`);
  }
  const id = computeModelId(config, bytes);
  if (file.modelId && file.modelId !== id) throw new ModelError(`weights file ${binName} does not match ${jsonPath} (model id ${id}, expected ${file.modelId}): the files are damaged or mixed up`);
  return { dir, modelId: id, config, training: file.training ?? {}, values };
}
