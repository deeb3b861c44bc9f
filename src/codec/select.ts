/**
 * Which patches the encoder removes: the ones the decoder rebuilds best from their
 * surroundings. The score of a patch is the mean squared error of its harmonic
 * interpolation (src/image/fill.ts, the MAE's own hint) when it and every other patch of
 * its checkerboard colour are removed; two passes (black squares, then white) score every
 * patch with all four neighbours visible. The patches with the lowest scores are removed.
 */
import { harmonicFill } from '../image/fill';
import { pixelKnownMask } from '../image/patchify';

export interface Grid {
  rows: number;
  cols: number;
  p: number;
}

/**
 * Per-patch interpolation error (MSE on the 0..255 scale) over the real pixels of an image
 * padded to the patch grid (`data`: (rows*p) x (cols*p) x 3 floats, 0..255), of which only
 * `width` x `height` are real.
 */
export function interpolationScores(data: Float32Array, g: Grid, width: number, height: number): Float64Array {
  const W = g.cols * g.p;
  const H = g.rows * g.p;
  const n = g.rows * g.cols;
  const scores = new Float64Array(n);
  for (let colour = 0; colour < 2; colour++) {
    const removed = new Uint8Array(n);
    for (let r = 0; r < g.rows; r++) for (let c = 0; c < g.cols; c++) removed[r * g.cols + c] = (r + c) % 2 === colour ? 1 : 0;
    const filled = harmonicFill(data, W, H, 3, pixelKnownMask(removed, g.rows, g.cols, g.p));
    for (let r = 0; r < g.rows; r++)
      for (let c = 0; c < g.cols; c++) {
        if (!removed[r * g.cols + c]) continue;
        let s = 0;
        let cnt = 0;
        for (let y = r * g.p; y < Math.min(height, (r + 1) * g.p); y++)
          for (let x = c * g.p; x < Math.min(width, (c + 1) * g.p); x++)
            for (let k = 0; k < 3; k++) {
              const i = (y * W + x) * 3 + k;
              const d = filled[i] - data[i];
              s += d * d;
              cnt++;
            }
        scores[r * g.cols + c] = s / cnt;
      }
  }
  return scores;
}

/** Number of patches removed out of `n` at `ratio` (rounded to nearest; at least one patch is kept). */
export function removedCount(n: number, ratio: number): number {
  return Math.min(n - 1, Math.max(0, Math.round(ratio * n)));
}

/** Removes the `count` lowest-scored patches (ties: the lower index is removed first). */
export function chooseRemoved(scores: ArrayLike<number>, count: number): Uint8Array {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const removed = new Uint8Array(n);
  for (let i = 0; i < count; i++) removed[order[i]] = 1;
  return removed;
}

/** Rough static estimate of the coded bits of one patch's 3 x 64 zigzag coefficients (for ranking only). */
export function estimateBits(q: Int32Array): number {
  let bits = 0;
  for (let ch = 0; ch < 3; ch++) {
    bits += 4; // DC difference and end of block, on average
    for (let i = 1; i < 64; i++) {
      const v = q[ch * 64 + i];
      if (v !== 0) bits += 4 + 2 * Math.log2(Math.abs(v));
    }
  }
  return bits;
}

/**
 * Rate-distortion ranking: the distortion the patch saves by being kept (interpolation
 * error minus quantization error, summed over its pixels) per estimated bit it costs.
 */
export function rdScores(interpMse: Float64Array, quantMse: Float64Array, bits: Float64Array): Float64Array {
  const out = new Float64Array(interpMse.length);
  for (let i = 0; i < out.length; i++) out[i] = (interpMse[i] - quantMse[i]) / Math.max(1, bits[i]);
  return out;
}
