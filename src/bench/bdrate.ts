/**
 * Bjontegaard delta rate (VCEG-M33): the average rate difference between two
 * rate-distortion curves over their common PSNR range. log(rate) is interpolated as a
 * function of PSNR, either piecewise cubic (monotone PCHIP, as in JVET's common test
 * conditions; the default) or by a least-squares cubic polynomial (the original; needs at
 * least 4 points), both curves are integrated over the overlap, and the mean log-rate
 * difference d gives (exp(d) - 1) x 100 %. Negative: curve B needs fewer bits than A.
 */

export interface RdPoint {
  /** Bits per pixel (any rate unit, the same for both curves). */
  rate: number;
  /** Distortion in dB (PSNR). */
  psnr: number;
}

export type BdMethod = 'pchip' | 'poly';

export interface BdResult {
  /** Percentage; NaN when the curves do not overlap. */
  rate: number;
  /** The PSNR range integrated over. */
  lo: number;
  hi: number;
}

/** Sorted by PSNR, invalid and duplicate-PSNR points dropped. */
function prepare(points: RdPoint[]): { x: number[]; y: number[] } {
  const ok = points.filter((p) => p.rate > 0 && Number.isFinite(p.rate) && Number.isFinite(p.psnr)).sort((a, b) => a.psnr - b.psnr || a.rate - b.rate);
  const x: number[] = [];
  const y: number[] = [];
  for (const p of ok) {
    if (x.length && p.psnr === x[x.length - 1]) continue;
    x.push(p.psnr);
    y.push(Math.log(p.rate));
  }
  return { x, y };
}

/** Integral of the PCHIP interpolant of (x, y) over [a, b] (within the data range). */
export function pchipIntegral(x: number[], y: number[], a: number, b: number): number {
  const n = x.length;
  if (n < 2) throw new RangeError('need at least 2 points');
  const h = x.slice(1).map((v, i) => v - x[i]);
  const delta = h.map((hi, i) => (y[i + 1] - y[i]) / hi);
  const d = new Array<number>(n).fill(0);
  if (n === 2) {
    d[0] = d[1] = delta[0];
  } else {
    for (let i = 1; i < n - 1; i++) {
      if (delta[i - 1] * delta[i] <= 0) d[i] = 0;
      else {
        // Fritsch-Carlson weighted harmonic mean (as scipy's PchipInterpolator).
        const w1 = 2 * h[i] + h[i - 1];
        const w2 = h[i] + 2 * h[i - 1];
        d[i] = (w1 + w2) / (w1 / delta[i - 1] + w2 / delta[i]);
      }
    }
    const end = (h0: number, h1: number, m0: number, m1: number) => {
      let e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
      if (Math.sign(e) !== Math.sign(m0)) e = 0;
      else if (Math.sign(m0) !== Math.sign(m1) && Math.abs(e) > Math.abs(3 * m0)) e = 3 * m0;
      return e;
    };
    d[0] = end(h[0], h[1], delta[0], delta[1]);
    d[n - 1] = end(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
  }
  // Integrate each cubic Hermite segment over its part of [a, b].
  let total = 0;
  for (let i = 0; i < n - 1; i++) {
    const lo = Math.max(a, x[i]);
    const hi = Math.min(b, x[i + 1]);
    if (hi <= lo) continue;
    const H = h[i];
    // Antiderivative of the Hermite cubic in t = (s - x_i) / H, times H.
    const F = (s: number) => {
      const t = (s - x[i]) / H;
      const t2 = t * t;
      const t3 = t2 * t;
      const t4 = t3 * t;
      const h00 = t4 / 2 - t3 + t;
      const h10 = t4 / 4 - (2 * t3) / 3 + t2 / 2;
      const h01 = -t4 / 2 + t3;
      const h11 = t4 / 4 - t3 / 3;
      return H * (h00 * y[i] + h10 * H * d[i] + h01 * y[i + 1] + h11 * H * d[i + 1]);
    };
    total += F(hi) - F(lo);
  }
  return total;
}

/** Least-squares polynomial fit (normal equations on centred x), returns coefficients c0 + c1 x + ... in x - centre. */
function polyfit(x: number[], y: number[], deg: number): { c: number[]; centre: number } {
  const centre = x.reduce((s, v) => s + v, 0) / x.length;
  const m = deg + 1;
  const A = Array.from({ length: m }, () => new Array<number>(m + 1).fill(0));
  for (let k = 0; k < x.length; k++) {
    const t = x[k] - centre;
    const pw = Array.from({ length: 2 * m }, (_, i) => Math.pow(t, i));
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) A[i][j] += pw[i + j];
      A[i][m] += pw[i] * y[k];
    }
  }
  // Gaussian elimination with partial pivoting.
  for (let col = 0; col < m; col++) {
    let piv = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(A[r][col]) > Math.abs(A[piv][col])) piv = r;
    [A[col], A[piv]] = [A[piv], A[col]];
    for (let r = 0; r < m; r++) {
      if (r === col || A[col][col] === 0) continue;
      const f = A[r][col] / A[col][col];
      for (let j = col; j <= m; j++) A[r][j] -= f * A[col][j];
    }
  }
  return { c: A.map((row, i) => row[m] / row[i]), centre };
}

function polyIntegral(fit: { c: number[]; centre: number }, a: number, b: number): number {
  const F = (s: number) => fit.c.reduce((acc, ci, i) => acc + (ci * Math.pow(s - fit.centre, i + 1)) / (i + 1), 0);
  return F(b) - F(a);
}

/** BD-rate of curve `b` against reference curve `a`, in percent. */
export function bdRate(a: RdPoint[], b: RdPoint[], method: BdMethod = 'pchip'): BdResult {
  const A = prepare(a);
  const B = prepare(b);
  const need = method === 'poly' ? 4 : 2;
  if (A.x.length < need || B.x.length < need) return { rate: NaN, lo: NaN, hi: NaN };
  const lo = Math.max(A.x[0], B.x[0]);
  const hi = Math.min(A.x[A.x.length - 1], B.x[B.x.length - 1]);
  if (!(hi > lo)) return { rate: NaN, lo, hi };
  let ia: number;
  let ib: number;
  if (method === 'poly') {
    ia = polyIntegral(polyfit(A.x, A.y, 3), lo, hi);
    ib = polyIntegral(polyfit(B.x, B.y, 3), lo, hi);
  } else {
    ia = pchipIntegral(A.x, A.y, lo, hi);
    ib = pchipIntegral(B.x, B.y, lo, hi);
  }
  const avg = (ib - ia) / (hi - lo);
  return { rate: (Math.exp(avg) - 1) * 100, lo, hi };
}
