/**
 * Blind estimate of additive white Gaussian noise from the image itself.
 *
 * The finest diagonal Haar detail of each channel, HH = (a - b - c + d) / 2 over every
 * 2x2 block, is orthonormal, so on pure noise it has the noise's standard deviation;
 * image content leaks into it only at edges and texture. Donoho's rule takes
 * median(|HH|) / 0.6745 over the whole image, which reads texture as noise (it doubles a
 * sigma of 5 on textured photographs). Here the HH map is cut into blocks of 8x8
 * coefficients (16x16 pixels), each block gives its RMS, and a low quantile (5%) of those
 * is taken, i.e. the flattest parts of the image; the quantile's bias on pure noise (RMS of
 * 64 normal values: sigma * sqrt(chi2_64 / 64)) is divided out analytically. Blocks with a
 * value at the ends of the 0..255 range are skipped (clipping hides noise there). With too
 * few blocks the estimate falls back to Donoho's median rule. Channels are averaged.
 */

/** Pixel values on the 0..255 scale (floats may go beyond it). */
export interface SigmaInput {
  width: number;
  height: number;
  /** width*height*channels values, interleaved. */
  data: ArrayLike<number>;
  channels?: number;
}

const MAD_TO_SIGMA = 0.6744897501960817;
/** Block sides in HH coefficients (2 pixels each), tried in order. */
const BLOCKS = [8, 4];
const QUANTILE = 0.05;
/** Below this many usable blocks per channel the median rule is used instead. */
const MIN_BLOCKS = 24;

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`quantile must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628274631];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo || p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(p < lo ? p : 1 - p));
    const v = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < lo ? v : -v;
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** The p-quantile of sqrt(chi2_k / k) (Wilson-Hilferty): the RMS of k unit normals. */
export function rmsQuantile(k: number, p: number): number {
  const t = 2 / (9 * k);
  return Math.sqrt(Math.max(0, 1 - t + normalQuantile(p) * Math.sqrt(t)) ** 3);
}

function median(v: Float64Array): number {
  v.sort();
  const n = v.length;
  return n % 2 ? v[(n - 1) >> 1] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/** True when every value lies in [0, 255] (a stored 8-bit image, or floats clipped to the range). */
function withinRange(d: ArrayLike<number>): boolean {
  for (let i = 0; i < d.length; i++) if (d[i] < 0 || d[i] > 255) return false;
  return true;
}

/** Noise sigma (0..255 scale) of one channel. */
function channelSigma(d: ArrayLike<number>, W: number, H: number, C: number, c: number, clipAware: boolean): number {
  const clipped = (v: number) => clipAware && (v <= 0.5 || v >= 254.5);
  const bw = W >> 1;
  const bh = H >> 1;
  const hh = new Float64Array(bw * bh);
  const bad = new Uint8Array(bw * bh);
  for (let by = 0; by < bh; by++) {
    const r0 = 2 * by * W;
    const r1 = r0 + W;
    for (let bx = 0; bx < bw; bx++) {
      const x = 2 * bx;
      const a = d[(r0 + x) * C + c];
      const b = d[(r0 + x + 1) * C + c];
      const e = d[(r1 + x) * C + c];
      const f = d[(r1 + x + 1) * C + c];
      hh[by * bw + bx] = (a - b - e + f) * 0.5;
      bad[by * bw + bx] = clipped(a) || clipped(b) || clipped(e) || clipped(f) ? 1 : 0;
    }
  }
  for (const B of BLOCKS) {
    const rms: number[] = [];
    for (let y0 = 0; y0 + B <= bh; y0 += B)
      for (let x0 = 0; x0 + B <= bw; x0 += B) {
        let ss = 0;
        let skip = false;
        for (let y = y0; y < y0 + B && !skip; y++)
          for (let x = x0; x < x0 + B; x++) {
            const i = y * bw + x;
            if (bad[i]) {
              skip = true;
              break;
            }
            ss += hh[i] * hh[i];
          }
        if (!skip) rms.push(Math.sqrt(ss / (B * B)));
      }
    if (rms.length >= MIN_BLOCKS) {
      rms.sort((x, y) => x - y);
      return rms[Math.round(QUANTILE * (rms.length - 1))] / rmsQuantile(B * B, QUANTILE);
    }
  }
  // Donoho's rule over the coefficients that saw no clipped value (all of them if none did).
  const kept = hh.filter((_, i) => !bad[i]);
  const v = kept.length >= MIN_BLOCKS ? kept : hh;
  for (let i = 0; i < v.length; i++) v[i] = Math.abs(v[i]);
  return median(v) / MAD_TO_SIGMA;
}

/** Per-channel noise sigma estimates on the 0..255 scale. */
export function estimateSigmaPerChannel(img: SigmaInput): number[] {
  const C = img.channels ?? 3;
  const { width: W, height: H, data: d } = img;
  if (W < 2 || H < 2) throw new Error(`image ${W}x${H} is too small to estimate its noise (needs at least 2x2 pixels)`);
  if (d.length !== W * H * C) throw new Error(`pixel buffer has ${d.length} values, expected ${W * H * C}`);
  const clipAware = withinRange(d);
  return Array.from({ length: C }, (_, c) => channelSigma(d, W, H, C, c, clipAware));
}

/** Noise sigma on the 0..255 scale, averaged over the channels. */
export function estimateSigma(img: SigmaInput): number {
  const per = estimateSigmaPerChannel(img);
  return per.reduce((a, b) => a + b, 0) / per.length;
}
