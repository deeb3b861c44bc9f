/**
 * Classical hole filling from known pixels: a push-pull pyramid (weighted averages going
 * down, filled values coming back up) followed by Gauss-Seidel relaxation of Laplace's
 * equation on the unknown pixels, i.e. a harmonic (membrane) interpolation. It never reads
 * an unknown pixel's value. Used as the MAE's interpolation hint, as the `interp` baseline
 * of the benchmarks, and to pre-fill holes before inpainting.
 */

export interface FillOptions {
  /** Gauss-Seidel sweeps after push-pull (default 30). */
  iterations?: number;
}

/**
 * Fills `img` (H*W*C floats, interleaved) where `known[y*W+x]` is 0; known pixels are
 * copied unchanged. Returns a new array.
 */
export function harmonicFill(img: Float32Array, width: number, height: number, channels: number, known: Uint8Array, opts: FillOptions = {}): Float32Array {
  const n = width * height;
  if (img.length !== n * channels) throw new RangeError(`image has ${img.length} values, expected ${n * channels}`);
  if (known.length !== n) throw new RangeError(`mask has ${known.length} values, expected ${n}`);
  const out = pushPull(img, width, height, channels, known);
  const iters = opts.iterations ?? 30;
  if (iters > 0) relax(out, width, height, channels, known, iters);
  return out;
}

function pushPull(img: Float32Array, W: number, H: number, C: number, known: Uint8Array): Float32Array {
  // Level 0 values and weights.
  const vals: Float32Array[] = [];
  const wts: Float32Array[] = [];
  const dims: [number, number][] = [];
  let v = new Float32Array(img.length);
  let w = new Float32Array(W * H);
  let anyKnown = false;
  for (let i = 0; i < W * H; i++) {
    if (known[i]) {
      w[i] = 1;
      anyKnown = true;
      for (let c = 0; c < C; c++) v[i * C + c] = img[i * C + c];
    }
  }
  if (!anyKnown) return new Float32Array(img.length); // nothing to go on: zeros
  let w0 = W;
  let h0 = H;
  vals.push(v);
  wts.push(w);
  dims.push([w0, h0]);
  // Push: 2x2 weighted averages until 1x1.
  while (w0 > 1 || h0 > 1) {
    const w1 = Math.max(1, Math.ceil(w0 / 2));
    const h1 = Math.max(1, Math.ceil(h0 / 2));
    const nv = new Float32Array(w1 * h1 * C);
    const nw = new Float32Array(w1 * h1);
    for (let y = 0; y < h1; y++)
      for (let x = 0; x < w1; x++) {
        let sw = 0;
        const acc = [0, 0, 0, 0];
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const sx = 2 * x + dx;
            const sy = 2 * y + dy;
            if (sx >= w0 || sy >= h0) continue;
            const si = sy * w0 + sx;
            const ww = w[si];
            if (ww === 0) continue;
            sw += ww;
            for (let c = 0; c < C; c++) acc[c] += ww * v[si * C + c];
          }
        const di = y * w1 + x;
        if (sw > 0) for (let c = 0; c < C; c++) nv[di * C + c] = acc[c] / sw;
        nw[di] = Math.min(1, sw);
      }
    v = nv;
    w = nw;
    w0 = w1;
    h0 = h1;
    vals.push(v);
    wts.push(w);
    dims.push([w0, h0]);
  }
  // Pull: blend each level with the bilinear upsampling of the filled coarser level.
  for (let l = vals.length - 2; l >= 0; l--) {
    const [fw, fh] = dims[l];
    const [cw, ch] = dims[l + 1];
    const fv = vals[l];
    const fwt = wts[l];
    const cv = vals[l + 1];
    for (let y = 0; y < fh; y++) {
      const cy = Math.min(ch - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
      const y0 = Math.floor(cy);
      const y1 = Math.min(ch - 1, y0 + 1);
      const fy = cy - y0;
      for (let x = 0; x < fw; x++) {
        const i = y * fw + x;
        const a = fwt[i];
        if (a >= 1) continue;
        const cx = Math.min(cw - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
        const x0 = Math.floor(cx);
        const x1 = Math.min(cw - 1, x0 + 1);
        const fx = cx - x0;
        for (let c = 0; c < C; c++) {
          const up =
            (1 - fy) * ((1 - fx) * cv[(y0 * cw + x0) * C + c] + fx * cv[(y0 * cw + x1) * C + c]) +
            fy * ((1 - fx) * cv[(y1 * cw + x0) * C + c] + fx * cv[(y1 * cw + x1) * C + c]);
          fv[i * C + c] = a * fv[i * C + c] + (1 - a) * up;
        }
      }
    }
  }
  const out = vals[0];
  for (let i = 0; i < W * H; i++) if (known[i]) for (let c = 0; c < C; c++) out[i * C + c] = img[i * C + c];
  return out;
}

/** Gauss-Seidel sweeps of the 4-neighbour Laplace equation over the unknown pixels. */
function relax(out: Float32Array, W: number, H: number, C: number, known: Uint8Array, iters: number): void {
  // Indices of the unknown pixels, as a typed array (a JS array costs twice as much on large images).
  let count = 0;
  for (let i = 0; i < W * H; i++) if (!known[i]) count++;
  if (count === 0) return;
  const unknown = new Int32Array(count);
  for (let i = 0, k = 0; i < W * H; i++) if (!known[i]) unknown[k++] = i;
  for (let it = 0; it < iters; it++) {
    for (const i of unknown) {
      const x = i % W;
      const y = (i - x) / W;
      let cnt = 0;
      const nb = [x > 0 ? i - 1 : -1, x < W - 1 ? i + 1 : -1, y > 0 ? i - W : -1, y < H - 1 ? i + W : -1];
      for (let c = 0; c < C; c++) {
        let s = 0;
        cnt = 0;
        for (const j of nb) {
          if (j < 0) continue;
          s += out[j * C + c];
          cnt++;
        }
        out[i * C + c] = s / cnt;
      }
    }
  }
}
