/**
 * The single `--quality` knob (1..100) -> (removed share, DCT quality), by linear
 * interpolation between anchors chosen by measurement on training images (see
 * docs/FORMAT.md, "Choosing the quality table"); never tuned on the test sets.
 */

/**
 * [quality, ratio, dctQuality] anchors, increasing quality. Measured with
 * `node bench/codec-table.js` on 4 held-out training images (the trainer's validation
 * split) with checkpoint mae-48bf66a349b38a0e (100 training steps, rebuilding about as well
 * as the harmonic interpolation): removing patches paid up to about 0.23 bpp (+0.46 dB at
 * 0.096 bpp with ratio 0.35 at dctQuality 5, +0.2 dB at 0.155 bpp) and cost above it (-0.46 dB
 * at 0.37 bpp with ratio 0.35, -0.05 dB at 0.59 bpp with ratio 0.1), so the share of removed
 * patches falls from one half at the lowest quality to none from quality 50 up. Re-measure
 * (and move the anchors) with a better-trained model: the better the model rebuilds, the
 * higher the rate up to which removing patches pays.
 */
export const QUALITY_TABLE: readonly (readonly [number, number, number])[] = [
  [1, 0.5, 1],
  [10, 0.4, 5],
  [20, 0.3, 9],
  [30, 0.2, 13],
  [40, 0.1, 20],
  [50, 0, 28],
  [75, 0, 40],
  [90, 0, 55],
  [100, 0, 100],
];

export const DEFAULT_QUALITY = 50;

export interface CodecParams {
  quality: number;
  ratio: number;
  dctQuality: number;
}

export function qualityParams(quality: number, ratioOverride?: number): CodecParams {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`--quality must be an integer from 1 to 100, got ${quality}`);
  if (ratioOverride !== undefined && !(ratioOverride >= 0 && ratioOverride < 1)) throw new RangeError(`--ratio must be at least 0 and below 1, got ${ratioOverride}`);
  let i = 0;
  while (i < QUALITY_TABLE.length - 2 && quality > QUALITY_TABLE[i + 1][0]) i++;
  const [q0, r0, d0] = QUALITY_TABLE[i];
  const [q1, r1, d1] = QUALITY_TABLE[i + 1];
  const t = Math.min(1, Math.max(0, (quality - q0) / (q1 - q0)));
  // Ratios are kept to 1/1000 so the header stores short, exact-looking values.
  const ratio = ratioOverride ?? Math.round((r0 + t * (r1 - r0)) * 1000) / 1000;
  const dctQuality = Math.round(d0 + t * (d1 - d0));
  return { quality, ratio, dctQuality };
}
