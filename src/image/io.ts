/** Image input/output through sharp. Pixels are interleaved RGB, 8 bits. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../util/fsx';

export interface RgbImage {
  width: number;
  height: number;
  /** width*height*3 bytes, row-major, RGB. */
  data: Uint8Array;
}

export class ImageError extends Error {}

sharp.cache(false);
sharp.concurrency(1);

/** Decodes any format sharp reads into 8-bit RGB (alpha dropped, EXIF orientation applied). */
export async function readRgb(file: string): Promise<RgbImage> {
  if (!fs.existsSync(file)) throw new ImageError(`file not found: ${file}`);
  try {
    const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(`${file}: expected 3 channels after conversion, got ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(`cannot read image ${file}: ${(error as Error).message}`);
  }
}

/** Decodes an image held in memory. */
export async function decodeRgb(buf: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Encodes by the file extension (png default; jpg, webp, avif, tif). */
export async function encodeRgb(img: RgbImage, format: string): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } });
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
      return s.tiff().toBuffer();
    default:
      return s.png().toBuffer();
  }
}

/** Writes an image atomically; the format follows the extension. */
export async function writeRgb(file: string, img: RgbImage): Promise<void> {
  const ext = path.extname(file).slice(1).toLowerCase();
  writeFileAtomic(file, await encodeRgb(img, ext));
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
