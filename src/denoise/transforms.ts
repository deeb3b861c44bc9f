/**
 * The eight flips and transposes of an image (the dihedral group of the square), for
 * self-ensembling: denoise each transformed copy, undo the transform, average.
 * Code k: bit 0 flips columns, bit 1 flips rows, bit 2 then transposes.
 */
import { FloatImage } from '../model/runner';

export function transformImage(img: FloatImage, k: number): FloatImage {
  return remap(img, k, false);
}

/** Undoes transformImage(·, k). */
export function untransformImage(img: FloatImage, k: number): FloatImage {
  return remap(img, k, true);
}

function remap(img: FloatImage, k: number, inverse: boolean): FloatImage {
  if (!Number.isInteger(k) || k < 0 || k > 7) throw new Error(`transform code must be 0..7, got ${k}`);
  if (k === 0) return img;
  const fx = (k & 1) !== 0;
  const fy = (k & 2) !== 0;
  const tr = (k & 4) !== 0;
  const { width: W, height: H, data: d } = img;
  const oW = tr ? H : W;
  const oH = tr ? W : H;
  const out = new Float32Array(d.length);
  // Forward: flip the source, then transpose. Inverse: transpose back, then flip.
  // (Wf, Hf) is the size of the flipped, untransposed image in both directions.
  const Wf = inverse ? oW : W;
  const Hf = inverse ? oH : H;
  for (let y = 0; y < oH; y++)
    for (let x = 0; x < oW; x++) {
      let sx: number;
      let sy: number;
      if (!inverse) {
        // out(x, y) = flipped(tr ? (y, x) : (x, y))
        const ux = tr ? y : x;
        const uy = tr ? x : y;
        sx = fx ? Wf - 1 - ux : ux;
        sy = fy ? Hf - 1 - uy : uy;
      } else {
        // out = unflip(untranspose(img)): out(x, y) = img at the transposed flipped position.
        const ux = fx ? Wf - 1 - x : x;
        const uy = fy ? Hf - 1 - y : y;
        sx = tr ? uy : ux;
        sy = tr ? ux : uy;
      }
      const s = (sy * W + sx) * 3;
      const o = (y * oW + x) * 3;
      out[o] = d[s];
      out[o + 1] = d[s + 1];
      out[o + 2] = d[s + 2];
    }
  return { width: oW, height: oH, data: out };
}
