/**
 * Seam handling where rebuilt pixels meet known ones. Every function here reads hole pixels
 * of the model output and hint only, and known pixels of the original.
 */
import { harmonicFill } from '../image/fill';

export type SeamMode = 'none' | 'feather' | 'offset';

/**
 * Chamfer (3-4) distance in pixels from each hole pixel to the nearest known pixel; 0 on
 * known pixels, Infinity everywhere when nothing is known.
 */
export function distanceToKnown(known: Uint8Array, width: number, height: number): Float32Array {
  const d = new Float32Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = known[i] ? 0 : Infinity;
  const relax = (i: number, j: number, c: number) => {
    if (d[j] + c < d[i]) d[i] = d[j] + c;
  };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!d[i]) continue;
      if (x > 0) relax(i, i - 1, 3);
      if (y > 0) {
        relax(i, i - width, 3);
        if (x > 0) relax(i, i - width - 1, 4);
        if (x < width - 1) relax(i, i - width + 1, 4);
      }
    }
  for (let y = height - 1; y >= 0; y--)
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (!d[i]) continue;
      if (x < width - 1) relax(i, i + 1, 3);
      if (y < height - 1) {
        relax(i, i + width, 3);
        if (x < width - 1) relax(i, i + width + 1, 4);
        if (x > 0) relax(i, i + width - 1, 4);
      }
    }
  for (let i = 0; i < d.length; i++) d[i] /= 3;
  return d;
}

export interface SeamInput {
  width: number;
  height: number;
  /** Original values, read only where `known` is set. */
  orig: Float32Array;
  /** The model's output for every pixel (its values at known pixels show its local bias). */
  model: Float32Array;
  /** Harmonic interpolation of the holes from the known pixels. */
  hint: Float32Array;
  known: Uint8Array;
}

/**
 * The hole pixels' values (known pixels copied from `orig`):
 * - none: the model output;
 * - feather: the model output faded into the hint over `pixels` pixels from the border;
 * - offset: the model output plus its error on the known pixels (orig - model) spread
 *   harmonically into the hole and faded out with distance (scale `pixels`), so the
 *   rebuilt region meets the known pixels without a step.
 */
export function blendSeam(s: SeamInput, mode: SeamMode, pixels: number): Float32Array {
  const { width: W, height: H, orig, model, hint, known } = s;
  const out = new Float32Array(orig.length);
  const n = W * H;
  if (mode === 'none' || pixels <= 0) {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = known[i] ? orig[i * 3 + c] : model[i * 3 + c];
    return out;
  }
  const dist = distanceToKnown(known, W, H);
  let offset: Float32Array | null = null;
  if (mode === 'offset') {
    // The error buffer (read only at known pixels by the fill) then holds the output.
    for (let i = 0; i < n; i++) if (known[i]) for (let c = 0; c < 3; c++) out[i * 3 + c] = orig[i * 3 + c] - model[i * 3 + c];
    offset = harmonicFill(out, W, H, 3, known);
  }
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c;
      if (known[i]) out[k] = orig[k];
      else if (offset) out[k] = model[k] + offset[k] * Math.exp(-(dist[i] - 1) / pixels);
      else {
        const a = Math.min(1, dist[i] / (pixels + 1));
        out[k] = a * model[k] + (1 - a) * hint[k];
      }
    }
  }
  return out;
}
