/**
 * The order of progressive filling on the patch grid: the depth of each hole patch (8-connected
 * patch distance to the nearest hole-free patch) and the pass that fills it.
 */

/** Patch grid (ceil) of a W x H image: rows, cols, and a patch's neighbours (8-connected). */
function neighbours(i: number, rows: number, cols: number): number[] {
  const r = Math.floor(i / cols);
  const c = i % cols;
  const out: number[] = [];
  for (let dr = -1; dr <= 1; dr++)
    for (let dc = -1; dc <= 1; dc++) {
      const rr = r + dr;
      const cc = c + dc;
      if ((dr || dc) && rr >= 0 && cc >= 0 && rr < rows && cc < cols) out.push(rr * cols + cc);
    }
  return out;
}

/**
 * Depth of each patch: 0 for patches with no unknown pixel, else the 8-connected patch
 * distance to the nearest such patch (Infinity when there is none).
 */
export function patchDepth(known: Uint8Array, W: number, H: number, p: number): Float64Array {
  const cols = Math.ceil(W / p);
  const rows = Math.ceil(H / p);
  const d = new Float64Array(rows * cols);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (!known[y * W + x]) d[Math.floor(y / p) * cols + Math.floor(x / p)] = Infinity;
  const queue: number[] = [];
  for (let i = 0; i < d.length; i++) if (d[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    for (const j of neighbours(i, rows, cols))
      if (d[j] > d[i] + 1) {
        d[j] = d[i] + 1;
        queue.push(j);
      }
  }
  return d;
}

/**
 * The pass (1, 2, ...) that fills each hole patch, 0 for hole-free patches. Holes (8-connected
 * groups of hole patches) whose deepest patch is at least `minDepth` deep are filled from the
 * border inwards, `ringPatches` patches per pass; shallower holes all in pass 1.
 */
export function patchRings(known: Uint8Array, W: number, H: number, p: number, ringPatches: number, minDepth = 0): Float64Array {
  const cols = Math.ceil(W / p);
  const rows = Math.ceil(H / p);
  const d = patchDepth(known, W, H, p);
  const ring = d.map((v) => Math.ceil(v / ringPatches));
  const seen = new Uint8Array(d.length);
  for (let s = 0; s < d.length; s++) {
    if (d[s] === 0 || seen[s]) continue;
    const group = [s];
    seen[s] = 1;
    let deepest = 0;
    for (let q = 0; q < group.length; q++) {
      deepest = Math.max(deepest, d[group[q]]);
      for (const j of neighbours(group[q], rows, cols))
        if (d[j] > 0 && !seen[j]) {
          seen[j] = 1;
          group.push(j);
        }
    }
    if (deepest < minDepth) for (const i of group) ring[i] = 1;
  }
  return ring;
}
