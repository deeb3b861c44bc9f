/**
 * Seeded hole masks for the inpainting benchmark (1 = pixel to fill, row-major W*H):
 * random 16-pixel squares on a randomly shifted grid (so they do not line up with the
 * model's patch grid), thick random-walk brush strokes, and one box.
 */
import { Rng } from '../util/rng';

export const MASK_KINDS = ['patches25', 'patches50', 'strokes', 'boxes'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/** Share of pixels set. */
export function coverage(holes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < holes.length; i++) n += holes[i] ? 1 : 0;
  return holes.length ? n / holes.length : 0;
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new RangeError(`mask size must be positive integers, got ${width}x${height}`);
}

/**
 * Squares of `size` pixels on a grid shifted by a random offset, taken in random order until
 * `share` of the pixels is covered (squares cut by the border count for what they cover).
 */
export function patchMask(width: number, height: number, share: number, rng: Rng, size = 16): Uint8Array {
  checkSize(width, height);
  if (!(share > 0 && share < 1)) throw new RangeError(`share must be in (0, 1), got ${share}`);
  const ox = rng.int(size);
  const oy = rng.int(size);
  const cols = Math.ceil((width + ox) / size);
  const rows = Math.ceil((height + oy) / size);
  const order = Array.from({ length: rows * cols }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const holes = new Uint8Array(width * height);
  const target = share * width * height;
  let covered = 0;
  for (const cell of order) {
    if (covered >= target) break;
    const x0 = Math.max(0, (cell % cols) * size - ox);
    const y0 = Math.max(0, Math.floor(cell / cols) * size - oy);
    const x1 = Math.min(width, (cell % cols) * size - ox + size);
    const y1 = Math.min(height, Math.floor(cell / cols) * size - oy + size);
    for (let y = y0; y < y1; y++) holes.fill(1, y * width + x0, y * width + x1);
    covered += Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  }
  return holes;
}

/** Sets the pixels within `r` of the segment (ax, ay)-(bx, by); returns how many were newly set. */
function drawSegment(holes: Uint8Array, width: number, height: number, ax: number, ay: number, bx: number, by: number, r: number): number {
  let added = 0;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + r));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by) + r));
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax;
      const py = y + 0.5 - ay;
      const t = len2 > 0 ? Math.max(0, Math.min(1, (px * dx + py * dy) / len2)) : 0;
      const ex = px - t * dx;
      const ey = py - t * dy;
      if (ex * ex + ey * ey <= r * r && !holes[y * width + x]) {
        holes[y * width + x] = 1;
        added++;
      }
    }
  return added;
}

/**
 * Brush strokes: random walks (a few segments each, heading turning smoothly, bouncing off
 * the borders) drawn with a round brush of 2-7% of the short side, until a share drawn
 * between `minShare` and `maxShare` of the pixels is covered.
 */
export function strokeMask(width: number, height: number, rng: Rng, minShare = 0.1, maxShare = 0.25): Uint8Array {
  checkSize(width, height);
  const holes = new Uint8Array(width * height);
  const target = rng.uniform(minShare, maxShare) * width * height;
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let covered = 0;
  for (let stroke = 0; stroke < 1000 && covered < target; stroke++) {
    const r = Math.max(1.5, (rng.uniform(0.02, 0.07) * short) / 2);
    let x = rng.uniform(0, width);
    let y = rng.uniform(0, height);
    let heading = rng.uniform(0, 2 * Math.PI);
    const segments = 3 + rng.int(8);
    for (let s = 0; s < segments && covered < target; s++) {
      heading += rng.normal() * 0.7;
      const len = rng.uniform(0.04, 0.15) * long;
      let nx = x + Math.cos(heading) * len;
      let ny = y + Math.sin(heading) * len;
      if (nx < 0 || nx > width) {
        heading = Math.PI - heading;
        nx = Math.max(0, Math.min(width, nx));
      }
      if (ny < 0 || ny > height) {
        heading = -heading;
        ny = Math.max(0, Math.min(height, ny));
      }
      covered += drawSegment(holes, width, height, x, y, nx, ny, r);
      x = nx;
      y = ny;
    }
  }
  return holes;
}

/** One box of 8-25% of the image area, aspect ratio between 1:2 and 2:1, placed at random. */
export function boxMask(width: number, height: number, rng: Rng, minShare = 0.08, maxShare = 0.25): Uint8Array {
  checkSize(width, height);
  const area = rng.uniform(minShare, maxShare) * width * height;
  const aspect = Math.exp(rng.uniform(Math.log(0.5), Math.log(2)));
  const bw = Math.max(1, Math.min(width, Math.round(Math.sqrt(area * aspect))));
  const bh = Math.max(1, Math.min(height, Math.round(area / bw)));
  const x0 = rng.int(width - bw + 1);
  const y0 = rng.int(height - bh + 1);
  const holes = new Uint8Array(width * height);
  for (let y = y0; y < y0 + bh; y++) holes.fill(1, y * width + x0, y * width + x0 + bw);
  return holes;
}

/** The benchmark mask of `kind` for an image, fully determined by `seed`. */
export function makeMask(kind: MaskKind, width: number, height: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  switch (kind) {
    case 'patches25':
      return patchMask(width, height, 0.25, rng);
    case 'patches50':
      return patchMask(width, height, 0.5, rng);
    case 'strokes':
      return strokeMask(width, height, rng);
    case 'boxes':
      return boxMask(width, height, rng);
    default:
      throw new RangeError(`unknown mask kind '${String(kind)}' (one of ${MASK_KINDS.join(', ')})`);
  }
}
