/**
 * Fixed 2-D sine-cosine positional embeddings for any grid (rows x cols), following the
 * reference: half the channels encode the column coordinate, half the row; each half is
 * [sin(pos * w_i), cos(pos * w_i)] with w_i = 1 / 10000^(i / (D/4)).
 */

/** 1-D table for positions `pos`, `dim` channels (even): [sin..., cos...]. */
export function sincos1d(dim: number, pos: ArrayLike<number>): Float32Array {
  if (dim % 2 !== 0) throw new Error(`sin-cos embedding width must be even, got ${dim}`);
  const half = dim / 2;
  const out = new Float32Array(pos.length * dim);
  for (let m = 0; m < pos.length; m++) {
    for (let i = 0; i < half; i++) {
      const omega = 1 / Math.pow(10000, i / half);
      const v = pos[m] * omega;
      out[m * dim + i] = Math.sin(v);
      out[m * dim + half + i] = Math.cos(v);
    }
  }
  return out;
}

/**
 * Table of shape [rows*cols (+1 if cls), dim], tokens in row-major order. Channels
 * [0, dim/2) encode the column, [dim/2, dim) the row (the reference's meshgrid order).
 * With `cls`, a zero row comes first.
 */
export function sincos2d(dim: number, rows: number, cols: number, cls = false): Float32Array {
  if (dim % 4 !== 0) throw new Error(`2-D sin-cos embedding width must be a multiple of 4, got ${dim}`);
  const n = rows * cols;
  const colPos = new Float32Array(n);
  const rowPos = new Float32Array(n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      colPos[r * cols + c] = c;
      rowPos[r * cols + c] = r;
    }
  const half = dim / 2;
  const ec = sincos1d(half, colPos);
  const er = sincos1d(half, rowPos);
  const off = cls ? 1 : 0;
  const out = new Float32Array((n + off) * dim);
  for (let m = 0; m < n; m++) {
    out.set(ec.subarray(m * half, (m + 1) * half), (m + off) * dim);
    out.set(er.subarray(m * half, (m + 1) * half), (m + off) * dim + half);
  }
  return out;
}
