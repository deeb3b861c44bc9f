/**
 * The decision and update of the H.264 normal deblocking filter across one block border,
 * shared by the codec's decoder-side deblocking and the denoiser's patch-border filter.
 */

/**
 * How far the two pixels beside a border (p0 before it, q0 after; p1 and q1 one further out)
 * move towards each other: (4 (q0 - p0) + (p1 - q1)) / 8 clipped to [-tc, tc], and 0 where the
 * step across the border (alpha) or the variation on either side (beta) is too large to be a
 * blocking artefact rather than an edge of the picture. p0 becomes p0 + d, q0 becomes q0 - d.
 */
export function borderStep(p1: number, p0: number, q0: number, q1: number, alpha: number, beta: number, tc: number): number {
  if (Math.abs(q0 - p0) >= alpha || Math.abs(p1 - p0) >= beta || Math.abs(q1 - q0) >= beta) return 0;
  return Math.max(-tc, Math.min(tc, (4 * (q0 - p0) + (p1 - q1)) / 8));
}
