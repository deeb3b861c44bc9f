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
    const up = upsample(vals[l + 1], cw, ch, fw, fh, C);
    for (let i = 0; i < fw * fh; i++) {
      const a = fwt[i];
      if (a < 1) for (let c = 0; c < C; c++) fv[i * C + c] = a * fv[i * C + c] + (1 - a) * up[i * C + c];
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

/**
 * How a model computes its interpolation hint: `relaxed` is push-pull plus a fixed number of
 * Gauss-Seidel sweeps (far from converged on large holes), `solved` is the converged
 * harmonic fill of `harmonicFillSolved`. Part of a model's config: it must match training.
 */
export type HintKind = 'relaxed' | 'solved';
export const HINT_KINDS: readonly HintKind[] = ['relaxed', 'solved'];

/** The hint a model of kind `kind` is given (`training`: the relaxed kind used 20 sweeps there). */
export function hintFill(kind: HintKind, img: Float32Array, width: number, height: number, channels: number, known: Uint8Array, training = false): Float32Array {
  if (kind === 'solved') return harmonicFillSolved(img, width, height, channels, known);
  return harmonicFill(img, width, height, channels, known, training ? { iterations: 20 } : {});
}

export interface SolveOptions {
  /** Stop when the RMS of the diagonally scaled residual (pixel units) is under this (default 2e-5). */
  tolerance?: number;
  /** Conjugate-gradient iterations at the finest level (default 60); level k below it takes 2^k times as many (at most 8x). */
  maxIterations?: number;
}

/**
 * The harmonic fill solved rather than relaxed: the unknown pixels take the solution of
 * Laplace's equation (4 neighbours, reflecting image borders) with the known pixels as
 * boundary values (a membrane stretched over the holes). Coarse to fine: the image is halved
 * (a coarse pixel is known only if all of its children are, with their mean) until it is
 * small, the coarsest problem is solved, and each finer level starts from the bilinear
 * upsampling of the coarser solution and runs Jacobi-preconditioned conjugate gradients on its
 * unknown pixels. Known pixels are copied, and unknown pixels' values are never read.
 */
export function harmonicFillSolved(img: Float32Array, width: number, height: number, channels: number, known: Uint8Array, opts: SolveOptions = {}): Float32Array {
  checkSizes(img, width, height, channels, known);
  return solveLevel(img, width, height, channels, known, opts.tolerance ?? 2e-5, opts.maxIterations ?? 60, 0);
}

/**
 * The tension-spline fill: the unknown pixels minimise tension x |gradient|^2 + |Laplacian|^2
 * summed over the image (the same 4-neighbour Laplacian as the harmonic fill, reflecting
 * borders), the known pixels fixed. Pure harmonic (a membrane) meets the hole's border with a
 * kink and flattens everything inside; the squared Laplacian (a thin plate) carries the
 * gradients across the border but overshoots in large holes; the tension term keeps the
 * plate's smooth start within a few pixels of the border and the membrane's calm further in.
 * Solved by Jacobi-preconditioned conjugate gradients on the unknown pixels, started from
 * harmonicFillSolved. The two differ near the border: unknown pixels more than `band` pixels
 * (default 8) from every known one keep the harmonic fill and bound the system as known
 * pixels do, so a large hole costs the solver its rim only. Known pixels are copied, and
 * unknown pixels' values are never read. Tension 1 by default. `harmonic`: the caller's
 * harmonicFillSolved of the same image and mask with the same solver options, if it has it
 * (it is not solved again; it is not modified).
 */
export function tensionFillSolved(
  img: Float32Array,
  width: number,
  height: number,
  channels: number,
  known: Uint8Array,
  opts: SolveOptions & { tension?: number; band?: number; harmonic?: Float32Array } = {},
): Float32Array {
  checkSizes(img, width, height, channels, known);
  const tension = opts.tension ?? 1;
  if (!(Number.isFinite(tension) && tension > 0)) throw new RangeError(`tension must be a positive number, got ${String(opts.tension)}`);
  const band = opts.band ?? 8;
  if (!(Number.isInteger(band) && band >= 1)) throw new RangeError(`band must be a positive integer, got ${String(opts.band)}`);
  if (opts.harmonic && opts.harmonic.length !== img.length) throw new RangeError(`harmonic fill has ${opts.harmonic.length} values, expected ${img.length}`);
  const out = opts.harmonic ? Float32Array.from(opts.harmonic) : harmonicFillSolved(img, width, height, channels, known, opts);
  // Unknown pixels deeper than the band keep the harmonic fill and bound the system like known ones.
  const fixed = Uint8Array.from(known);
  const depth = holeDepth(known, width, height, band);
  for (let i = 0; i < fixed.length; i++) if (!known[i] && depth[i] > band) fixed[i] = 1;
  let n = 0;
  for (let i = 0; i < fixed.length; i++) if (!fixed[i]) n++;
  if (n === 0 || n === fixed.length) return out;
  const op = tensionOperator(out, width, height, channels, fixed, n, tension);
  const C = channels;
  const x = new Float64Array(n * C);
  for (let k = 0; k < n; k++) for (let c = 0; c < C; c++) x[k * C + c] = out[op.pix[k] * C + c];
  conjugateGradients(op, x, C, opts.tolerance ?? 2e-5, opts.maxIterations ?? 200);
  for (let k = 0; k < n; k++) for (let c = 0; c < C; c++) out[op.pix[k] * C + c] = x[k * C + c];
  return out;
}

/**
 * Adds to `out`, at the unknown pixels, the tension spline's correction of `hint`, the fill of
 * kind `kind` that a model was given (spline minus hint): the model corrects the hint it was
 * trained with, not the spline. A solved hint is the spline's own start, so it is not solved
 * again.
 */
export function addTensionCorrection(out: Float32Array, img: Float32Array, width: number, height: number, channels: number, known: Uint8Array, hint: Float32Array, kind: HintKind, tension: number): void {
  const spline = tensionFillSolved(img, width, height, channels, known, { tension, harmonic: kind === 'solved' ? hint : undefined });
  const C = channels;
  for (let i = 0; i < width * height; i++) if (!known[i]) for (let c = 0; c < C; c++) out[i * C + c] += spline[i * C + c] - hint[i * C + c];
}

function checkSizes(img: Float32Array, width: number, height: number, channels: number, known: Uint8Array): void {
  const n = width * height;
  if (img.length !== n * channels) throw new RangeError(`image has ${img.length} values, expected ${n * channels}`);
  if (known.length !== n) throw new RangeError(`mask has ${known.length} values, expected ${n}`);
}

/** Solves one level, starting from the coarser level's solution. */
function solveLevel(img: Float32Array, W: number, H: number, C: number, known: Uint8Array, tol: number, maxIter: number, level: number): Float32Array {
  let unknownCount = 0;
  for (let i = 0; i < W * H; i++) if (!known[i]) unknownCount++;
  const out = new Float32Array(W * H * C);
  if (unknownCount === W * H) return out; // nothing to go on: zeros, as harmonicFill
  for (let i = 0; i < W * H; i++) if (known[i]) for (let c = 0; c < C; c++) out[i * C + c] = img[i * C + c];
  if (unknownCount === 0) return out;
  let init: Float32Array | Float64Array | null = null;
  if (unknownCount > 256 && W >= 8 && H >= 8) {
    const cw = Math.ceil(W / 2);
    const ch = Math.ceil(H / 2);
    const coarse = halve(img, W, H, C, known, cw, ch);
    if (coarse) init = upsample(solveLevel(coarse.img, cw, ch, C, coarse.known, tol, maxIter, level + 1), cw, ch, W, H, C);
  }
  // Coarser levels are cheap: they get more iterations; a level with no coarser start (push-pull) the most.
  const iterations = init ? maxIter * Math.min(8, 2 ** level) : maxIter * 8;
  init ??= pushPull(img, W, H, C, known);
  const op = laplaceOperator(out, W, H, C, known, unknownCount);
  const x = new Float64Array(unknownCount * C);
  for (let k = 0; k < unknownCount; k++) for (let c = 0; c < C; c++) x[k * C + c] = init[op.pix[k] * C + c];
  init = null; // large images: the full-size start is not kept through the iterations
  conjugateGradients(op, x, C, tol, iterations);
  for (let k = 0; k < unknownCount; k++) for (let c = 0; c < C; c++) out[op.pix[k] * C + c] = x[k * C + c];
  return out;
}

/** The half-size problem: a coarse pixel is known if all of its (up to 4) children are, with their mean; null if none is. */
function halve(img: Float32Array, W: number, H: number, C: number, known: Uint8Array, cw: number, ch: number): { img: Float32Array; known: Uint8Array } | null {
  const cKnown = new Uint8Array(cw * ch);
  const cImg = new Float32Array(cw * ch * C);
  let anyKnown = false;
  for (let y = 0; y < ch; y++)
    for (let x = 0; x < cw; x++) {
      let all = true;
      let cnt = 0;
      for (let dy = 0; dy < 2 && all; dy++)
        for (let dx = 0; dx < 2; dx++) {
          const sx = 2 * x + dx;
          const sy = 2 * y + dy;
          if (sx >= W || sy >= H) continue;
          if (!known[sy * W + sx]) {
            all = false;
            break;
          }
          cnt++;
        }
      if (!all) continue;
      const di = y * cw + x;
      cKnown[di] = 1;
      anyKnown = true;
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 2; dx++) {
          const sx = 2 * x + dx;
          const sy = 2 * y + dy;
          if (sx >= W || sy >= H) continue;
          for (let c = 0; c < C; c++) cImg[di * C + c] += img[(sy * W + sx) * C + c] / cnt;
        }
    }
  return anyKnown ? { img: cImg, known: cKnown } : null;
}

/** Bilinear upsampling of a (cw x ch) image to (W x H), pixel centres aligned as a 2x pyramid (in doubles). */
function upsample(src: Float32Array, cw: number, ch: number, W: number, H: number, C: number): Float64Array {
  const out = new Float64Array(W * H * C);
  for (let y = 0; y < H; y++) {
    const cy = Math.min(ch - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
    const y0 = Math.floor(cy);
    const y1 = Math.min(ch - 1, y0 + 1);
    const fy = cy - y0;
    for (let x = 0; x < W; x++) {
      const cx = Math.min(cw - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
      const x0 = Math.floor(cx);
      const x1 = Math.min(cw - 1, x0 + 1);
      const fx = cx - x0;
      const a = (y0 * cw + x0) * C;
      const b = (y0 * cw + x1) * C;
      const d = (y1 * cw + x0) * C;
      const e = (y1 * cw + x1) * C;
      for (let c = 0; c < C; c++)
        out[(y * W + x) * C + c] = (1 - fy) * ((1 - fx) * src[a + c] + fx * src[b + c]) + fy * ((1 - fx) * src[d + c] + fx * src[e + c]);
    }
  }
  return out;
}

/**
 * A symmetric positive definite system over the unknown pixels `pix` (C channels sharing it):
 * `rhs` is what the known pixels contribute (the solver turns it into its residual in place),
 * `diag` the diagonal (the Jacobi preconditioner),
 * `apply(v, dst, dot)` sets dst = A v and adds v.(A v) per channel into `dot` when given.
 */
interface Operator {
  pix: Int32Array;
  rhs: Float64Array;
  diag: Float64Array;
  apply(v: Float64Array, dst: Float64Array, dot: Float64Array | null): void;
}

/** The harmonic system: (A x)_k = (in-image neighbours)_k x_k - (unknown neighbours' x); known neighbours go to the right-hand side. */
function laplaceOperator(out: Float32Array, W: number, H: number, C: number, known: Uint8Array, N: number): Operator {
  const index = new Int32Array(W * H).fill(-1);
  const pix = new Int32Array(N);
  for (let i = 0, k = 0; i < W * H; i++) if (!known[i]) (index[i] = k), (pix[k++] = i);
  // Unknown neighbours by index (-1: known or outside the image), left, right, up, down.
  const nb = new Int32Array(N * 4).fill(-1);
  const diag = new Float64Array(N);
  const rhs = new Float64Array(N * C);
  // Neighbour j of unknown pixel k, in slot t: counted on the diagonal, linked if unknown, else on the right-hand side.
  const link = (k: number, t: number, j: number) => {
    diag[k]++;
    const kj = index[j];
    if (kj >= 0) nb[k * 4 + t] = kj;
    else for (let c = 0; c < C; c++) rhs[k * C + c] += out[j * C + c];
  };
  for (let k = 0; k < N; k++) {
    const i = pix[k];
    const px = i % W;
    const py = (i - px) / W;
    if (px > 0) link(k, 0, i - 1);
    if (px < W - 1) link(k, 1, i + 1);
    if (py > 0) link(k, 2, i - W);
    if (py < H - 1) link(k, 3, i + W);
  }
  const apply = (v: Float64Array, dst: Float64Array, dot: Float64Array | null) => {
    for (let k = 0; k < N; k++) {
      const o = k * C;
      const j0 = nb[k * 4];
      const j1 = nb[k * 4 + 1];
      const j2 = nb[k * 4 + 2];
      const j3 = nb[k * 4 + 3];
      const d = diag[k];
      for (let c = 0; c < C; c++) {
        let s = d * v[o + c];
        if (j0 >= 0) s -= v[j0 * C + c];
        if (j1 >= 0) s -= v[j1 * C + c];
        if (j2 >= 0) s -= v[j2 * C + c];
        if (j3 >= 0) s -= v[j3 * C + c];
        dst[o + c] = s;
        if (dot) dot[c] += v[o + c] * s;
      }
    }
  };
  return { pix, rhs, diag, apply };
}

/** The step of conjugateGradients for 3 channels, with the channels' factors in locals (the same sums, in the same order). */
function update3(N: number, diag: Float64Array, x: Float64Array, r: Float64Array, p: Float64Array, q: Float64Array, alpha: Float64Array, rzNew: Float64Array): void {
  const [a0, a1, a2] = alpha;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  for (let k = 0, m = 0; k < N; k++, m += 3) {
    const inv = 1 / diag[k];
    x[m] += a0 * p[m];
    x[m + 1] += a1 * p[m + 1];
    x[m + 2] += a2 * p[m + 2];
    const r0 = r[m] - a0 * q[m];
    const r1 = r[m + 1] - a1 * q[m + 1];
    const r2 = r[m + 2] - a2 * q[m + 2];
    r[m] = r0;
    r[m + 1] = r1;
    r[m + 2] = r2;
    s0 += r0 * r0 * inv;
    s1 += r1 * r1 * inv;
    s2 += r2 * r2 * inv;
  }
  rzNew[0] += s0;
  rzNew[1] += s1;
  rzNew[2] += s2;
}

/** The new search direction of conjugateGradients for 3 channels. */
function direction3(N: number, diag: Float64Array, r: Float64Array, p: Float64Array, beta: Float64Array): void {
  const [b0, b1, b2] = beta;
  for (let k = 0, m = 0; k < N; k++, m += 3) {
    const inv = 1 / diag[k];
    p[m] = r[m] * inv + b0 * p[m];
    p[m + 1] = r[m + 1] * inv + b1 * p[m + 1];
    p[m + 2] = r[m + 2] * inv + b2 * p[m + 2];
  }
}

/** Chessboard distance of each pixel to the nearest known one, counted up to `cap` + 1 (known pixels 0; two passes). */
function holeDepth(known: Uint8Array, W: number, H: number, cap: number): Uint8Array {
  const far = Math.min(255, cap + 1);
  const d = new Uint8Array(W * H);
  for (let i = 0; i < d.length; i++) d[i] = known[i] ? 0 : far;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      let v = d[i];
      if (v === 0) continue;
      if (x > 0) v = Math.min(v, d[i - 1] + 1);
      if (y > 0) {
        v = Math.min(v, d[i - W] + 1);
        if (x > 0) v = Math.min(v, d[i - W - 1] + 1);
        if (x < W - 1) v = Math.min(v, d[i - W + 1] + 1);
      }
      d[i] = v;
    }
  for (let y = H - 1; y >= 0; y--)
    for (let x = W - 1; x >= 0; x--) {
      const i = y * W + x;
      let v = d[i];
      if (v === 0) continue;
      if (x < W - 1) v = Math.min(v, d[i + 1] + 1);
      if (y < H - 1) {
        v = Math.min(v, d[i + W] + 1);
        if (x < W - 1) v = Math.min(v, d[i + W + 1] + 1);
        if (x > 0) v = Math.min(v, d[i + W - 1] + 1);
      }
      d[i] = v;
    }
  return d;
}

/**
 * The tension system (tension x L + L^2 over the unknown pixels, L the 4-neighbour Laplacian
 * with reflecting borders): L is applied on the unknown pixels and their neighbours (the set
 * S; `pix` lists the N unknown pixels first, then the ring), and L again on the unknown ones.
 * The known pixels' part (L and L^2 of the image with its holes at zero) goes to the
 * right-hand side; it reads known pixels up to 2 pixels from a hole, never an unknown one.
 */
function tensionOperator(out: Float32Array, W: number, H: number, C: number, known: Uint8Array, N: number, tension: number): Operator {
  const index = new Int32Array(W * H).fill(-1);
  const list: number[] = [];
  for (let i = 0; i < W * H; i++) if (!known[i]) (index[i] = list.length), list.push(i);
  const neighbours = (i: number, f: (j: number) => void) => {
    const px = i % W;
    const py = (i - px) / W;
    if (px > 0) f(i - 1);
    if (px < W - 1) f(i + 1);
    if (py > 0) f(i - W);
    if (py < H - 1) f(i + W);
  };
  for (let k = 0; k < N; k++)
    neighbours(list[k], (j) => {
      if (index[j] < 0) (index[j] = list.length), list.push(j);
    });
  const M = list.length;
  const all = Int32Array.from(list);
  // Per pixel of S: its degree and its neighbours' S indices (-1: outside S or the image).
  const deg = new Float64Array(M);
  const nb = new Int32Array(M * 4).fill(-1);
  for (let s = 0; s < M; s++) {
    let t = 0;
    neighbours(all[s], (j) => {
      deg[s]++;
      nb[s * 4 + t++] = index[j];
    });
  }
  // Right-hand side: -(tension t0 + L t0) on the unknown pixels, t0 = L z, z = the image with its holes at zero.
  const t0 = new Float64Array(M * C);
  for (let s = 0; s < M; s++) {
    const i = all[s];
    for (let c = 0; c < C; c++) {
      let v = known[i] ? deg[s] * out[i * C + c] : 0;
      neighbours(i, (j) => {
        if (known[j]) v -= out[j * C + c];
      });
      t0[s * C + c] = v;
    }
  }
  const rhs = new Float64Array(N * C);
  const diag = new Float64Array(N);
  for (let k = 0; k < N; k++) {
    diag[k] = tension * deg[k] + deg[k] * deg[k] + deg[k];
    for (let c = 0; c < C; c++) {
      let v = (tension + deg[k]) * t0[k * C + c];
      for (let q = 0; q < 4; q++) {
        const j = nb[k * 4 + q];
        if (j >= 0) v -= t0[j * C + c];
      }
      rhs[k * C + c] = -v;
    }
  }
  const t = new Float64Array(M * C);
  // Neighbours that are unknown pixels (indices under N), for the first product.
  const nbU = Int32Array.from(nb, (j) => (j < N ? j : -1));
  const apply = (v: Float64Array, dst: Float64Array, dot: Float64Array | null) => {
    // t = L v on S (v is zero outside the unknown pixels, which come first in S).
    for (let s = 0; s < M; s++) {
      const d = s < N ? deg[s] : 0;
      const j0 = nbU[s * 4];
      const j1 = nbU[s * 4 + 1];
      const j2 = nbU[s * 4 + 2];
      const j3 = nbU[s * 4 + 3];
      for (let c = 0; c < C; c++) {
        let a = d > 0 ? d * v[s * C + c] : 0;
        if (j0 >= 0) a -= v[j0 * C + c];
        if (j1 >= 0) a -= v[j1 * C + c];
        if (j2 >= 0) a -= v[j2 * C + c];
        if (j3 >= 0) a -= v[j3 * C + c];
        t[s * C + c] = a;
      }
    }
    for (let k = 0; k < N; k++) {
      const e = tension + deg[k];
      const j0 = nb[k * 4];
      const j1 = nb[k * 4 + 1];
      const j2 = nb[k * 4 + 2];
      const j3 = nb[k * 4 + 3];
      for (let c = 0; c < C; c++) {
        let a = e * t[k * C + c];
        if (j0 >= 0) a -= t[j0 * C + c];
        if (j1 >= 0) a -= t[j1 * C + c];
        if (j2 >= 0) a -= t[j2 * C + c];
        if (j3 >= 0) a -= t[j3 * C + c];
        dst[k * C + c] = a;
      }
    }
    if (dot)
      for (let c = 0; c < C; c++) {
        let d = 0;
        for (let m = c; m < N * C; m += C) d += v[m] * dst[m];
        dot[c] += d;
      }
  };
  return { pix: all.subarray(0, N), rhs, diag, apply };
}

/**
 * Jacobi-preconditioned conjugate gradients on `op`, in place on `x` (the start); the C
 * channels are C independent systems that share one loop over the pixels. Stops when every
 * channel's diagonally scaled residual has an RMS under `tol`, or after `maxIter` iterations.
 */
function conjugateGradients(op: Operator, x: Float64Array, C: number, tol: number, maxIter: number): void {
  const { diag } = op;
  const N = diag.length;
  const r = op.rhs;
  const q = new Float64Array(N * C);
  op.apply(x, q, null);
  for (let m = 0; m < N * C; m++) r[m] -= q[m];
  const p = new Float64Array(N * C);
  const rz = new Float64Array(C);
  for (let k = 0; k < N; k++)
    for (let c = 0; c < C; c++) {
      const z = r[k * C + c] / diag[k];
      p[k * C + c] = z;
      rz[c] += r[k * C + c] * z;
    }
  const limit = tol * tol * N;
  const pq = new Float64Array(C);
  const alpha = new Float64Array(C);
  const beta = new Float64Array(C);
  const rzNew = new Float64Array(C);
  for (let it = 0; it < maxIter; it++) {
    let done = true;
    for (let c = 0; c < C; c++) if (rz[c] > limit) done = false;
    if (done) break;
    pq.fill(0);
    op.apply(p, q, pq);
    for (let c = 0; c < C; c++) alpha[c] = pq[c] > 0 ? rz[c] / pq[c] : 0;
    rzNew.fill(0);
    if (C === 3) update3(N, diag, x, r, p, q, alpha, rzNew);
    else
      for (let k = 0; k < N; k++) {
        const inv = 1 / diag[k];
        for (let c = 0; c < C; c++) {
          const m = k * C + c;
          x[m] += alpha[c] * p[m];
          const rm = r[m] - alpha[c] * q[m];
          r[m] = rm;
          rzNew[c] += rm * rm * inv;
        }
      }
    for (let c = 0; c < C; c++) beta[c] = rz[c] > 0 ? rzNew[c] / rz[c] : 0;
    if (C === 3) direction3(N, diag, r, p, beta);
    else
      for (let k = 0; k < N; k++) {
        const inv = 1 / diag[k];
        for (let c = 0; c < C; c++) {
          const m = k * C + c;
          p[m] = r[m] * inv + beta[c] * p[m];
        }
      }
    rz.set(rzNew);
  }
}
