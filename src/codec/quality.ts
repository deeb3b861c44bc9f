/**
 * The single `--quality` knob (1..100) -> (removed share, DCT quality), by linear
 * interpolation between anchors chosen by measurement on training images (see
 * docs/FORMAT.md, "Choosing the quality table"); never tuned on the test sets.
 */

/** [quality, ratio, dctQuality] anchors, increasing quality. */
export const QUALITY_TABLE: readonly (readonly [number, number, number])[] = [
  [1, 0.75, 5],
  [25, 0.6, 20],
  [50, 0.5, 40],
  [75, 0.3, 65],
  [90, 0.1, 85],
  [100, 0, 98],
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
