/**
 * The transform coder of the kept patches: full-range YCbCr (JFIF), 8x8 orthonormal
 * DCT-II, JPEG's standard quantization tables (ITU-T T.81 Annex K) scaled by a quality as
 * libjpeg does, and the zigzag scan. Everything here is deterministic IEEE double
 * arithmetic (no platform-dependent maths beyond Math.cos at module load).
 */

/** Block side (the codec's patch size). */
export const N = 8;
export const BLOCK = N * N;

/** T.81 Annex K.1, luminance, in natural (row-major) order. */
export const LUMA_TABLE: readonly number[] = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** T.81 Annex K.2, chrominance, in natural (row-major) order. */
export const CHROMA_TABLE: readonly number[] = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** ZIGZAG[k] = natural (row*8+col) index of the k-th coefficient in scan order. */
export const ZIGZAG: readonly number[] = (() => {
  const out: number[] = [];
  for (let s = 0; s < 2 * N - 1; s++) {
    // Odd diagonals run top-right to bottom-left (row increasing), even ones the other way.
    const cells: number[] = [];
    for (let r = 0; r < N; r++) {
      const c = s - r;
      if (c >= 0 && c < N) cells.push(r * N + c);
    }
    out.push(...(s % 2 === 0 ? cells.reverse() : cells));
  }
  return out;
})();

/** libjpeg's jpeg_quality_scaling + table scaling: quality 1..100 -> 64 divisors (natural order), clamped to 1..255. */
export function scaledTable(base: readonly number[], quality: number): Int32Array {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`DCT quality must be an integer 1..100, got ${quality}`);
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - 2 * quality;
  const out = new Int32Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = Math.min(255, Math.max(1, Math.floor((base[i] * scale + 50) / 100)));
  return out;
}

/** Frequency slope of the version-2 tables: step x (1 + SLOPE x (u + v)). */
export const SLOPE = 0.12;
/** Chroma step over luma step in the version-2 tables. */
export const CHROMA_SCALE = 1.4;

/** The version-2 base step of a DCT quality: 0.3 x 1.065^(100 - quality) (0.3 at 100: every divisor 1; 7.4 at 50; 153 at 1). */
export function slopeStep(quality: number): number {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`DCT quality must be an integer 1..100, got ${quality}`);
  return 0.3 * Math.pow(1.065, 100 - quality);
}

/**
 * Version-2 divisors (natural order), clamped to 1..255: nearly flat, rising gently with
 * frequency, chroma 1.4 times luma. The Annex K tables are shaped for the eye; PSNR
 * weighs every coefficient's error alike, and on held-out training images these tables
 * needed 12% fewer bytes than Annex K for the same PSNR (docs/FORMAT.md).
 */
export function slopeTable(quality: number, scale: number): Int32Array {
  const step = slopeStep(quality) * scale;
  const out = new Int32Array(BLOCK);
  for (let v = 0; v < N; v++) for (let u = 0; u < N; u++) out[v * N + u] = Math.min(255, Math.max(1, Math.round(step * (1 + SLOPE * (u + v)))));
  return out;
}

/** The [luma, chroma] divisor tables of a DCT quality: format version 1 used Annex K, version 2 the slope tables. */
export function quantTables(quality: number, version = 2): [Int32Array, Int32Array] {
  if (version === 1) return [scaledTable(LUMA_TABLE, quality), scaledTable(CHROMA_TABLE, quality)];
  return [slopeTable(quality, 1), slopeTable(quality, CHROMA_SCALE)];
}

// COS[u*8+x] = C(u)/2 * cos((2x+1) u pi / 16), C(0) = 1/sqrt(2), C(u>0) = 1: the orthonormal 1-D basis.
const COS = (() => {
  const t = new Float64Array(BLOCK);
  for (let u = 0; u < N; u++) for (let x = 0; x < N; x++) t[u * N + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return t;
})();

/** 2-D DCT-II of a block (natural order in and out); F(0,0) = 8 x mean. */
export function fdct(block: Float64Array, out = new Float64Array(BLOCK)): Float64Array {
  const tmp = new Float64Array(BLOCK);
  for (let y = 0; y < N; y++)
    for (let u = 0; u < N; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += COS[u * N + x] * block[y * N + x];
      tmp[y * N + u] = s;
    }
  for (let u = 0; u < N; u++)
    for (let v = 0; v < N; v++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += COS[v * N + y] * tmp[y * N + u];
      out[v * N + u] = s;
    }
  return out;
}

/** Inverse of fdct (DCT-III). */
export function idct(coef: Float64Array, out = new Float64Array(BLOCK)): Float64Array {
  const tmp = new Float64Array(BLOCK);
  for (let v = 0; v < N; v++)
    for (let x = 0; x < N; x++) {
      let s = 0;
      for (let u = 0; u < N; u++) s += COS[u * N + x] * coef[v * N + u];
      tmp[v * N + x] = s;
    }
  for (let x = 0; x < N; x++)
    for (let y = 0; y < N; y++) {
      let s = 0;
      for (let v = 0; v < N; v++) s += COS[v * N + y] * tmp[v * N + x];
      out[y * N + x] = s;
    }
  return out;
}

/** Round half away from zero (so quantization is symmetric in the sign). */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/**
 * Quantizes natural-order coefficients into zigzag-order integers. `deadzone` (encoder
 * choice, 0 = plain rounding) widens the zero bin of the AC coefficients: |x|/Q is rounded
 * after subtracting it, which drops costly isolated small coefficients.
 */
export function quantize(coef: Float64Array, table: Int32Array, out = new Int32Array(BLOCK), deadzone = 0): Int32Array {
  out[0] = roundHalfAway(coef[0] / table[0]);
  for (let k = 1; k < BLOCK; k++) {
    const v = coef[ZIGZAG[k]] / table[ZIGZAG[k]];
    const a = Math.floor(Math.abs(v) + 0.5 - deadzone);
    out[k] = a <= 0 ? 0 : v < 0 ? -a : a;
  }
  return out;
}

/** Zigzag-order integers back to natural-order coefficients. */
export function dequantize(q: Int32Array, table: Int32Array, out = new Float64Array(BLOCK)): Float64Array {
  for (let k = 0; k < BLOCK; k++) out[ZIGZAG[k]] = q[k] * table[ZIGZAG[k]];
  return out;
}

/** JFIF full-range RGB (0..255) -> Y, Cb, Cr (0..255, chroma centred on 128). */
export function rgbToYcc(r: number, g: number, b: number): [number, number, number] {
  return [0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b + 128, 0.5 * r - 0.418688 * g - 0.081312 * b + 128];
}

/** Inverse of rgbToYcc (unclamped). */
export function yccToRgb(y: number, cb: number, cr: number): [number, number, number] {
  return [y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128), y + 1.772 * (cb - 128)];
}

/**
 * Codes one patch: `rgb` holds 64 pixels x 3 channels, interleaved, values 0..255. Writes
 * 3 x 64 zigzag-ordered quantized coefficients (Y, then Cb, then Cr) into `out`.
 */
export function encodeBlock(rgb: ArrayLike<number>, tables: [Int32Array, Int32Array], out: Int32Array, deadzone = 0): void {
  const planes = [new Float64Array(BLOCK), new Float64Array(BLOCK), new Float64Array(BLOCK)];
  for (let i = 0; i < BLOCK; i++) {
    const ycc = rgbToYcc(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
    for (let c = 0; c < 3; c++) planes[c][i] = ycc[c] - 128;
  }
  const coef = new Float64Array(BLOCK);
  const q = new Int32Array(BLOCK);
  for (let c = 0; c < 3; c++) {
    fdct(planes[c], coef);
    quantize(coef, tables[c === 0 ? 0 : 1], q, deadzone);
    out.set(q, c * BLOCK);
  }
}

/** Inverse of encodeBlock: 3 x 64 zigzag coefficients -> 64 interleaved RGB pixels (floats clamped to 0..255). */
export function decodeBlock(q: Int32Array, tables: [Int32Array, Int32Array], out: Float64Array): void {
  const planes = [new Float64Array(BLOCK), new Float64Array(BLOCK), new Float64Array(BLOCK)];
  const coef = new Float64Array(BLOCK);
  for (let c = 0; c < 3; c++) {
    dequantize(q.subarray(c * BLOCK, (c + 1) * BLOCK), tables[c === 0 ? 0 : 1], coef);
    idct(coef, planes[c]);
  }
  for (let i = 0; i < BLOCK; i++) {
    const rgb = yccToRgb(planes[0][i] + 128, planes[1][i] + 128, planes[2][i] + 128);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(255, Math.max(0, rgb[c]));
  }
}
