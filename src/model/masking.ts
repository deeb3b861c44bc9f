/**
 * Patch masks. A mask for one sample is described as the reference does: `keep`, the
 * indices of the visible patches (len_keep of them, in shuffle order), and `restore`, the
 * permutation that puts [visible..., removed...] back in grid order (ids_restore).
 */
import { Rng } from '../util/rng';

export interface SampleMask {
  /** Visible patch indices, in shuffle order (length lenKeep). */
  keep: Int32Array;
  /** ids_restore: for each grid position, its index in the shuffled order. */
  restore: Int32Array;
  /** 1 where the patch is removed, 0 where visible, in grid order. */
  removed: Uint8Array;
}

export function lenKeepFor(numPatches: number, ratio: number): number {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`mask ratio must be in [0, 1), got ${ratio}`);
  return Math.max(1, Math.floor(numPatches * (1 - ratio)));
}

/** Argsort ascending (stable). */
export function argsort(values: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[a] - values[b] || a - b);
  return Int32Array.from(idx);
}

/** The mask that keeps the first `lenKeep` patches of a shuffle order (argsort of the noise). */
export function maskFromShuffle(shuffle: Int32Array, lenKeep: number): SampleMask {
  const n = shuffle.length;
  const restore = new Int32Array(n);
  for (let i = 0; i < n; i++) restore[shuffle[i]] = i;
  const removed = new Uint8Array(n);
  for (let i = lenKeep; i < n; i++) removed[shuffle[i]] = 1;
  return { keep: shuffle.slice(0, lenKeep), restore, removed };
}

/** Reference random masking: per-sample uniform noise, argsort, keep the smallest len_keep. */
export function randomMask(numPatches: number, ratio: number, rng: Rng): SampleMask {
  const noise = new Float64Array(numPatches);
  for (let i = 0; i < numPatches; i++) noise[i] = rng.next();
  return maskFromShuffle(argsort(noise), lenKeepFor(numPatches, ratio));
}

/** An explicit mask from the visible patch indices (any order; duplicates rejected). */
export function maskFromVisible(numPatches: number, visible: ArrayLike<number>): SampleMask {
  const seen = new Uint8Array(numPatches);
  const order: number[] = [];
  for (let i = 0; i < visible.length; i++) {
    const v = visible[i];
    if (!Number.isInteger(v) || v < 0 || v >= numPatches) throw new RangeError(`visible patch index ${v} is outside 0..${numPatches - 1}`);
    if (seen[v]) throw new RangeError(`visible patch index ${v} is given twice`);
    seen[v] = 1;
    order.push(v);
  }
  if (order.length === 0) throw new RangeError('at least one patch must stay visible');
  order.sort((a, b) => a - b);
  for (let i = 0; i < numPatches; i++) if (!seen[i]) order.push(i);
  return maskFromShuffle(Int32Array.from(order), visible.length);
}

/** An explicit mask from a removed-flag array in grid order. */
export function maskFromRemoved(removed: ArrayLike<number>): SampleMask {
  const vis: number[] = [];
  for (let i = 0; i < removed.length; i++) if (!removed[i]) vis.push(i);
  return maskFromVisible(removed.length, vis);
}
