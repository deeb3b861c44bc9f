/** Mean squared error and PSNR over all 8-bit values of two images (data range 255). */

function checkLengths(a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length) throw new Error(`pixel buffers differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new Error('pixel buffers are empty');
}

/** Mean of the squared differences of all values. */
export function mse(a: Uint8Array, b: Uint8Array): number {
  checkLengths(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum / a.length;
}

/** Peak signal-to-noise ratio in dB; Infinity for identical buffers. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  const e = mse(a, b);
  return e === 0 ? Infinity : 10 * Math.log10((255 * 255) / e);
}
