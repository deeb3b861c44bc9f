/**
 * The .mae file: one MessagePack map of 16 entries (docs/FORMAT.md). Fields in this
 * order, checksum last: the first 16 hex digits of SHA-256 over the MessagePack map of
 * the 15 other fields, which is the file's bytes before the checksum entry with the map
 * header de 00 10 (map16, 16 entries) replaced by 8f (fixmap, 15 entries).
 */
import * as crypto from 'node:crypto';
import { Packr } from 'msgpackr';
import { maxPixels, megapixels } from '../util/limits';

export const MAGIC = 'MAE-CODEC';
/** Version written. Version 2 changed only what dctQuality selects (the slope tables, see dct.ts). */
export const VERSION = 2;
/** Oldest version read (version 1: JPEG Annex K tables). */
export const MIN_VERSION = 1;

export interface MaeFields {
  width: number;
  height: number;
  channels: 3;
  colorSpace: 'srgb';
  modelId: string;
  patchSize: number;
  windowSize: number;
  quality: number;
  ratio: number;
  dctQuality: number;
  /** Removed-patch mask stream (method byte + body). */
  mask: Uint8Array;
  /** Coefficient stream of the kept patches (method byte + body). */
  coeffs: Uint8Array;
  /** Reserved: always null in versions 1 and 2 (the decoder recomputes the latents). */
  latents: null;
}

export interface MaeFile extends MaeFields {
  magic: string;
  version: number;
  checksum: string;
}

export class CodecError extends Error {}

const FIELD_ORDER = ['magic', 'version', 'width', 'height', 'channels', 'colorSpace', 'modelId', 'patchSize', 'windowSize', 'quality', 'ratio', 'dctQuality', 'mask', 'coeffs', 'latents'] as const;

// Plain MessagePack maps (no msgpackr record extension), float64 for non-integers.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });

/** 0xa8 "checksum" 0xb0 <16 ASCII hex digits>: the last 26 bytes of every file (versions 1 and 2). */
const CHECKSUM_KEY = Uint8Array.from([0xa8, ...Buffer.from('checksum', 'ascii')]);
const TAIL = CHECKSUM_KEY.length + 1 + 16;
/** A file starts with map16(16), "magic", "MAE-CODEC". */
const HEADER = Uint8Array.from([0xde, 0x00, 0x10]);
const PREFIX = Uint8Array.from([...HEADER, 0xa5, ...Buffer.from('magic', 'ascii'), 0xa9, ...Buffer.from(MAGIC, 'ascii')]);

function digest(body: Uint8Array): string {
  return crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
}

function ordered(f: MaeFields): Record<string, unknown> {
  const all: Record<string, unknown> = { magic: MAGIC, version: VERSION, ...f };
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) out[k] = all[k];
  return out;
}

export function packContainer(f: MaeFields): Uint8Array {
  validate({ ...f, magic: MAGIC, version: VERSION, checksum: '' }, (what) => new Error(`cannot write an .mae file: ${what}`));
  return sealUnchecked(ordered(f));
}

/** Reads the version entry that follows the magic in every version of the format, by hand. */
function peekVersion(bytes: Uint8Array, at: number): { version?: number; truncated?: boolean } {
  const key = Uint8Array.from([0xa7, ...Buffer.from('version', 'ascii')]);
  for (let i = 0; i < key.length; i++) {
    if (at + i >= bytes.length) return { truncated: true };
    if (bytes[at + i] !== key[i]) return {};
  }
  const o = at + key.length;
  if (o >= bytes.length) return { truncated: true };
  const b = bytes[o];
  if (b <= 0x7f) return { version: b };
  const sizes: Record<number, number> = { 0xcc: 1, 0xcd: 2, 0xce: 4 };
  const n = sizes[b];
  if (!n) return {};
  if (o + n >= bytes.length) return { truncated: true };
  let v = 0;
  for (let i = 1; i <= n; i++) v = v * 256 + bytes[o + i];
  return { version: v };
}

const FIELDS = new Set<string>([...FIELD_ORDER, 'checksum']);

/**
 * Parses and checks a .mae file; `name` names it in errors. Every problem is a CodecError
 * of one line. The magic, version and checksum are checked on the raw bytes before the
 * MessagePack parser sees them, so a damaged or truncated file is refused without parsing it.
 */
export function unpackContainer(bytes: Uint8Array, name: string): MaeFile {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`${name}: an .mae file must be given as bytes (Buffer or Uint8Array)`);
  if (bytes.length === 0) throw new CodecError(`${name} is not an .mae file (it is empty)`);
  // Magic: a MessagePack map whose first entry is magic: "MAE-CODEC".
  const head = PREFIX.subarray(HEADER.length);
  const isMap = (bytes[0] >= 0x80 && bytes[0] <= 0x8f) || bytes[0] === 0xde || bytes[0] === 0xdf;
  const off = bytes[0] === 0xde ? 3 : bytes[0] === 0xdf ? 5 : 1;
  const seen = bytes.subarray(off, off + head.length);
  if (!isMap || !seen.every((b, i) => b === head[i])) throw new CodecError(`${name} is not an .mae file (wrong magic)`);
  if (seen.length < head.length || bytes.length < off) throw new CodecError(`${name} is truncated (${bytes.length} bytes)`);
  const v = peekVersion(bytes, off + head.length);
  if (v.truncated) throw new CodecError(`${name} is truncated (${bytes.length} bytes)`);
  if (v.version === undefined) throw new CodecError(`${name} is damaged: no format version after the magic`);
  if (v.version > VERSION) throw new CodecError(`${name} uses .mae format version ${v.version}; this mae reads version ${VERSION}: upgrade mae-cli`);
  if (v.version < MIN_VERSION) throw new CodecError(`${name} is damaged: format version ${v.version}`);
  // Checksum over the 15-entry map: the bytes before the checksum entry, header 8f.
  // A map16 of N entries, the checksum last: the checksum covers fixmap(N - 1) and the N - 1 other entries (N = 16 in versions 1 and 2).
  const entries = bytes[0] === 0xde && bytes.length > 3 ? bytes[1] * 256 + bytes[2] : 0;
  const tailOk = entries >= 3 && entries <= 16 && bytes.length > TAIL + PREFIX.length && CHECKSUM_KEY.every((b, i) => bytes[bytes.length - TAIL + i] === b) && bytes[bytes.length - 17] === 0xb0;
  if (!tailOk) {
    const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(Buffer.from(CHECKSUM_KEY));
    if (at > 0 && at + TAIL < bytes.length && bytes[at + CHECKSUM_KEY.length] === 0xb0)
      throw new CodecError(`${name} is damaged: ${bytes.length - at - TAIL} unexpected bytes after the checksum`);
    throw new CodecError(`${name} is truncated or its end is damaged: no checksum at its end (${bytes.length} bytes)`);
  }
  const stored = Buffer.from(bytes.subarray(bytes.length - 16)).toString('latin1');
  if (!/^[0-9a-f]{16}$/.test(stored)) throw new CodecError(`${name} is damaged: the checksum is not 16 hex digits`);
  const body = new Uint8Array(bytes.length - TAIL - HEADER.length + 1);
  body[0] = 0x80 | (entries - 1);
  body.set(bytes.subarray(HEADER.length, bytes.length - TAIL), 1);
  if (digest(body) !== stored) throw new CodecError(`${name} is damaged: checksum mismatch (the file was altered or truncated)`);
  let obj: unknown;
  try {
    obj = packr.unpack(bytes);
  } catch (error) {
    if ((error as { incomplete?: boolean }).incomplete) throw new CodecError(`${name} is damaged: a field runs past the end of the file`);
    throw new CodecError(`${name} is damaged: ${((error as Error).message || String(error)).split('\n')[0].replace(/ \{.*$/, '')}`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj) || obj instanceof Uint8Array) throw new CodecError(`${name} is damaged: not a MessagePack map`);
  const o = obj as Record<string, unknown>;
  const keys = Object.keys(o);
  const extra = keys.find((k) => !FIELDS.has(k));
  if (extra !== undefined) throw new CodecError(`${name} is damaged: unexpected field '${extra.slice(0, 32)}'`);
  const missing = [...FIELDS].find((k) => !(k in o));
  if (missing !== undefined) throw new CodecError(`${name} is damaged: field '${missing}' is missing`);
  if (o.magic !== MAGIC) throw new CodecError(`${name} is not an .mae file (wrong magic)`);
  if (o.version !== v.version) throw new CodecError(`${name} is damaged: format version ${String(o.version)}`);
  if (o.checksum !== stored) throw new CodecError(`${name} is damaged: the checksum field is not the last entry`);
  const f = o as unknown as MaeFile;
  validate(f, (what) => new CodecError(`${name} is damaged: ${what}`));
  return f;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'a map';
}

function validate(f: MaeFile, bad: (what: string) => Error): void {
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!posInt(f.width) || !posInt(f.height) || f.width > 65535 || f.height > 65535) throw bad(`bad image size ${describe(f.width)}x${describe(f.height)}`);
  const limit = maxPixels();
  if (f.width * f.height > limit) throw bad(`image size ${f.width}x${f.height} is over the limit of ${megapixels(limit)} (MAE_MAX_PIXELS)`);
  if (f.channels !== 3) throw bad(`channels must be 3, got ${describe(f.channels)}`);
  if (f.colorSpace !== 'srgb') throw bad(`colour space must be srgb, got ${describe(f.colorSpace)}`);
  if (typeof f.modelId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(f.modelId)) throw bad(`bad model id ${describe(f.modelId)}`);
  if (f.patchSize !== 8) throw bad(`patch size must be 8, got ${describe(f.patchSize)}`);
  if (!posInt(f.windowSize) || f.windowSize % f.patchSize !== 0 || f.windowSize > 1024) throw bad(`bad window size ${describe(f.windowSize)}`);
  const q = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100;
  if (!q(f.quality)) throw bad(`quality must be 1..100, got ${describe(f.quality)}`);
  if (!q(f.dctQuality)) throw bad(`DCT quality must be 1..100, got ${describe(f.dctQuality)}`);
  if (typeof f.ratio !== 'number' || !(f.ratio >= 0 && f.ratio < 1)) throw bad(`ratio must be in [0, 1), got ${describe(f.ratio)}`);
  if (!(f.mask instanceof Uint8Array)) throw bad(`mask must be binary, got ${describe(f.mask)}`);
  if (!(f.coeffs instanceof Uint8Array)) throw bad(`coeffs must be binary, got ${describe(f.coeffs)}`);
  if (f.mask.length < 1 || f.coeffs.length < 1) throw bad(`${f.mask.length < 1 ? 'mask' : 'coeffs'} stream is empty`);
  if (f.latents !== null) throw bad('latents must be null in format versions 1 and 2');
}

/**
 * For tests and tools: seals arbitrary fields into a container with a valid checksum and no
 * validation (to make files that are well formed but wrong, as a hostile writer could).
 */
export function sealUnchecked(fields: Record<string, unknown>): Uint8Array {
  const body = new Uint8Array(packr.pack({ magic: MAGIC, version: VERSION, ...fields }));
  if ((body[0] & 0xf0) !== 0x80 || (body[0] & 0x0f) < 2) throw new Error('sealUnchecked takes 2 to 15 fields including magic and version');
  const checksum = digest(body);
  const full = new Uint8Array(HEADER.length + body.length - 1 + TAIL);
  full.set([0xde, 0x00, (body[0] & 0x0f) + 1], 0);
  full.set(body.subarray(1), HEADER.length);
  full.set(CHECKSUM_KEY, full.length - TAIL);
  full[full.length - 17] = 0xb0;
  full.set(Buffer.from(checksum, 'ascii'), full.length - 16);
  return full;
}
