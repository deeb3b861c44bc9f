/** Image input/output through sharp. Pixels are interleaved RGB, 8 bits. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { OutputExistsError, writeFileAtomic, WriteOptions } from '../util/fsx';
import { maxPixels, megapixels } from '../util/limits';

export { DEFAULT_MAX_PIXELS, maxPixels } from '../util/limits';

export interface RgbImage {
  width: number;
  height: number;
  /** width*height*3 bytes, row-major, RGB. */
  data: Uint8Array;
}

export class ImageError extends Error {}

sharp.cache(false);
sharp.concurrency(1);

/** Where an image comes from: a file path, or the bytes of an encoded image (PNG, JPEG, ...). */
export type ImageSource = string | Uint8Array;

/** Why a path cannot be read as an image file, or null if it is a readable, non-empty file. */
function fileProblem(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `file not found: ${file}`;
    if (code === 'EACCES') return `cannot read ${file}: permission denied`;
    return `cannot read ${file}: ${(error as Error).message}`;
  }
  if (st.isDirectory()) return `${file} is a folder, not an image file`;
  if (!st.isFile()) return `${file} is not a regular file`;
  if (st.size === 0) return `${file} is empty (0 bytes)`;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    return `cannot read ${file}: permission denied`;
  }
  return null;
}

/** sharp's message without its "Input file/buffer" preamble. */
function sharpReason(error: unknown): string {
  const msg = ((error as Error).message || String(error)).split('\n')[0];
  return msg.replace(/^Input (file|buffer) (contains|has) /, '');
}

/**
 * Width and height of an image from its header (after EXIF rotation), without decoding it;
 * checks the pixel limit. Also whether it has an alpha channel, and its bits per sample (16
 * for 16-bit PNG or TIFF, else 8).
 */
export async function probeImage(src: ImageSource, name = typeof src === 'string' ? src : 'input'): Promise<{ width: number; height: number; format: string; hasAlpha: boolean; bits: 8 | 16 }> {
  if (typeof src === 'string') {
    const problem = fileProblem(src);
    if (problem) throw new ImageError(problem);
  } else if (src.length === 0) throw new ImageError(`${name} is empty (0 bytes)`);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(src, { limitInputPixels: false }).metadata();
  } catch (error) {
    const reason = sharpReason(error);
    if (/unsupported image format/.test(reason)) throw new ImageError(`${name} is not an image (or not in a format mae reads: png, jpeg, webp, avif, tiff, gif, svg)`);
    throw new ImageError(`cannot read image ${name}: ${reason}`);
  }
  let { width, height } = meta;
  if (!width || !height) throw new ImageError(`cannot read image ${name}: no image size in its header`);
  if (meta.orientation && meta.orientation >= 5) [width, height] = [height, width];
  const limit = maxPixels();
  if (width * height > limit)
    throw new ImageError(`${name} is ${width}x${height} (${megapixels(width * height)}): larger than the limit of ${megapixels(limit)} (MAE_MAX_PIXELS)`);
  return { width, height, format: meta.format ?? 'unknown', hasAlpha: Boolean(meta.hasAlpha), bits: meta.depth === 'ushort' ? 16 : 8 };
}

/**
 * Decodes an image file or buffer into 8-bit sRGB: EXIF orientation applied, 16-bit
 * samples reduced to 8, grey and CMYK converted to sRGB (embedded ICC profiles honoured),
 * and transparency flattened onto white (so transparent areas come out white, as most
 * viewers show them). Every problem is an ImageError naming the file.
 */
export async function decodeImageSource(src: ImageSource, name = typeof src === 'string' ? src : 'input'): Promise<RgbImage> {
  await probeImage(src, name);
  return decodeFlattened(src, name);
}

/** decodeImageSource's decoding, for a source already probed. */
async function decodeFlattened(src: ImageSource, name: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(src, { limitInputPixels: maxPixels() })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(`${name}: expected 3 channels after conversion, got ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(`cannot read image ${name}: ${sharpReason(error)}`);
  }
}

/**
 * Decodes like decodeImageSource, but keeps transparency: `image` is the colour as stored
 * (straight, not flattened onto white) and `alpha` the opacity plane (one byte per pixel), or
 * null when every pixel is opaque (then `image` is exactly what decodeImageSource returns).
 */
export async function decodeKeepingAlpha(src: ImageSource, name = typeof src === 'string' ? src : 'input'): Promise<{ image: RgbImage; alpha: Uint8Array | null }> {
  if (!(await probeImage(src, name)).hasAlpha) return { image: await decodeFlattened(src, name), alpha: null };
  const { width, height, rgb, alpha } = await decodeRgba(src, name, 8);
  // At 8 bits decodeRgba's planes are bytes.
  return { image: { width, height, data: rgb as Uint8Array }, alpha: alpha.every((a) => a === 255) ? null : (alpha as Uint8Array) };
}

/** An image decoded at 16 bits: RGB floats on the 0..255 scale (a 16-bit sample / 257), and its opacity at 16 bits or null. */
export interface DeepImage {
  width: number;
  height: number;
  data: Float32Array;
  alpha: Uint16Array | null;
}

/** Decodes an image keeping 16-bit samples (and transparency, as decodeKeepingAlpha does): EXIF orientation applied, sRGB. */
export async function decodeDeep(src: ImageSource, name = typeof src === 'string' ? src : 'input'): Promise<DeepImage> {
  await probeImage(src, name);
  const { width, height, rgb, alpha } = await decodeRgba(src, name, 16);
  return { width, height, data: Float32Array.from(rgb, (v) => v / 257), alpha: alpha.every((a) => a === 65535) ? null : (alpha as Uint16Array) };
}

/** The colour and opacity planes of a probed source in sRGB at 8 or 16 bits (EXIF orientation applied; an opaque image gets alpha at full). */
async function decodeRgba(src: ImageSource, name: string, bits: 8 | 16): Promise<{ width: number; height: number; rgb: Uint8Array | Uint16Array; alpha: Uint8Array | Uint16Array }> {
  try {
    const { data, info } = await sharp(src, { limitInputPixels: maxPixels() })
      .rotate()
      .toColourspace(bits === 16 ? 'rgb16' : 'srgb')
      .ensureAlpha(1)
      .raw({ depth: bits === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new ImageError(`${name}: expected 4 channels after conversion, got ${info.channels}`);
    const v = bits === 16 ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const n = info.width * info.height;
    const rgb = bits === 16 ? new Uint16Array(n * 3) : new Uint8Array(n * 3);
    const alpha = bits === 16 ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      rgb[i * 3] = v[i * 4];
      rgb[i * 3 + 1] = v[i * 4 + 1];
      rgb[i * 3 + 2] = v[i * 4 + 2];
      alpha[i] = v[i * 4 + 3];
    }
    return { width: info.width, height: info.height, rgb, alpha };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(`cannot read image ${name}: ${sharpReason(error)}`);
  }
}

/** Formats that store 16-bit samples. */
export const DEEP_FORMATS = ['png', 'tif', 'tiff'];

/**
 * Encodes a DeepImage at 16 bits (PNG, TIFF deflate): RGB, or one grey channel when `grey` and
 * every pixel is grey at 16 bits, plus its alpha plane if it has one.
 */
export async function encodeDeep(img: DeepImage, format: string, opts: { grey?: boolean } = {}): Promise<Buffer> {
  if (!DEEP_FORMATS.includes(format)) throw new ImageError(`16-bit output needs png or tif, got ${format}`);
  const n = img.width * img.height;
  const q = (x: number) => Math.max(0, Math.min(65535, Math.round(x * 257)));
  let grey = Boolean(opts.grey);
  for (let i = 0; grey && i < n; i++) grey = q(img.data[i * 3]) === q(img.data[i * 3 + 1]) && q(img.data[i * 3]) === q(img.data[i * 3 + 2]);
  const colours = grey ? 1 : 3;
  const channels = colours + (img.alpha ? 1 : 0);
  const raw = new Uint16Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < colours; c++) raw[i * channels + c] = q(img.data[i * 3 + c]);
    if (img.alpha) raw[i * channels + colours] = img.alpha[i];
  }
  const s = sharp(raw, { raw: { width: img.width, height: img.height, channels: channels as 1 | 2 | 3 | 4 }, limitInputPixels: false }).toColourspace(grey ? 'grey16' : 'rgb16');
  return format === 'png' ? s.png().toBuffer() : s.tiff({ compression: 'deflate', predictor: 'horizontal' }).toBuffer();
}

/** Decodes an image file (see decodeImageSource). */
export async function readRgb(file: string): Promise<RgbImage> {
  return decodeImageSource(file, file);
}

/** Decodes an image held in memory (see decodeImageSource). */
export async function decodeRgb(buf: Uint8Array, name = 'input'): Promise<RgbImage> {
  return decodeImageSource(buf, name);
}

/** Checks that `img` is a well-formed RGB image within the pixel limit. */
export function checkRgb(img: RgbImage, name = 'image'): void {
  if (!img || typeof img !== 'object') throw new ImageError(`${name} must be an image { width, height, data }`);
  const { width, height, data } = img;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new ImageError(`${name} has a bad size ${String(width)}x${String(height)}`);
  if (width * height > maxPixels()) throw new ImageError(`${name} is ${width}x${height}: larger than the limit of ${megapixels(maxPixels())} (MAE_MAX_PIXELS)`);
  if (!(data instanceof Uint8Array)) throw new ImageError(`${name}.data must be a Uint8Array of RGB bytes`);
  if (data.length !== width * height * 3) throw new ImageError(`${name}.data has ${data.length} bytes, expected ${width * height * 3} for ${width}x${height} RGB`);
}

/** Output formats by extension. */
export const OUTPUT_FORMATS = ['png', 'jpg', 'jpeg', 'webp', 'avif', 'tif', 'tiff'];

/** Formats that store a grey image as one channel (WebP and AVIF keep three). */
const GREY_FORMATS = ['png', 'jpg', 'jpeg', 'tif', 'tiff'];
/** Formats that store transparency (JPEG does not: its pixels are flattened onto white). */
const ALPHA_FORMATS = ['png', 'webp', 'avif', 'tif', 'tiff'];

/** Whether every pixel has R = G = B: a grey image, however it was stored (bytes or the model's floats). */
export function isGreyRgb(img: { data: ArrayLike<number> }): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

export interface EncodeOptions {
  /**
   * Store a grey image (R = G = B at every pixel) as one grey channel in PNG, JPEG and TIFF:
   * the same pixels, a third of the raw data. A colour image is stored as RGB whatever this says.
   */
  grey?: boolean;
  /** An opacity plane (one byte per pixel) to store with the colour, where the format can (PNG, WebP, AVIF, TIFF; JPEG is flattened onto white). */
  alpha?: Uint8Array | null;
}

/** Encodes by format name: png (default), jpg (quality 95), webp and avif (lossless), tif (deflate: lossless). */
export async function encodeRgb(img: RgbImage, format: string, opts: EncodeOptions = {}): Promise<Buffer> {
  const n = img.width * img.height;
  const fmt = format || 'png';
  const alpha = opts.alpha ?? null;
  if (alpha && alpha.length !== n) throw new ImageError(`alpha plane has ${alpha.length} bytes, expected ${n} for ${img.width}x${img.height}`);
  const grey = Boolean(opts.grey) && GREY_FORMATS.includes(fmt) && isGreyRgb(img);
  const colours = grey ? 1 : 3;
  const channels = (colours + (alpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  let raw = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  if (channels !== 3) {
    raw = Buffer.alloc(n * channels);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < colours; c++) raw[i * channels + c] = img.data[3 * i + c];
      if (alpha) raw[i * channels + colours] = alpha[i];
    }
  }
  let s = sharp(raw, { raw: { width: img.width, height: img.height, channels }, limitInputPixels: false });
  if (alpha && !ALPHA_FORMATS.includes(fmt)) s = s.flatten({ background: { r: 255, g: 255, b: 255 } });
  // sharp would otherwise write one colour channel as sRGB.
  if (grey) s = s.toColourspace('b-w');
  switch (format) {
    case 'jpg':
    case 'jpeg':
      return s.jpeg({ quality: 95 }).toBuffer();
    case 'webp':
      return s.webp({ lossless: true }).toBuffer();
    case 'avif':
      return s.avif({ lossless: true }).toBuffer();
    case 'tif':
    case 'tiff':
      // sharp's TIFF default is JPEG compression (lossy): deflate keeps every pixel.
      return s.tiff({ compression: 'deflate', predictor: 'horizontal' }).toBuffer();
    default:
      return s.png().toBuffer();
  }
}

/** Writes an image atomically; the format follows the extension. `overwrite: false` refuses an existing file. */
export async function writeRgb(file: string, img: RgbImage, opts: WriteOptions & EncodeOptions = {}): Promise<void> {
  if (opts.overwrite === false && fs.existsSync(file)) throw new OutputExistsError(file);
  const ext = path.extname(file).slice(1).toLowerCase();
  writeFileAtomic(file, await encodeRgb(img, ext, opts), opts);
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff', '.bmp', '.gif'];

/** Image files of a folder, sorted by name. */
export function listImages(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ImageError(`not a folder: ${dir}`);
  return fs
    .readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Bilinear resampling of a float region (x0, y0, w, h) of an RGB byte image to out x out, optionally flipped, scaled to [-0.5, 0.5]. */
export function cropResize(img: RgbImage, x0: number, y0: number, w: number, h: number, outW: number, outH: number, flip: boolean, out?: Float32Array): Float32Array {
  const res = out ?? new Float32Array(outW * outH * 3);
  const sx = w / outW;
  const sy = h / outH;
  const W = img.width;
  const H = img.height;
  const d = img.data;
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(H - 1, Math.max(0, y0 + (y + 0.5) * sy - 0.5));
    const iy = Math.floor(fy);
    const iy1 = Math.min(H - 1, iy + 1);
    const ty = fy - iy;
    for (let x = 0; x < outW; x++) {
      const xx = flip ? outW - 1 - x : x;
      const fx = Math.min(W - 1, Math.max(0, x0 + (xx + 0.5) * sx - 0.5));
      const ix = Math.floor(fx);
      const ix1 = Math.min(W - 1, ix + 1);
      const tx = fx - ix;
      const o = (y * outW + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v =
          (1 - ty) * ((1 - tx) * d[(iy * W + ix) * 3 + c] + tx * d[(iy * W + ix1) * 3 + c]) + ty * ((1 - tx) * d[(iy1 * W + ix) * 3 + c] + tx * d[(iy1 * W + ix1) * 3 + c]);
        res[o + c] = v / 255 - 0.5;
      }
    }
  }
  return res;
}
