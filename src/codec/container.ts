/**
 * The .mae file: one MessagePack map of 16 entries (docs/FORMAT.md). Fields in this
 * order, checksum last: the first 16 hex digits of SHA-256 over the MessagePack map of
 * the 15 other fields, which is the file's bytes before the checksum entry with the map
 * header de 00 10 (map16, 16 entries) replaced by 8f (fixmap, 15 entries).
 */
import * as crypto from 'node:crypto';
import { Packr } from 'msgpackr';

export const MAGIC = 'MAE-CODEC';
export const VERSION = 1;

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
  /** Reserved: always null in version 1 (the decoder recomputes the latents). */
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

/** 0xa8 "checksum" 0xb0 <16 ASCII hex digits>: the last 26 bytes of every version-1 file. */
const CHECKSUM_KEY = Uint8Array.from([0xa8, ...Buffer.from('checksum', 'ascii')]);
const TAIL = CHECKSUM_KEY.length + 1 + 16;
/** A version-1 file starts with map16(16), "magic", "MAE-CODEC". */
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
  const body = new Uint8Array(packr.pack(ordered(f)));
  if (body[0] !== 0x8f) throw new Error('internal: unexpected MessagePack map header');
  const checksum = digest(body);
  // The same map with a 16th entry: header map16(16), then the 15 entries, then the checksum entry.
  const full = new Uint8Array(HEADER.length + body.length - 1 + TAIL);
  full.set(HEADER, 0);
  full.set(body.subarray(1), HEADER.length);
  full.set(CHECKSUM_KEY, full.length - TAIL);
  full[full.length - 17] = 0xb0;
  full.set(Buffer.from(checksum, 'ascii'), full.length - 16);
  return full;
}

/** Parses and checks a .mae file; `name` names it in errors. */
export function unpackContainer(bytes: Uint8Array, name: string): MaeFile {
  // Magic: a MessagePack map whose first entry is magic: "MAE-CODEC".
  const head = PREFIX.subarray(HEADER.length);
  const isMap = bytes.length > 0 && ((bytes[0] >= 0x80 && bytes[0] <= 0x8f) || bytes[0] === 0xde || bytes[0] === 0xdf);
  const off = bytes[0] === 0xde ? 3 : bytes[0] === 0xdf ? 5 : 1;
  const seen = bytes.subarray(off, off + head.length);
  if (!isMap || !seen.every((b, i) => b === head[i])) throw new CodecError(`${name} is not an .mae file`);
  if (seen.length < head.length) throw new CodecError(`${name} is truncated (${bytes.length} bytes)`);
  let obj: unknown;
  try {
    obj = packr.unpack(bytes);
  } catch (error) {
    if ((error as { incomplete?: boolean }).incomplete) throw new CodecError(`${name} is truncated (${bytes.length} bytes)`);
    throw new CodecError(`${name} is damaged: ${(error as Error).message.replace(/ \{.*$/, '')}`);
  }
  if (!obj || typeof obj !== 'object') throw new CodecError(`${name} is damaged: not a MessagePack map`);
  const o = obj as Record<string, unknown>;
  if (typeof o.version !== 'number') throw new CodecError(`${name} is damaged: no format version`);
  if (o.version > VERSION) throw new CodecError(`${name} uses .mae format version ${o.version}; this mae reads version ${VERSION}: upgrade mae-cli`);
  if (o.version !== VERSION) throw new CodecError(`${name} is damaged: format version ${String(o.version)}`);
  // Checksum over the 15-entry map: the bytes before the checksum entry, header 8f.
  const tailOk = HEADER.every((b, i) => bytes[i] === b) && bytes.length > TAIL && CHECKSUM_KEY.every((b, i) => bytes[bytes.length - TAIL + i] === b) && bytes[bytes.length - 17] === 0xb0;
  if (!tailOk || typeof o.checksum !== 'string') throw new CodecError(`${name} is damaged: no checksum at the end`);
  const body = new Uint8Array(bytes.length - TAIL - HEADER.length + 1);
  body[0] = 0x8f;
  body.set(bytes.subarray(HEADER.length, bytes.length - TAIL), 1);
  if (digest(body) !== o.checksum) throw new CodecError(`${name} is damaged: checksum mismatch`);
  const f = o as unknown as MaeFile;
  validate(f, (what) => new CodecError(`${name} is damaged: ${what}`));
  return f;
}

function validate(f: MaeFile, bad: (what: string) => Error): void {
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!posInt(f.width) || !posInt(f.height) || f.width > 65535 || f.height > 65535) throw bad(`bad image size ${String(f.width)}x${String(f.height)}`);
  if (f.channels !== 3) throw bad(`channels must be 3, got ${String(f.channels)}`);
  if (f.colorSpace !== 'srgb') throw bad(`colour space must be srgb, got ${String(f.colorSpace)}`);
  if (typeof f.modelId !== 'string' || !f.modelId) throw bad('no model id');
  if (f.patchSize !== 8) throw bad(`patch size must be 8, got ${String(f.patchSize)}`);
  if (!posInt(f.windowSize) || f.windowSize % f.patchSize !== 0) throw bad(`bad window size ${String(f.windowSize)}`);
  const q = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100;
  if (!q(f.quality)) throw bad(`quality must be 1..100, got ${String(f.quality)}`);
  if (!q(f.dctQuality)) throw bad(`DCT quality must be 1..100, got ${String(f.dctQuality)}`);
  if (typeof f.ratio !== 'number' || !(f.ratio >= 0 && f.ratio < 1)) throw bad(`ratio must be in [0, 1), got ${String(f.ratio)}`);
  if (!(f.mask instanceof Uint8Array) || !(f.coeffs instanceof Uint8Array)) throw bad('mask and coeffs must be binary');
  if (f.latents !== null) throw bad('latents must be null in format version 1');
}
