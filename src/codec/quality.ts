/**
 * The single `--quality` knob (1..100) -> (removed share, DCT quality), by linear
 * interpolation between anchors chosen by measurement on training images (see
 * docs/FORMAT.md, "Choosing the quality table"); never tuned on the test sets.
 */

/**
 * [quality, ratio, dctQuality] anchors, increasing quality. Measured with
 * `node bench/codec-table.js` on 4 held-out training images (the trainer's validation
 * split) with the shipped model mae-277407205e4e71b4, format version 2 (slope tables,
 * deblocking): removing 35% of the patches paid only below about 0.1 bpp (+0.12 dB at
 * 0.069 bpp with dctQuality 1, +0.05 dB at 0.091 bpp with dctQuality 5) and lost above it
 * (-0.05 dB at 0.110 bpp, dctQuality 8; -0.6 dB at 0.26 bpp, dctQuality 20); ratios 0.1 and
 * 0.2 never paid. So patches are removed only at the lowest qualities. Re-measure (and move
 * the anchors) when the shipped model changes: the better the model rebuilds, the higher
 * the rate up to which removing patches pays.
 */
export const QUALITY_TABLE: readonly (readonly [number, number, number])[] = [
  [1, 0.35, 1],
  [10, 0.35, 5],
  [15, 0, 7],
  [20, 0, 9],
  [30, 0, 13],
  [40, 0, 20],
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
