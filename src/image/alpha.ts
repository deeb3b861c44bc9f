/**
 * Transparency through denoising and inpainting. The colour stored under fully transparent
 * pixels is arbitrary (often black) and nobody sees it, but a filter that reads it would carry
 * that invisible edge into the visible pixels beside it. So before the colour is processed,
 * the transparent pixels take the harmonic fill of the visible ones around them; the caller
 * then writes the result with the alpha plane it read, unchanged.
 */
import { harmonicFillSolved } from './fill';
import { RgbImage } from './io';

/**
 * `img` with the colour of every pixel whose alpha is 0 replaced by the harmonic fill of the
 * others (those with alpha > 0 and, if `unknown` is given, not flagged in it: pixels whose
 * colour must not be read either, such as an inpainting mask's). Returns `img` itself when no
 * pixel is transparent, and a copy with the transparent pixels at mid-grey when nothing around
 * them can be read.
 */
export function fillTransparent(img: RgbImage, alpha: Uint8Array, unknown?: Uint8Array): RgbImage {
  const n = img.width * img.height;
  if (alpha.length !== n) throw new Error(`alpha plane has ${alpha.length} bytes, expected ${n}`);
  if (unknown && unknown.length !== n) throw new Error(`mask has ${unknown.length} pixels, expected ${n}`);
  const known = new Uint8Array(n);
  let transparent = 0;
  let readable = 0;
  for (let i = 0; i < n; i++) {
    if (alpha[i] === 0) transparent++;
    else if (!unknown?.[i]) {
      known[i] = 1;
      readable++;
    }
  }
  if (transparent === 0) return img;
  const data = new Uint8Array(img.data);
  if (readable === 0) {
    for (let i = 0; i < n; i++) if (alpha[i] === 0) data.fill(128, i * 3, i * 3 + 3);
    return { width: img.width, height: img.height, data };
  }
  const filled = harmonicFillSolved(Float32Array.from(img.data), img.width, img.height, 3, known);
  for (let i = 0; i < n; i++) if (alpha[i] === 0) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(filled[i * 3 + c])));
  return { width: img.width, height: img.height, data };
}
