/**
 * Patch-border filtering of a denoising pass. The MAE cleans each 8x8 patch as a whole, so
 * every pass leaves small steps along its patch grid. Across each border, where the step
 * between the two sides and the variation on either side are small next to the noise sigma
 * (so the step is the grid's, not an edge of the picture), the two pixels next to the border
 * move towards each other by a clipped share of the step (the H.264 normal filter's update)
 * and, by `wide` of that, the second pixels too. Thresholds scale with sigma. Measured on
 * held-out training crops (never the test sets): see DENOISE_DEBLOCK.
 */
import { borderStep } from '../image/border';
import { FloatImage } from '../model/runner';

export interface DenoiseDeblockParams {
  /** Largest step across the border filtered, in sigmas. */
  alpha: number;
  /** Largest step between the two pixels on either side, in sigmas. */
  beta: number;
  /** Largest change of a pixel, in sigmas. */
  clip: number;
  /** Share of the change given to the second pixel from the border (0: off). */
  wide: number;
}

/**
 * Chosen on 6 held-out 256x256 training crops (never the test sets) with the session-2 model,
 * output blended with the input as the denoiser does: one patch grid +0.14 / +0.21 / +0.51 dB
 * at sigma 15 / 25 / 50, two grids +0.12 / +0.14 / +0.41 dB. Stronger settings (alpha 3,
 * clip 0.3 to 0.4, wide 0.5) gain more at sigma 50 and less at 15 and 25. See docs/MODEL.md.
 */
export const DENOISE_DEBLOCK: DenoiseDeblockParams = { alpha: 2, beta: 1, clip: 0.2, wide: 0 };

/**
 * Filters `img` (model scale, [-0.5, 0.5]) in place along the borders of the patch grid of
 * size `p` whose origin is at (`ox`, `oy`); `sigma` on the 0..255 scale.
 */
export function deblockPass(img: FloatImage, p: number, sigma: number, o: DenoiseDeblockParams = DENOISE_DEBLOCK, ox = 0, oy = 0): void {
  const s = sigma / 255;
  const alpha = o.alpha * s;
  const beta = o.beta * s;
  const tc = o.clip * s;
  if (!(tc > 0)) return;
  const d = img.data;
  const W = img.width;
  const H = img.height;
  const edge = (i0: number, st: number) => {
    // i0: the last pixel before the border; st: one pixel across it.
    for (let k = 0; k < 3; k++) {
      const i = i0 + k;
      const p1 = d[i - st];
      const p0 = d[i];
      const q0 = d[i + st];
      const q1 = d[i + 2 * st];
      const dd = borderStep(p1, p0, q0, q1, alpha, beta, tc);
      if (dd === 0) continue;
      d[i] = p0 + dd;
      d[i + st] = q0 - dd;
      if (o.wide) {
        d[i - st] = p1 + dd * o.wide;
        d[i + 2 * st] = q1 - dd * o.wide;
      }
    }
  };
  // A border needs two pixels on each side inside the image.
  for (let y = 0; y < H; y++) for (let x = ox + p; x + 2 <= W; x += p) if (x >= 2) edge((y * W + x - 1) * 3, 3);
  for (let y = oy + p; y + 2 <= H; y += p) if (y >= 2) for (let x = 0; x < W; x++) edge(((y - 1) * W + x) * 3, W * 3);
}
