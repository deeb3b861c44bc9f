/** Size limits shared by the image reader and the .mae reader. */

/**
 * The largest image mae reads or decodes, in pixels: 100 megapixels, or MAE_MAX_PIXELS.
 * Memory grows about linearly with the pixel count (bench/scale.js measures it: about
 * 2 GB at 24 megapixels), so the limit keeps a run within reach of an ordinary machine
 * while refusing absurd sizes before anything is allocated.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export class LimitError extends Error {}

export function maxPixels(): number {
  const env = process.env.MAE_MAX_PIXELS;
  if (env === undefined || env === '') return DEFAULT_MAX_PIXELS;
  const v = Number(env);
  if (!(Number.isInteger(v) && v > 0)) throw new LimitError(`MAE_MAX_PIXELS must be a positive integer, got '${env}'`);
  return v;
}

/** "100 megapixels", "0.5 megapixels", "1000 pixels". */
export function megapixels(n: number): string {
  if (n < 100_000) return `${n} pixels`;
  const mp = n / 1e6;
  return `${Number.isInteger(mp) ? mp : mp.toFixed(1)} megapixels`;
}
