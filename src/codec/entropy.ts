/**
 * Entropy coding of the codec's two streams, each starting with a method byte:
 *
 * - the removed-patch mask: method 0 = packed bits deflated, method 1 = context-adaptive
 *   range coding (context: the left, top-left, top and top-right flags);
 * - the quantized coefficients of the kept patches: method 0 = run-length + varints
 *   deflated, method 1 = context-adaptive binary range coding.
 *
 * The encoder writes both methods and keeps the shorter (deterministic). docs/FORMAT.md
 * specifies every bit.
 */
import * as zlib from 'node:zlib';
import { BLOCK } from './dct';
import { probs, RangeDecoder, RangeEncoder } from './rangecoder';

export const METHOD_DEFLATE = 0;
export const METHOD_RANGE = 1;
export type Method = typeof METHOD_DEFLATE | typeof METHOD_RANGE;

/** Values per kept patch: Y, Cb, Cr, 64 zigzag coefficients each. */
export const COEFFS_PER_PATCH = 3 * BLOCK;

export class StreamError extends Error {}

const DEFLATE_OPTS: zlib.ZlibOptions = { level: 9, memLevel: 9, strategy: zlib.constants.Z_DEFAULT_STRATEGY };

/** Inflates a stream that cannot hold more than `max` bytes (a damaged or hostile stream stops there). */
function inflate(buf: Uint8Array, what: string, max: number): Uint8Array {
  try {
    return new Uint8Array(zlib.inflateRawSync(buf, { maxOutputLength: Math.max(1, max) }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new StreamError(`${what} stream is corrupt (it inflates to more than the image needs)`);
    throw new StreamError(`${what} stream is corrupt (${(error as Error).message})`);
  }
}

function withMethod(method: Method, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = method;
  out.set(body, 1);
  return out;
}

function shorter(a: Uint8Array, b: Uint8Array): Uint8Array {
  return b.length < a.length ? b : a;
}

// ---------------------------------------------------------------------------------------
// Mask

/** Codes the removed flags (rows x cols, row-major); `method` forces one method. */
export function encodeMask(removed: Uint8Array, rows: number, cols: number, method?: Method): Uint8Array {
  if (removed.length !== rows * cols) throw new RangeError(`mask has ${removed.length} flags, expected ${rows * cols}`);
  const a = method === METHOD_RANGE ? null : withMethod(METHOD_DEFLATE, new Uint8Array(zlib.deflateRawSync(packBits(removed), DEFLATE_OPTS)));
  const b = method === METHOD_DEFLATE ? null : withMethod(METHOD_RANGE, rangeMask(removed, rows, cols));
  return a && b ? shorter(b, a) : (a ?? b)!;
}

export function decodeMask(buf: Uint8Array, rows: number, cols: number): Uint8Array {
  if (buf.length < 1) throw new StreamError('mask stream is empty');
  const body = buf.subarray(1);
  if (buf[0] === METHOD_DEFLATE) {
    const bits = inflate(body, 'mask', Math.ceil((rows * cols) / 8) + 1);
    if (bits.length !== Math.ceil((rows * cols) / 8)) throw new StreamError(`mask stream has ${bits.length} bytes, expected ${Math.ceil((rows * cols) / 8)}`);
    return unpackBits(bits, rows * cols);
  }
  if (buf[0] === METHOD_RANGE) return unrangeMask(body, rows, cols);
  throw new StreamError(`unknown mask coding method ${buf[0]}`);
}

/** MSB first, row-major, the last byte zero-padded. */
export function packBits(flags: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(flags.length / 8));
  for (let i = 0; i < flags.length; i++) if (flags[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return out;
}

export function unpackBits(bytes: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

function maskContext(m: Uint8Array, r: number, c: number, cols: number): number {
  const at = (rr: number, cc: number) => (rr >= 0 && cc >= 0 && cc < cols ? m[rr * cols + cc] : 0);
  return at(r, c - 1) | (at(r - 1, c - 1) << 1) | (at(r - 1, c) << 2) | (at(r - 1, c + 1) << 3);
}

function rangeMask(removed: Uint8Array, rows: number, cols: number): Uint8Array {
  const enc = new RangeEncoder();
  const p = probs(16);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) enc.bit(p, maskContext(removed, r, c, cols), removed[r * cols + c] ? 1 : 0);
  return enc.finish();
}

function unrangeMask(body: Uint8Array, rows: number, cols: number): Uint8Array {
  const dec = new RangeDecoder(body);
  const p = probs(16);
  const m = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) m[r * cols + c] = dec.bit(p, maskContext(m, r, c, cols));
  if (dec.overrun) throw new StreamError('mask stream is truncated');
  if (dec.unread > 0) throw new StreamError(`mask stream is corrupt (${dec.unread} bytes more than a ${rows}x${cols}-patch mask needs)`);
  return m;
}

// ---------------------------------------------------------------------------------------
// Coefficients

/**
 * Geometry shared by encoder and decoder: kept patches in raster order, and for each its
 * left and top neighbours' ordinals among the kept patches (-1 when removed or outside).
 */
export interface KeptLayout {
  count: number;
  left: Int32Array;
  top: Int32Array;
}

export function keptLayout(removed: Uint8Array, rows: number, cols: number): KeptLayout {
  const ord = new Int32Array(rows * cols).fill(-1);
  let n = 0;
  for (let i = 0; i < rows * cols; i++) if (!removed[i]) ord[i] = n++;
  const left = new Int32Array(n);
  const top = new Int32Array(n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const k = ord[r * cols + c];
      if (k < 0) continue;
      left[k] = c > 0 ? ord[r * cols + c - 1] : -1;
      top[k] = r > 0 ? ord[(r - 1) * cols + c] : -1;
    }
  return { count: n, left, top };
}

/**
 * DC prediction of kept patch k, channel ch: the mean (floored) of the left and top kept
 * neighbours' DC, one of them if only one is kept, else the previous kept patch's DC
 * (0 for the first).
 */
function dcPred(q: Int32Array, lay: KeptLayout, k: number, ch: number): number {
  const off = ch * BLOCK;
  const l = lay.left[k];
  const t = lay.top[k];
  if (l >= 0 && t >= 0) return Math.floor((q[l * COEFFS_PER_PATCH + off] + q[t * COEFFS_PER_PATCH + off]) / 2);
  if (l >= 0) return q[l * COEFFS_PER_PATCH + off];
  if (t >= 0) return q[t * COEFFS_PER_PATCH + off];
  return k > 0 ? q[(k - 1) * COEFFS_PER_PATCH + off] : 0;
}

/** Coefficients of kept patches `q` (count x 192, zigzag per channel); `method` forces one method. */
export function encodeCoeffs(q: Int32Array, lay: KeptLayout, method?: Method): Uint8Array {
  if (q.length !== lay.count * COEFFS_PER_PATCH) throw new RangeError(`coefficient array has ${q.length} values, expected ${lay.count * COEFFS_PER_PATCH}`);
  const a = method === METHOD_RANGE ? null : withMethod(METHOD_DEFLATE, new Uint8Array(zlib.deflateRawSync(rleBytes(q, lay), DEFLATE_OPTS)));
  const b = method === METHOD_DEFLATE ? null : withMethod(METHOD_RANGE, rangeCoeffs(q, lay));
  return a && b ? shorter(b, a) : (a ?? b)!;
}

export function decodeCoeffs(buf: Uint8Array, lay: KeptLayout): Int32Array {
  if (buf.length < 1) throw new StreamError('coefficient stream is empty');
  const body = buf.subarray(1);
  // Run-length bytes per patch: at most 3 x (a 6-byte DC varint + 63 x (run byte + 6-byte varint)).
  if (buf[0] === METHOD_DEFLATE) return unrleBytes(inflate(body, 'coefficient', lay.count * 3 * (6 + 63 * 7) + 1), lay);
  if (buf[0] === METHOD_RANGE) return unrangeCoeffs(body, lay);
  throw new StreamError(`unknown coefficient coding method ${buf[0]}`);
}

// --- method 0: run-length + LEB128 varints, deflated ---------------------------------------

const EOB = 63;

function pushVarint(out: number[], v: number): void {
  // Signed -> unsigned zigzag (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...), then LEB128.
  let u = v >= 0 ? 2 * v : -2 * v - 1;
  while (u >= 0x80) {
    out.push((u & 0x7f) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
}

function rleBytes(q: Int32Array, lay: KeptLayout): Uint8Array {
  const out: number[] = [];
  for (let k = 0; k < lay.count; k++)
    for (let ch = 0; ch < 3; ch++) {
      const o = k * COEFFS_PER_PATCH + ch * BLOCK;
      pushVarint(out, q[o] - dcPred(q, lay, k, ch));
      let run = 0;
      for (let i = 1; i < BLOCK; i++) {
        const v = q[o + i];
        if (v === 0) {
          run++;
          continue;
        }
        out.push(run);
        pushVarint(out, v);
        run = 0;
      }
      if (run > 0) out.push(EOB);
    }
  return Uint8Array.from(out);
}

function unrleBytes(src: Uint8Array, lay: KeptLayout): Int32Array {
  const q = new Int32Array(lay.count * COEFFS_PER_PATCH);
  let pos = 0;
  const byte = () => {
    if (pos >= src.length) throw new StreamError('coefficient stream is truncated');
    return src[pos++];
  };
  const varint = () => {
    let u = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i > 5) throw new StreamError('coefficient stream is corrupt (varint too long)');
      const b = byte();
      u += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) break;
    }
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  };
  for (let k = 0; k < lay.count; k++)
    for (let ch = 0; ch < 3; ch++) {
      const o = k * COEFFS_PER_PATCH + ch * BLOCK;
      q[o] = varint() + dcPred(q, lay, k, ch);
      let i = 1;
      while (i < BLOCK) {
        const run = byte();
        if (run === EOB) break;
        i += run;
        if (i >= BLOCK) throw new StreamError('coefficient stream is corrupt (run past the block)');
        q[o + i] = varint();
        i++;
      }
    }
  if (pos !== src.length) throw new StreamError('coefficient stream is corrupt (trailing bytes)');
  return q;
}

// --- method 1: context-adaptive binary range coding ---------------------------------------

/** Exp-Golomb-like classes: an unsigned v >= 0 is coded as n = bit length of v+1 (unary), then the n-1 bits below the leading one. */
const MAX_CLASS = 20;

/** Nonzero-count context of a block from its neighbours: 0, 1, 2-3, 4-7, 8-15, 16+ (6 buckets). */
function nzBucket(n: number): number {
  return n === 0 ? 0 : n < 2 ? 1 : n < 4 ? 2 : n < 8 ? 3 : n < 16 ? 4 : 5;
}
const NZ_BUCKETS = 6;

/** Frequency bands of zigzag positions 1..63 for level contexts. */
const BAND = (() => {
  const b = new Uint8Array(BLOCK);
  for (let k = 1; k < BLOCK; k++) b[k] = k < 3 ? 0 : k < 6 ? 1 : k < 10 ? 2 : k < 15 ? 3 : k < 28 ? 4 : 5;
  return b;
})();
const BANDS = 6;

class UIntModel {
  readonly cls: Uint16Array;
  readonly bits: Uint16Array;
  constructor(readonly sets: number) {
    this.cls = probs(sets * MAX_CLASS);
    this.bits = probs(sets * MAX_CLASS * MAX_CLASS);
  }
}

function putUInt(enc: RangeEncoder, m: UIntModel, set: number, v: number): void {
  const x = v + 1;
  const n = 32 - Math.clz32(x); // 1..
  if (n > MAX_CLASS) throw new RangeError(`coefficient ${v} is out of range`);
  for (let i = 1; i < n; i++) enc.bit(m.cls, set * MAX_CLASS + i, 1);
  if (n < MAX_CLASS) enc.bit(m.cls, set * MAX_CLASS + n, 0);
  for (let i = n - 2; i >= 0; i--) enc.bit(m.bits, (set * MAX_CLASS + n) * MAX_CLASS + i, (x >>> i) & 1);
}

function getUInt(dec: RangeDecoder, m: UIntModel, set: number): number {
  let n = 1;
  while (n < MAX_CLASS && dec.bit(m.cls, set * MAX_CLASS + n)) n++;
  let x = 1;
  for (let i = n - 2; i >= 0; i--) x = x * 2 + dec.bit(m.bits, (set * MAX_CLASS + n) * MAX_CLASS + i);
  return x - 1;
}

/** The adaptive models of method 1; t = 0 for luma, 1 for chroma. */
class CoeffModels {
  dcZero = probs(2 * 3);
  dcSign = probs(2);
  dcMag = new UIntModel(2 * 3);
  any = probs(2 * NZ_BUCKETS);
  sig = probs(2 * BLOCK * NZ_BUCKETS);
  last = probs(2 * BLOCK * NZ_BUCKETS);
  gt1 = probs(2 * BANDS * 4);
  sign = probs(2 * BLOCK);
  mag = new UIntModel(2 * BANDS);
}

/** Number of nonzero AC coefficients of kept patch k, channel ch. */
function nzCount(q: Int32Array, k: number, ch: number): number {
  const o = k * COEFFS_PER_PATCH + ch * BLOCK;
  let n = 0;
  for (let i = 1; i < BLOCK; i++) if (q[o + i] !== 0) n++;
  return n;
}

/** Context of a block from its decoded neighbours: nonzero-count bucket and the DC-difference context of the neighbours. */
function neighbourCtx(nz: Int32Array, lay: KeptLayout, k: number, ch: number): number {
  const l = lay.left[k];
  const t = lay.top[k];
  let n: number;
  if (l >= 0 && t >= 0) n = (nz[l * 3 + ch] + nz[t * 3 + ch] + 1) >> 1;
  else if (l >= 0) n = nz[l * 3 + ch];
  else if (t >= 0) n = nz[t * 3 + ch];
  else n = k > 0 ? nz[(k - 1) * 3 + ch] : 0;
  return nzBucket(n);
}

/** DC-difference context: 0 if both neighbours are kept, 1 if one is, 2 if none. */
function dcCtx(lay: KeptLayout, k: number): number {
  return (lay.left[k] < 0 ? 1 : 0) + (lay.top[k] < 0 ? 1 : 0);
}

function rangeCoeffs(q: Int32Array, lay: KeptLayout): Uint8Array {
  const enc = new RangeEncoder();
  const m = new CoeffModels();
  const nz = new Int32Array(lay.count * 3);
  for (let k = 0; k < lay.count; k++)
    for (let ch = 0; ch < 3; ch++) {
      const t = ch === 0 ? 0 : 1;
      const o = k * COEFFS_PER_PATCH + ch * BLOCK;
      // DC difference: zero flag, sign, magnitude - 1.
      const d = q[o] - dcPred(q, lay, k, ch);
      const dc = t * 3 + dcCtx(lay, k);
      enc.bit(m.dcZero, dc, d === 0 ? 0 : 1);
      if (d !== 0) {
        enc.bit(m.dcSign, t, d < 0 ? 1 : 0);
        putUInt(enc, m.dcMag, dc, Math.abs(d) - 1);
      }
      // AC: any-nonzero flag, then significance + last flags, each level right after its flags.
      const nb = neighbourCtx(nz, lay, k, ch);
      let lastPos = 0;
      for (let i = BLOCK - 1; i >= 1; i--)
        if (q[o + i] !== 0) {
          lastPos = i;
          break;
        }
      enc.bit(m.any, t * NZ_BUCKETS + nb, lastPos > 0 ? 1 : 0);
      let large = 0;
      let count = 0;
      for (let i = 1; i <= lastPos; i++) {
        const v = q[o + i];
        const sctx = (t * BLOCK + i) * NZ_BUCKETS + nb;
        if (i < BLOCK - 1) enc.bit(m.sig, sctx, v !== 0 ? 1 : 0);
        if (v === 0) continue;
        count++;
        if (i < BLOCK - 1) enc.bit(m.last, sctx, i === lastPos ? 1 : 0);
        const a = Math.abs(v);
        const g = (t * BANDS + BAND[i]) * 4 + Math.min(3, large);
        enc.bit(m.gt1, g, a > 1 ? 1 : 0);
        if (a > 1) {
          putUInt(enc, m.mag, t * BANDS + BAND[i], a - 2);
          large++;
        }
        enc.bit(m.sign, t * BLOCK + i, v < 0 ? 1 : 0);
      }
      nz[k * 3 + ch] = count;
    }
  return enc.finish();
}

function unrangeCoeffs(body: Uint8Array, lay: KeptLayout): Int32Array {
  const dec = new RangeDecoder(body);
  const m = new CoeffModels();
  const q = new Int32Array(lay.count * COEFFS_PER_PATCH);
  const nz = new Int32Array(lay.count * 3);
  for (let k = 0; k < lay.count; k++) {
    for (let ch = 0; ch < 3; ch++) {
      const t = ch === 0 ? 0 : 1;
      const o = k * COEFFS_PER_PATCH + ch * BLOCK;
      const dc = t * 3 + dcCtx(lay, k);
      let d = 0;
      if (dec.bit(m.dcZero, dc)) {
        const neg = dec.bit(m.dcSign, t);
        d = getUInt(dec, m.dcMag, dc) + 1;
        if (neg) d = -d;
      }
      q[o] = d + dcPred(q, lay, k, ch);
      const nb = neighbourCtx(nz, lay, k, ch);
      let count = 0;
      if (dec.bit(m.any, t * NZ_BUCKETS + nb)) {
        let large = 0;
        for (let i = 1; i < BLOCK; i++) {
          const sctx = (t * BLOCK + i) * NZ_BUCKETS + nb;
          // Position 63 is significant whenever it is reached (the block has a nonzero left).
          const s = i < BLOCK - 1 ? dec.bit(m.sig, sctx) : 1;
          if (!s) continue;
          count++;
          const isLast = i < BLOCK - 1 ? dec.bit(m.last, sctx) : 1;
          const g = (t * BANDS + BAND[i]) * 4 + Math.min(3, large);
          let a = 1;
          if (dec.bit(m.gt1, g)) {
            a = getUInt(dec, m.mag, t * BANDS + BAND[i]) + 2;
            large++;
          }
          q[o + i] = dec.bit(m.sign, t * BLOCK + i) ? -a : a;
          if (isLast) break;
        }
      }
      nz[k * 3 + ch] = count;
    }
    if (dec.overrun) throw new StreamError('coefficient stream is truncated');
  }
  if (dec.unread > 0) throw new StreamError(`coefficient stream is corrupt (${dec.unread} bytes more than ${lay.count} kept patches need)`);
  return q;
}

/** For measurements: the coded size of each method. */
export function coeffSizes(q: Int32Array, lay: KeptLayout): { deflate: number; range: number } {
  return { deflate: encodeCoeffs(q, lay, METHOD_DEFLATE).length, range: encodeCoeffs(q, lay, METHOD_RANGE).length };
}
