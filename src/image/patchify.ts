/**
 * patchify / unpatchify between interleaved images (H, W, C) and patch rows
 * (rows*cols, p*p*C), patches in row-major grid order, each patch vector ordered
 * (row in patch, column in patch, channel) as the reference's patchify.
 */

export function patchify(img: Float32Array, width: number, height: number, channels: number, p: number, out?: Float32Array): Float32Array {
  if (width % p !== 0 || height % p !== 0) throw new RangeError(`image ${width}x${height} is not a multiple of the patch size ${p}`);
  if (img.length !== width * height * channels) throw new RangeError(`image has ${img.length} values, expected ${width * height * channels}`);
  const cols = width / p;
  const rows = height / p;
  const P = p * p * channels;
  const res = out ?? new Float32Array(rows * cols * P);
  const rowLen = p * channels;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const base = (r * cols + c) * P;
      for (let y = 0; y < p; y++) {
        const src = ((r * p + y) * width + c * p) * channels;
        res.set(img.subarray(src, src + rowLen), base + y * rowLen);
      }
    }
  return res;
}

export function unpatchify(patches: Float32Array, rows: number, cols: number, channels: number, p: number, out?: Float32Array): Float32Array {
  const P = p * p * channels;
  if (patches.length !== rows * cols * P) throw new RangeError(`patch array has ${patches.length} values, expected ${rows * cols * P}`);
  const width = cols * p;
  const res = out ?? new Float32Array(rows * p * width * channels);
  const rowLen = p * channels;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const base = (r * cols + c) * P;
      for (let y = 0; y < p; y++) {
        const dst = ((r * p + y) * width + c * p) * channels;
        res.set(patches.subarray(base + y * rowLen, base + (y + 1) * rowLen), dst);
      }
    }
  return res;
}

/** Pixel-level known-mask (1 = known) from a removed-patch flag array. */
export function pixelKnownMask(removed: ArrayLike<number>, rows: number, cols: number, p: number): Uint8Array {
  const W = cols * p;
  const out = new Uint8Array(rows * p * W);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      if (removed[r * cols + c]) continue;
      for (let y = 0; y < p; y++) out.fill(1, (r * p + y) * W + c * p, (r * p + y) * W + c * p + p);
    }
  return out;
}
