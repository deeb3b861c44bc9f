/** The library API (src/index.ts, the package's main): buffers and raw pixels in, buffers and raw pixels out. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import * as api from '../src/index';
import { CodecError, ImageError, InpaintError, RawImage, UsageError } from '../src/index';
import { saveTinyModel } from './helpers/tiny-model';

const ROOT = path.resolve(__dirname, '..');

let tmp: string;
let modelDir: string;
let model: api.Model;

function picture(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([(x * 9) % 256, (y * 7) % 256, 128 + Math.round(50 * Math.sin(x * 0.3 + y * 0.2))], (y * width + x) * 3);
  return { width, height, data };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-api-'));
  modelDir = path.join(tmp, 'model');
  saveTinyModel(modelDir);
  model = await api.loadModel(modelDir, { backend: 'cpu' });
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('library API', () => {
  it('is the package main, with every function', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string };
    expect(pkg.main).toBe('dist/index.js');
    expect(pkg.types).toBe('dist/index.d.ts');
    for (const f of ['compress', 'decompress', 'denoise', 'denoiseFile', 'inpaint', 'metrics', 'loadModel', 'inspect', 'toRawImage', 'toImageBytes']) expect(typeof (api as Record<string, unknown>)[f]).toBe('function');
    if (fs.existsSync(path.join(ROOT, pkg.main))) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const built = require(ROOT) as Record<string, unknown>;
      expect(typeof built.compress).toBe('function');
      expect(typeof built.CodecError).toBe('function');
    }
  });

  it('caches loaded models by folder and backend', async () => {
    expect(await api.loadModel(modelDir, { backend: 'cpu' })).toBe(model);
    await expect(api.loadModel(path.join(tmp, 'nowhere'), { backend: 'cpu' })).rejects.toThrow(/model file not found/);
  });

  it('compress and decompress round trip raw pixels and encoded bytes', async () => {
    const img = picture(50, 37);
    const mae = await api.compress(img, { model, quality: 5 });
    expect(Buffer.isBuffer(mae)).toBe(true);
    const header = api.inspect(mae, 'x.mae');
    expect(header).toMatchObject({ width: 50, height: 37, modelId: model.modelId, quality: 5, ratio: 0.35, version: 2 });
    expect(header.maskBytes).toBeGreaterThan(0);
    const back = await api.decompress(mae, { model });
    expect([back.width, back.height, back.data.length]).toEqual([50, 37, 50 * 37 * 3]);
    const m = await api.metrics(img, back);
    expect(m.psnr).toBeGreaterThan(15);
    // From PNG bytes, with the model given as a folder: the same file.
    const png = await api.toImageBytes(img, 'png');
    const mae2 = await api.compress(png, { model: modelDir, backend: 'cpu', quality: 5 });
    expect(mae2.equals(mae)).toBe(true);
  });

  it('frees every tensor of a model run (memory stays flat over a large image or a batch)', async () => {
    const img = picture(90, 70);
    const mae = await api.compress(img, { model, quality: 5 });
    await api.decompress(mae, { model }); // warm-up
    const before = tf.memory().numTensors;
    await api.decompress(mae, { model });
    await api.denoise(img, { model, sigma: 5 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('throws typed one-line errors', async () => {
    await expect(api.decompress(Buffer.from('nope'), { model, name: 'n.mae' })).rejects.toThrow(new CodecError('n.mae is not an .mae file (wrong magic)'));
    await expect(api.decompress(Buffer.from('nope'), { model })).rejects.toBeInstanceOf(CodecError);
    await expect(api.compress({ width: 4, height: 4, data: new Uint8Array(10) }, { model })).rejects.toThrow(new ImageError('image.data has 10 bytes, expected 48 for 4x4 RGB'));
    await expect(api.compress(Buffer.from('not a picture'), { model })).rejects.toBeInstanceOf(ImageError);
    await expect(api.compress(picture(8, 8), { model, quality: 0 })).rejects.toBeInstanceOf(UsageError);
    await expect(api.denoise(picture(8, 8), { model, sigma: 300 })).rejects.toBeInstanceOf(UsageError);
    await expect(api.denoise(picture(8, 8), { model, collabShifts: 3 })).rejects.toThrow(new UsageError('collab shifts must be 1 or 2, got 3'));
    await expect(api.denoise(picture(8, 8), { model, collabSearch: 'dense', collabShifts: 2 })).rejects.toBeInstanceOf(UsageError);
    await expect(api.inpaint(picture(20, 20), picture(10, 10), { model })).rejects.toThrow(new InpaintError('mask is 10x10, the image is 20x20'));
    await expect(api.inpaint(picture(20, 20), { width: 20, height: 20, holes: new Uint8Array(400) }, { model })).rejects.toThrow(/mask is empty/);
    await expect(api.toImageBytes(picture(2, 2), 'bmp' as 'png')).rejects.toThrow(/unsupported image format 'bmp'/);
  });

  it('denoises and inpaints raw pixels', async () => {
    const img = picture(40, 30);
    const d = await api.denoise(img, { model, sigma: 12 });
    expect([d.width, d.height, d.data.length, d.sigma, d.sigmaEstimated]).toEqual([40, 30, 3600, 12, false]);
    const holes = new Uint8Array(40 * 30);
    for (let y = 10; y < 20; y++) holes.fill(1, y * 40 + 5, y * 40 + 25);
    const out = await api.inpaint(img, { width: 40, height: 30, holes }, { model });
    for (let i = 0; i < holes.length; i++) if (!holes[i]) expect(out.data[i * 3 + 1]).toBe(img.data[i * 3 + 1]);
    // The same mask as an image (non-zero = fill) gives the same result.
    const maskImg: RawImage = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3) };
    holes.forEach((h, i) => (maskImg.data[i * 3] = h ? 255 : 0));
    const out2 = await api.inpaint(await api.toImageBytes(img), await api.toImageBytes(maskImg), { model });
    expect(Buffer.from(out2.data).equals(Buffer.from(out.data))).toBe(true);
  });

  it('denoiseFile writes what mae denoise writes (a grey photo in one channel) and never over an existing file unless told', async () => {
    const grey = picture(48, 40);
    for (let i = 0; i < grey.data.length; i += 3) grey.data[i + 1] = grey.data[i + 2] = grey.data[i];
    const input = path.join(tmp, 'grey-in.png');
    await sharp(Buffer.from(grey.data.filter((_, k) => k % 3 === 0)), { raw: { width: 48, height: 40, channels: 1 } }).png().toFile(input);
    const output = path.join(tmp, 'grey-out.png');
    const r = await api.denoiseFile(input, output, { model, sigma: 15 });
    expect(r).toMatchObject({ input, output, width: 48, height: 40, sigma: 15, sigmaEstimated: false, grey: true, alpha: false, bits: 8 });
    expect((await sharp(output).metadata()).channels).toBe(1);
    await expect(api.denoiseFile(input, output, { model })).rejects.toThrow(/already exists/);
    await api.denoiseFile(input, output, { model, overwrite: true });
    await expect(api.denoiseFile(input, input, { model, overwrite: true })).rejects.toThrow(UsageError);
    await expect(api.denoiseFile(input, path.join(tmp, 'x.bmp'), { model })).rejects.toThrow(/unsupported output format/);
    await expect(api.denoiseFile(input, path.join(tmp, 'y.png'), { model, sigma: -2 })).rejects.toThrow(UsageError);
  });

  it('metrics returns the diff image on request', async () => {
    const a = picture(16, 16);
    const b: RawImage = { ...a, data: a.data.slice() };
    b.data.fill(0, 0, 30);
    const same = await api.metrics(a, a);
    expect(same.psnr).toBe(Infinity);
    expect(same.diff).toBeUndefined();
    const m = await api.metrics(a, b, { diff: true });
    expect(m.mismatchedPixels).toBe(10);
    expect(m.diff).toMatchObject({ width: 16, height: 16 });
    expect(m.diff!.data.length).toBe(16 * 16 * 3);
  });

  it('handles images smaller than one patch in every function (padding)', async () => {
    for (const [w, h] of [
      [1, 1],
      [5, 3],
      [7, 9],
    ]) {
      const img = picture(w, h);
      const mae = await api.compress(img, { model, quality: 5 });
      const back = await api.decompress(mae, { model });
      expect([back.width, back.height]).toEqual([w, h]);
      const d = await api.denoise(img, { model, sigma: 5 });
      expect([d.width, d.height]).toEqual([w, h]);
      const holes = new Uint8Array(w * h);
      holes[0] = 1;
      if (w * h === 1) {
        // One pixel, marked: nothing is left to fill it from.
        await expect(api.inpaint(img, { width: w, height: h, holes }, { model })).rejects.toThrow('mask marks every pixel: nothing is left to fill the holes from');
        continue;
      }
      const i = await api.inpaint(img, { width: w, height: h, holes }, { model });
      expect([i.width, i.height]).toEqual([w, h]);
      expect(Array.from(i.data.subarray(3))).toEqual(Array.from(img.data.subarray(3)));
    }
  });

  it('decodes an EXIF-rotated input given as bytes', async () => {
    const jpg = await sharp(Buffer.from(picture(20, 10).data), { raw: { width: 20, height: 10, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 8 })
      .toBuffer();
    const r = await api.toRawImage(jpg);
    expect([r.width, r.height]).toEqual([10, 20]);
    const mae = await api.compress(jpg, { model });
    expect(api.inspect(mae)).toMatchObject({ width: 10, height: 20 });
  });
});
