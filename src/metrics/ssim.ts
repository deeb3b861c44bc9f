/**
 * SSIM matching scikit-image's
 * `structural_similarity(im1, im2, channel_axis=2, gaussian_weights=True, sigma=1.5,
 *  use_sample_covariance=False, data_range=255)`.
 *
 * skimage filters with scipy.ndimage.gaussian_filter (sigma 1.5, truncate 3.5, so radius 5,
 * mode 'reflect') and averages the SSIM map cropped by the radius on every border. A window
 * centred in that cropped region never leaves the image, so only interior outputs are computed
 * and the border mode never matters: the result is the same as filtering the whole image.
 */

const SIGMA = 1.5;
const TRUNCATE = 3.5;
/** 5, as scipy.ndimage computes it; filterRows/filterColumns are unrolled for exactly these 11 taps. */
const RADIUS = Math.trunc(TRUNCATE * SIGMA + 0.5);
const WIN_SIZE = 2 * RADIUS + 1; // 11
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** Normalised 1-D Gaussian taps, as scipy.ndimage._gaussian_kernel1d. */
function gaussianKernel(): Float64Array {
  const k = new Float64Array(WIN_SIZE);
  let sum = 0;
  for (let i = 0; i < WIN_SIZE; i++) {
    const x = i - RADIUS;
    k[i] = Math.exp((-0.5 * x * x) / (SIGMA * SIGMA));
    sum += k[i];
  }
  for (let i = 0; i < WIN_SIZE; i++) k[i] /= sum;
  return k;
}

const KERNEL = gaussianKernel();

/**
 * Filters every row of `src` (width w, h rows) with the 11 taps, keeping the w-10 interior outputs.
 * Unrolled and folded on the kernel's symmetry: about twice as fast as a loop over the taps.
 */
function filterRows(src: Float64Array, dst: Float64Array, w: number, h: number): void {
  const [k0, k1, k2, k3, k4, k5] = KERNEL;
  const ow = w - 2 * RADIUS;
  for (let r = 0; r < h; r++) {
    const s = r * w;
    const d = r * ow;
    for (let j = 0; j < ow; j++) {
      const b = s + j;
      dst[d + j] =
        k0 * (src[b] + src[b + 10]) + k1 * (src[b + 1] + src[b + 9]) + k2 * (src[b + 2] + src[b + 8]) + k3 * (src[b + 3] + src[b + 7]) + k4 * (src[b + 4] + src[b + 6]) + k5 * src[b + 5];
    }
  }
}

/** Filters every column of `src` (width w, h rows) with the 11 taps, keeping the h-10 interior rows. */
function filterColumns(src: Float64Array, dst: Float64Array, w: number, h: number): void {
  const [k0, k1, k2, k3, k4, k5] = KERNEL;
  const oh = h - 2 * RADIUS;
  for (let r = 0; r < oh; r++) {
    const d = r * w;
    const s0 = d, s1 = s0 + w, s2 = s1 + w, s3 = s2 + w, s4 = s3 + w, s5 = s4 + w, s6 = s5 + w, s7 = s6 + w, s8 = s7 + w, s9 = s8 + w, s10 = s9 + w;
    for (let j = 0; j < w; j++) {
      dst[d + j] =
        k0 * (src[s0 + j] + src[s10 + j]) +
        k1 * (src[s1 + j] + src[s9 + j]) +
        k2 * (src[s2 + j] + src[s8 + j]) +
        k3 * (src[s3 + j] + src[s7 + j]) +
        k4 * (src[s4 + j] + src[s6 + j]) +
        k5 * src[s5 + j];
    }
  }
}

/** Work buffers, reused across the channels of one call. */
class Workspace {
  /** x, y, x², y², xy of one channel. */
  readonly planes: Float64Array[];
  /** Rows filtered, before the column pass. */
  readonly tmp: Float64Array;
  /** Gaussian-weighted means of the five planes over the cropped region. */
  readonly means: Float64Array[];
  constructor(width: number, height: number) {
    const ow = width - 2 * RADIUS;
    const oh = height - 2 * RADIUS;
    this.planes = Array.from({ length: 5 }, () => new Float64Array(width * height));
    this.tmp = new Float64Array(ow * height);
    this.means = Array.from({ length: 5 }, () => new Float64Array(ow * oh));
  }
}

/** Mean of the cropped SSIM map of channel c. */
function channelSsim(a: Uint8Array, b: Uint8Array, width: number, height: number, channels: number, c: number, ws: Workspace): number {
  const [x, y, xx, yy, xy] = ws.planes;
  const n = width * height;
  for (let i = 0; i < n; i++) {
    const p = a[i * channels + c];
    const q = b[i * channels + c];
    x[i] = p;
    y[i] = q;
    xx[i] = p * p;
    yy[i] = q * q;
    xy[i] = p * q;
  }
  const ow = width - 2 * RADIUS;
  for (let k = 0; k < 5; k++) {
    filterRows(ws.planes[k], ws.tmp, width, height);
    filterColumns(ws.tmp, ws.means[k], ow, height);
  }
  const [ux, uy, uxx, uyy, uxy] = ws.means;
  const m = ux.length;
  let total = 0;
  for (let i = 0; i < m; i++) {
    const mx = ux[i];
    const my = uy[i];
    const vx = uxx[i] - mx * mx;
    const vy = uyy[i] - my * my;
    const vxy = uxy[i] - mx * my;
    total += ((2 * mx * my + C1) * (2 * vxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
  }
  return total / m;
}

/** Mean SSIM of two interleaved 8-bit images, averaged over channels. */
export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number, channels = 3): number {
  if (!Number.isInteger(width) || !Number.isInteger(height) || !Number.isInteger(channels) || width <= 0 || height <= 0 || channels <= 0) {
    throw new Error(`invalid image shape ${width}x${height}x${channels}`);
  }
  const n = width * height;
  if (a.length !== n * channels || b.length !== n * channels) {
    throw new Error(`pixel buffers (${a.length} and ${b.length} values) do not match ${width}x${height}x${channels}`);
  }
  if (width < WIN_SIZE || height < WIN_SIZE) throw new Error(`SSIM needs images of at least ${WIN_SIZE}x${WIN_SIZE} pixels, got ${width}x${height}`);
  const ws = new Workspace(width, height);
  let sum = 0;
  for (let c = 0; c < channels; c++) sum += channelSsim(a, b, width, height, channels, c, ws);
  return sum / channels;
}
