/**
 * Bad input, odd images, outputs (atomic, --force, never over an input), batches that go on
 * past a bad file, standard input/output, --quiet and exit codes. Fixtures are made here with
 * sharp; the CLI runs from dist/ (build first) with a tiny untrained model.
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { decodeDeep, decodeImageSource, decodeKeepingAlpha, decodeRgb, encodeDeep, encodeRgb, ImageError, isGreyRgb, probeImage, readRgb, RgbImage } from '../src/image/io';
import { fillTransparent } from '../src/image/alpha';
import { OutputExistsError, sameFile, writeFileAtomic } from '../src/util/fsx';
import { saveTinyModel } from './helpers/tiny-model';

const ROOT = path.resolve(__dirname, '..');
const RUN = path.join(ROOT, 'bin', 'run.js');

let tmp: string;
let model: string;

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / Math.max(1, width - 1);
      data[o + 1] = (y * 255) / Math.max(1, height - 1);
      data[o + 2] = 128 + 60 * Math.sin(x * 0.5) * Math.cos(y * 0.4);
    }
  return { width, height, data };
}

const raw = (img: RgbImage, channels = 3) => sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: channels as 3 } });

/** A PNG whose header claims width x height, with a few bytes of pixel data: nothing to decode. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

function run(args: string[], opts: { input?: Buffer; env?: Record<string, string> } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [RUN, ...args], { cwd: tmp, input: opts.input ?? Buffer.alloc(0), env: { ...process.env, MAE_BACKEND: 'cpu', MAE_DEBUG: '', ...opts.env } });
}

const err = (r: SpawnSyncReturns<Buffer>) => r.stderr.toString().trim();

beforeAll(async () => {
  const built = path.join(ROOT, 'dist', 'index.js');
  if (!fs.existsSync(built) || fs.statSync(path.join(ROOT, 'src', 'api.ts')).mtimeMs > fs.statSync(built).mtimeMs + 1000) throw new Error('dist/ is missing or older than src/: run `npx tsc -p .` first');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-hard-'));
  model = path.join(tmp, 'model');
  saveTinyModel(model);
  await raw(gradient(40, 30)).png().toFile(path.join(tmp, 'photo.png'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('reading images', () => {
  it('names missing files, folders, empty files, non-images and truncated images in one line', async () => {
    const cases: [string, string | Buffer | null, RegExp][] = [
      ['missing.png', null, /^file not found: .*missing\.png$/],
      ['empty.png', '', /empty\.png is empty \(0 bytes\)$/],
      ['text.png', 'hello, I am not a picture', /text\.png is not an image \(or not in a format mae reads/],
    ];
    for (const [name, content, re] of cases) {
      const f = path.join(tmp, name);
      if (content !== null) fs.writeFileSync(f, content);
      await expect(readRgb(f)).rejects.toThrow(re);
      await expect(readRgb(f)).rejects.toBeInstanceOf(ImageError);
    }
    await expect(readRgb(tmp)).rejects.toThrow(`${tmp} is a folder, not an image file`);
    const png = await raw(gradient(30, 20)).png().toBuffer();
    const cut = path.join(tmp, 'cut.png');
    fs.writeFileSync(cut, png.subarray(0, png.length - 30));
    const e = await readRgb(cut).catch((x: Error) => x);
    expect(e).toBeInstanceOf(ImageError);
    expect((e as Error).message).toMatch(/^cannot read image .*cut\.png: /);
    expect((e as Error).message).not.toContain('\n');
    await expect(decodeImageSource(new Uint8Array(0), 'buf')).rejects.toThrow('buf is empty (0 bytes)');
  });

  it('flattens transparency onto white', async () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set([200, 20, 40, i < 4 ? 0 : i < 8 ? 128 : 255], i * 4);
    const img = await decodeImageSource(await raw({ width: 4, height: 4, data: rgba }, 4).png().toBuffer());
    expect(img.data.length).toBe(4 * 4 * 3);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 255, 255]); // transparent
    const half = Array.from(img.data.subarray(4 * 3, 4 * 3 + 3));
    expect(half[0]).toBeGreaterThanOrEqual(226);
    expect(half[0]).toBeLessThanOrEqual(229);
    expect(half[1]).toBeGreaterThanOrEqual(136);
    expect(half[1]).toBeLessThanOrEqual(139);
    expect(Array.from(img.data.subarray(15 * 3))).toEqual([200, 20, 40]); // opaque: unchanged
  });

  it('reads 16-bit, grey, grey+alpha and CMYK images as 8-bit sRGB', async () => {
    const g = gradient(12, 10);
    const p16 = await raw(g).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(p16).metadata()).depth).toBe('ushort');
    const a = await decodeImageSource(p16);
    expect(Buffer.from(a.data).equals(Buffer.from(g.data))).toBe(true);

    const grey = await decodeImageSource(await raw(g).greyscale().png().toBuffer());
    expect([grey.width, grey.height, grey.data.length]).toEqual([12, 10, 360]);
    for (let i = 0; i < 120; i++) expect(grey.data[i * 3]).toBe(grey.data[i * 3 + 2]);

    const ga = new Uint8Array(6 * 4 * 4).fill(255);
    const greyAlpha = await sharp(Buffer.from(ga), { raw: { width: 6, height: 4, channels: 4 } }).greyscale().toColourspace('grey16').png().toBuffer();
    expect((await decodeImageSource(greyAlpha)).data.length).toBe(6 * 4 * 3);

    const flat: RgbImage = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3) };
    for (let i = 0; i < 256; i++) flat.data.set([40, 120, 200], i * 3);
    const cmyk = await raw(flat).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const c = await decodeImageSource(cmyk, 'cmyk.jpg');
    expect(c.data.length).toBe(16 * 16 * 3);
    const mid = Array.from(c.data.subarray(8 * 16 * 3 + 24, 8 * 16 * 3 + 27));
    mid.forEach((v, k) => expect(Math.abs(v - [40, 120, 200][k])).toBeLessThan(25));
  });

  it('applies the EXIF orientation', async () => {
    // 32x16: left half red, right half blue; orientation 6 shows it turned 90 degrees clockwise: red on top.
    const img: RgbImage = { width: 32, height: 16, data: new Uint8Array(32 * 16 * 3) };
    for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) img.data.set(x < 16 ? [220, 10, 10] : [10, 10, 220], (y * 32 + x) * 3);
    const jpg = await raw(img).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    expect(await probeImage(jpg)).toMatchObject({ width: 16, height: 32 });
    const r = await decodeImageSource(jpg);
    expect([r.width, r.height]).toEqual([16, 32]);
    expect(r.data[(4 * 16 + 8) * 3]).toBeGreaterThan(180); // top: red
    expect(r.data[(28 * 16 + 8) * 3 + 2]).toBeGreaterThan(180); // bottom: blue
  });

  it('refuses a header claiming 100000x100000 pixels before decoding anything, and honours MAE_MAX_PIXELS', async () => {
    const big = path.join(tmp, 'huge.png');
    fs.writeFileSync(big, pngClaiming(100000, 100000));
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    await expect(readRgb(big)).rejects.toThrow(`${big} is 100000x100000 (10000 megapixels): larger than the limit of 100 megapixels (MAE_MAX_PIXELS)`);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    // Just over the limit is refused, the limit itself is not (header only: the probe).
    await expect(probeImage(pngClaiming(10001, 10000))).rejects.toThrow(/10001x10000 .*larger than the limit of 100 megapixels/);
    await expect(probeImage(pngClaiming(10000, 10000))).resolves.toMatchObject({ width: 10000, height: 10000 });
    process.env.MAE_MAX_PIXELS = '1000';
    try {
      await expect(readRgb(path.join(tmp, 'photo.png'))).rejects.toThrow(/40x30 \(1200 pixels\): larger than the limit of 1000 pixels/);
    } finally {
      delete process.env.MAE_MAX_PIXELS;
    }
    // Through the CLI: one line, exit 1, nothing written.
    const r = run(['compress', big, '-o', 'huge.mae', '--model', model]);
    expect(r.status).toBe(1);
    expect(err(r)).toBe(`mae: ${big} is 100000x100000 (10000 megapixels): larger than the limit of 100 megapixels (MAE_MAX_PIXELS)`);
    expect(fs.existsSync(path.join(tmp, 'huge.mae'))).toBe(false);
  });
});

describe('writing outputs', () => {
  it('writes atomically, refuses an existing file without overwrite, and leaves no temporary file', () => {
    const dir = path.join(tmp, 'atomic');
    const f = path.join(dir, 'a.bin');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, 'two');
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(() => writeFileAtomic(f, 'three', { overwrite: false })).toThrow(OutputExistsError);
    expect(() => writeFileAtomic(f, 'three', { overwrite: false })).toThrow(`${f} already exists: pass --force to overwrite`);
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    writeFileAtomic(path.join(dir, 'b.bin'), 'new', { overwrite: false });
    expect(fs.readdirSync(dir).sort()).toEqual(['a.bin', 'b.bin']);
    fs.linkSync(f, path.join(dir, 'c.bin'));
    expect(sameFile(f, path.join(dir, 'c.bin'))).toBe(true);
    expect(sameFile(f, path.join(dir, 'b.bin'))).toBe(false);
  });

  it('every command refuses an existing output without --force (exit 2, the file named and unchanged)', () => {
    const existing = path.join(tmp, 'taken.png');
    fs.writeFileSync(existing, 'keep me');
    const mae = path.join(tmp, 'taken.mae');
    fs.writeFileSync(mae, 'keep me');
    const cmds: string[][] = [
      ['compress', 'photo.png', '-o', mae, '--model', model],
      ['decompress', mae, '-o', existing, '--model', model],
      ['denoise', 'photo.png', '-o', existing, '--model', model],
      ['inpaint', 'photo.png', '--mask', 'photo.png', '-o', existing, '--model', model],
      ['metrics', 'photo.png', 'photo.png', '--diff', existing],
    ];
    for (const c of cmds) {
      const r = run(c);
      expect({ cmd: c[0], status: r.status }).toEqual({ cmd: c[0], status: 2 });
      expect(err(r)).toMatch(/^mae: .*taken\.(png|mae) already exists: pass --force to overwrite$/);
    }
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
    expect(fs.readFileSync(mae, 'utf8')).toBe('keep me');
    // With --force they are replaced.
    expect(run(['compress', 'photo.png', '-o', mae, '--model', model, '--force']).status).toBe(0);
    expect(fs.readFileSync(mae).subarray(4, 9).toString()).toBe('magic');
    expect(run(['metrics', 'photo.png', 'photo.png', '--diff', existing, '--force']).status).toBe(0);
    expect(fs.readFileSync(existing).subarray(1, 4).toString()).toBe('PNG');
  });

  it('keeps every pixel in the lossless formats (TIFF too: deflate, not the JPEG of sharp by default), and stores a grey image in one channel where the format can', async () => {
    const colour = gradient(40, 30);
    for (const format of ['png', 'tif', 'webp', 'avif']) {
      const back = await decodeRgb(await encodeRgb(colour, format));
      expect({ format, same: Buffer.from(back.data).equals(Buffer.from(colour.data)) }).toEqual({ format, same: true });
    }
    const grey: RgbImage = { width: 40, height: 30, data: colour.data.map((_, k) => colour.data[k - (k % 3)]) };
    expect([isGreyRgb(grey), isGreyRgb(colour)]).toEqual([true, false]);
    for (const format of ['png', 'tif', 'jpg', 'webp']) {
      const bytes = await encodeRgb(grey, format, { grey: true });
      expect({ format, channels: (await sharp(bytes).metadata()).channels }).toEqual({ format, channels: format === 'webp' ? 3 : 1 });
      if (format !== 'jpg') expect(Buffer.from((await decodeRgb(bytes)).data).equals(Buffer.from(grey.data))).toBe(true);
    }
    // A colour image stays in colour whatever the option says.
    expect((await sharp(await encodeRgb(colour, 'png', { grey: true })).metadata()).channels).toBe(3);
  });

  it('never overwrites an input, even with --force or through a hard link', () => {
    const link = path.join(tmp, 'photo-link.png');
    fs.linkSync(path.join(tmp, 'photo.png'), link);
    const before = fs.readFileSync(link);
    for (const c of [
      ['denoise', 'photo.png', '-o', link, '--force', '--model', model],
      ['inpaint', 'photo.png', '--mask', link, '-o', 'photo.png', '--force', '--model', model],
      ['metrics', 'photo.png', link, '--diff', link, '--force'],
    ]) {
      const r = run(c);
      expect(r.status).toBe(2);
      expect(err(r)).toMatch(/would be overwritten by its own output/);
    }
    expect(fs.readFileSync(path.join(tmp, 'photo.png')).equals(before)).toBe(true);
  });
});

describe('transparency', () => {
  /** A 48x40 RGBA image: a noisy opaque disc, a half-transparent ring, fully transparent corners storing `under`. */
  function rgba(under: number): Buffer {
    const W = 48;
    const H = 40;
    const g = gradient(W, H);
    const d = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      const r = Math.hypot((i % W) - 24, Math.floor(i / W) - 20);
      const a = r < 14 ? 255 : r < 17 ? 128 : 0;
      for (let c = 0; c < 3; c++) d[i * 4 + c] = a ? (g.data[i * 3 + c] + ((i * 7 + c * 13) % 23) - 11) & 255 : under;
      d[i * 4 + 3] = a;
    }
    return d;
  }
  const png = (d: Buffer, file: string) => sharp(d, { raw: { width: 48, height: 40, channels: 4 } }).png().toFile(path.join(tmp, file));
  const pixels = async (file: string) => sharp(path.join(tmp, file)).ensureAlpha().raw().toBuffer();

  it('decodes the colour as stored and the alpha plane apart (null when opaque), and encodes them back (JPEG flattened onto white)', async () => {
    await png(rgba(0), 'ta.png');
    const { image, alpha } = await decodeKeepingAlpha(path.join(tmp, 'ta.png'));
    expect(alpha).not.toBeNull();
    const src = rgba(0);
    for (let i = 0; i < 48 * 40; i++) {
      expect(alpha![i]).toBe(src[i * 4 + 3]);
      expect(image.data[i * 3 + 1]).toBe(src[i * 4 + 1]);
    }
    expect((await decodeKeepingAlpha(path.join(tmp, 'photo.png'))).alpha).toBeNull();
    const back = await sharp(await encodeRgb(image, 'png', { alpha })).raw().toBuffer();
    expect(back.equals(src)).toBe(true);
    const jpg = await sharp(await encodeRgb(image, 'jpg', { alpha })).metadata();
    expect([jpg.channels, jpg.hasAlpha]).toEqual([3, false]);
    const grey: RgbImage = { ...image, data: image.data.map((_, k) => image.data[k - (k % 3)]) };
    expect((await sharp(await encodeRgb(grey, 'png', { alpha, grey: true })).metadata()).channels).toBe(2);
  });

  it('fills the colour under transparent pixels from the visible ones, reading neither them nor the unknown ones', () => {
    const img: RgbImage = { width: 6, height: 1, data: Uint8Array.from([10, 10, 10, 99, 0, 0, 77, 7, 7, 70, 70, 70, 200, 1, 2, 5, 5, 5]) };
    const alpha = Uint8Array.from([255, 0, 0, 255, 255, 0]);
    const unknown = Uint8Array.from([0, 0, 0, 0, 1, 0]);
    const f = fillTransparent(img, alpha, unknown);
    // Pixels 1 and 2 lie between 10 and 70, rising, grey as their neighbours; pixel 5 near its only readable neighbour's 70, whatever pixel 4 (unknown) holds.
    const v = (i: number) => Array.from(f.data.slice(i * 3, i * 3 + 3));
    expect(v(1)[0]).toBeGreaterThan(10);
    expect(v(2)[0]).toBeGreaterThan(v(1)[0]);
    expect(v(2)[0]).toBeLessThan(70);
    for (const i of [1, 2, 5]) expect(new Set(v(i)).size).toBe(1);
    expect(v(5)[0]).toBeGreaterThan(40);
    const other = fillTransparent({ ...img, data: img.data.map((x, k) => (k >= 12 && k < 15 ? 255 - x : k >= 3 && k < 9 ? 0 : x)) }, alpha, unknown);
    expect(Array.from(other.data)).toEqual(Array.from(f.data.map((x, k) => (k >= 12 && k < 15 ? 255 - x : x))));
    // The others are the input's.
    expect(Array.from(f.data.slice(0, 3))).toEqual([10, 10, 10]);
    expect(Array.from(f.data.slice(12, 15))).toEqual([200, 1, 2]);
    expect(fillTransparent(img, new Uint8Array(6).fill(255))).toBe(img);
    expect(Array.from(fillTransparent(img, new Uint8Array(6)).data.slice(0, 3))).toEqual([128, 128, 128]);
  });

  it('mae denoise keeps the alpha plane, and the visible pixels do not depend on the colour stored under transparent ones', async () => {
    await png(rgba(0), 'under-black.png');
    await png(rgba(255), 'under-white.png');
    for (const f of ['under-black', 'under-white']) expect(run(['denoise', `${f}.png`, '-o', `${f}-out.png`, '--model', model, '--sigma', '10']).status).toBe(0);
    const [a, b, src] = [await pixels('under-black-out.png'), await pixels('under-white-out.png'), rgba(0)];
    for (let i = 0; i < 48 * 40; i++) {
      expect(a[i * 4 + 3]).toBe(src[i * 4 + 3]);
      if (src[i * 4 + 3]) for (let c = 0; c < 3; c++) expect(a[i * 4 + c]).toBe(b[i * 4 + c]);
    }
    const j = JSON.parse(run(['denoise', 'under-black.png', '-o', 'under-black-out.png', '--model', model, '--force', '--json']).stdout.toString());
    expect(j.files[0].alpha).toBe(true);
  });

  it('mae inpaint keeps the alpha plane, and a mask drawn on a transparent layer marks only its visible pixels', async () => {
    await png(rgba(0), 'ti.png');
    // White everywhere, but opaque only on a 6x5 box: the box is the hole.
    const m = Buffer.alloc(48 * 40 * 4, 255);
    for (let i = 0; i < 48 * 40; i++) m[i * 4 + 3] = (i % 48) >= 20 && (i % 48) < 26 && Math.floor(i / 48) >= 18 && Math.floor(i / 48) < 23 ? 255 : 0;
    await sharp(m, { raw: { width: 48, height: 40, channels: 4 } }).png().toFile(path.join(tmp, 'layer-mask.png'));
    const r = run(['inpaint', 'ti.png', '--mask', 'layer-mask.png', '-o', 'ti-out.png', '--model', model, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.toString()).filled).toBe(30);
    const [out, src] = [await pixels('ti-out.png'), rgba(0)];
    for (let i = 0; i < 48 * 40; i++) expect(out[i * 4 + 3]).toBe(src[i * 4 + 3]);
  });
});

describe('16-bit images', () => {
  /** A 40x30 16-bit image: `channels` 3 (RGB) or 2 (grey and alpha), values that 8 bits cannot hold. */
  const deep = (channels: 2 | 3) => {
    const v = new Uint16Array(40 * 30 * channels);
    for (let i = 0; i < v.length; i++) v[i] = channels === 2 && i % 2 ? (i % 10 === 1 ? 0 : 65535) : (i * 2741 + 17) % 65536;
    return v;
  };
  const write16 = (v: Uint16Array, channels: 2 | 3, file: string) => sharp(v, { raw: { width: 40, height: 30, channels } }).toColourspace(channels === 2 ? 'grey16' : 'rgb16').png().toFile(path.join(tmp, file));

  it('decodes and encodes 16-bit samples exactly (PNG and TIFF, grey and alpha too)', async () => {
    await write16(deep(3), 3, 'd3.png');
    expect([(await probeImage(path.join(tmp, 'd3.png'))).bits, (await probeImage(path.join(tmp, 'photo.png'))).bits]).toEqual([16, 8]);
    const d = await decodeDeep(path.join(tmp, 'd3.png'));
    expect(d.alpha).toBeNull();
    expect(Array.from(d.data, (x) => Math.round(x * 257))).toEqual(Array.from(deep(3)));
    for (const format of ['png', 'tif']) {
      const back = await decodeDeep(await encodeDeep(d, format));
      expect(Array.from(back.data, (x) => Math.round(x * 257))).toEqual(Array.from(deep(3)));
    }
    await write16(deep(2), 2, 'd2.png');
    const g = await decodeDeep(path.join(tmp, 'd2.png'));
    const bytes = await encodeDeep(g, 'png', { grey: true });
    const m = await sharp(bytes).metadata();
    expect([m.channels, m.depth]).toEqual([2, 'ushort']);
    expect(Array.from((await decodeDeep(bytes)).alpha!)).toEqual(Array.from(g.alpha!));
    await expect(encodeDeep(g, 'jpg')).rejects.toThrow('16-bit output needs png or tif, got jpg');
  });

  it('mae denoise writes a 16-bit input back at 16 bits as PNG or TIFF (alpha kept), and at 8 bits as JPEG', async () => {
    await write16(deep(3), 3, 'n16.png');
    const r = run(['denoise', 'n16.png', '-o', 'n16-out.png', '--model', model, '--sigma', '20', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.toString()).files[0]).toMatchObject({ bits: 16, grey: false, alpha: false });
    expect((await sharp(path.join(tmp, 'n16-out.png')).metadata()).depth).toBe('ushort');
    const out = await decodeDeep(path.join(tmp, 'n16-out.png'));
    // Not just 8-bit values widened: the float result keeps its fractions.
    expect(out.data.some((x) => Math.abs(x - Math.round(x)) > 0.01)).toBe(true);
    expect(JSON.parse(run(['denoise', 'n16.png', '-o', 'n16-out.jpg', '--model', model, '--sigma', '20', '--json']).stdout.toString()).files[0].bits).toBe(8);
    await write16(deep(2), 2, 'g16.png');
    const gr = run(['denoise', 'g16.png', '-o', 'g16-out.tif', '--model', model, '--json']);
    expect(JSON.parse(gr.stdout.toString()).files[0]).toMatchObject({ bits: 16, grey: true, alpha: true });
    const gm = await sharp(path.join(tmp, 'g16-out.tif')).metadata();
    expect([gm.channels, gm.depth]).toEqual([2, 'ushort']);
    expect(Array.from((await decodeDeep(path.join(tmp, 'g16-out.tif'))).alpha!)).toEqual(Array.from((await decodeDeep(path.join(tmp, 'g16.png'))).alpha!));
  });

  it('mae inpaint writes a 16-bit input back at 16 bits, its known pixels exactly', async () => {
    await write16(deep(3), 3, 'i16.png');
    const m = Buffer.alloc(40 * 30 * 3);
    for (let i = 0; i < 40 * 30; i++) if (i % 40 >= 10 && i % 40 < 20 && Math.floor(i / 40) >= 8 && Math.floor(i / 40) < 16) m.fill(255, i * 3, i * 3 + 3);
    await sharp(m, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(path.join(tmp, 'i16-mask.png'));
    const r = run(['inpaint', 'i16.png', '--mask', 'i16-mask.png', '-o', 'i16-out.png', '--model', model, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ bits: 16, filled: 80 });
    const out = Array.from((await decodeDeep(path.join(tmp, 'i16-out.png'))).data, (x) => Math.round(x * 257));
    const src = Array.from(deep(3));
    let changed = 0;
    for (let i = 0; i < 40 * 30; i++) {
      const hole = m[i * 3] > 0;
      for (let c = 0; c < 3; c++) if (hole) changed += out[i * 3 + c] !== src[i * 3 + c] ? 1 : 0;
      else expect(out[i * 3 + c]).toBe(src[i * 3 + c]);
    }
    expect(changed).toBeGreaterThan(0);
  });
});

describe('batches', () => {
  it('decompress goes on past a bad file, lists the failure, exits 1 and writes only complete outputs', () => {
    const dir = path.join(tmp, 'batch');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(tmp, 'photo.png'), path.join(dir, 'good.png'));
    expect(run(['compress', path.join(dir, 'good.png'), '--model', model, '-q', '20']).status).toBe(0);
    const good = fs.readFileSync(path.join(dir, 'good.mae'));
    fs.writeFileSync(path.join(dir, 'cut.mae'), good.subarray(0, good.length - 7));
    fs.writeFileSync(path.join(dir, 'bad.mae'), 'nothing');
    const out = path.join(dir, 'out');
    const r = run(['decompress', path.join(dir, 'bad.mae'), path.join(dir, 'cut.mae'), path.join(dir, 'good.mae'), '-o', out, '--model', model, '--json']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout.toString());
    expect(j.files.map((f: { output: string }) => path.basename(f.output))).toEqual(['good.png']);
    expect(j.failures).toHaveLength(2);
    const lines = err(r).split('\n');
    expect(lines).toEqual([
      `mae: ${path.join(dir, 'bad.mae')} is not an .mae file (wrong magic)`,
      `mae: ${path.join(dir, 'cut.mae')} is truncated or its end is damaged: no checksum at its end (${good.length - 7} bytes)`,
      'mae: 2 of 3 files failed',
    ]);
    expect(fs.readdirSync(out)).toEqual(['good.png']);
  });
});

describe('standard input and output, --quiet, --json', () => {
  it('compress - -o - and decompress - round trip through pipes, messages on stderr only', async () => {
    const png = fs.readFileSync(path.join(tmp, 'photo.png'));
    const c = run(['compress', '-', '-o', '-', '--model', model, '-q', '20'], { input: png });
    expect(c.status).toBe(0);
    expect(c.stdout.subarray(4, 9).toString()).toBe('magic');
    expect(err(c)).toMatch(/^\(standard input\) \(40x30\) -> \(standard output\): \d+ bytes/);
    const d = run(['decompress', '-', '--model', model], { input: c.stdout });
    expect(d.status).toBe(0);
    const meta = await sharp(d.stdout).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 40, 30]);
    const w = run(['decompress', '-', '--model', model, '--format', 'webp', '--quiet'], { input: c.stdout });
    expect((await sharp(w.stdout).metadata()).format).toBe('webp');
    expect(w.stderr.length).toBe(0);
    // A bad .mae on stdin: one line naming standard input, nothing on stdout.
    const bad = run(['decompress', '-', '--model', model], { input: c.stdout.subarray(0, 50) });
    expect(bad.status).toBe(1);
    expect(err(bad)).toBe('mae: standard input is truncated or its end is damaged: no checksum at its end (50 bytes)');
    expect(bad.stdout.length).toBe(0);
  });

  it('denoise and inpaint read standard input and write standard output', async () => {
    const png = fs.readFileSync(path.join(tmp, 'photo.png'));
    const d = run(['denoise', '-', '-o', '-', '--model', model, '--sigma', '10'], { input: png });
    expect(d.status).toBe(0);
    expect((await sharp(d.stdout).metadata()).width).toBe(40);
    const mask = path.join(tmp, 'mask.png');
    const m: RgbImage = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3) };
    for (let y = 10; y < 20; y++) m.data.fill(255, (y * 40 + 10) * 3, (y * 40 + 30) * 3);
    await raw(m).png().toFile(mask);
    const i = run(['inpaint', '-', '--mask', mask, '-o', '-', '--model', model], { input: png });
    expect(i.status).toBe(0);
    const out = await sharp(i.stdout).raw().toBuffer();
    const src = await sharp(png).raw().toBuffer();
    expect(out.subarray(0, 40 * 3).equals(src.subarray(0, 40 * 3))).toBe(true); // a kept row
  });

  it('refuses --json with binary standard output, and - among several inputs (exit 2)', () => {
    const j = run(['compress', 'photo.png', '-o', '-', '--json', '--model', model]);
    expect(j.status).toBe(2);
    expect(err(j)).toBe('mae: --json cannot be combined with writing the .mae file to standard output (-o -): use -o FILE');
    expect(JSON.parse(j.stdout.toString())).toEqual({ error: expect.stringMatching(/--json cannot be combined/) });
    const two = run(['compress', '-', 'photo.png', '-o', 'x/', '--model', model]);
    expect(two.status).toBe(2);
    expect(err(two)).toBe("mae: '-' (standard input) must be the only input");
  });

  it('--quiet prints nothing on success; errors still print; usage errors exit 2', () => {
    const q = run(['compress', 'photo.png', '-o', 'quiet.mae', '--model', model, '--quiet']);
    expect([q.status, q.stdout.length, q.stderr.length]).toEqual([0, 0, 0]);
    const m = run(['metrics', 'photo.png', 'photo.png', '--quiet']);
    expect([m.status, m.stdout.length, m.stderr.length]).toEqual([0, 0, 0]);
    const e = run(['decompress', 'nope.mae', '-o', 'nope.png', '--quiet', '--model', model]);
    expect(e.status).toBe(1);
    expect(err(e)).toBe('mae: file not found: nope.mae');
    expect(run(['compress', '--quality', '500', 'photo.png']).status).toBe(2);
    expect(run(['compress']).status).toBe(2);
    const mask = run(['inpaint', 'photo.png', '--mask', 'photo.png', '-o', 'x.bmp', '--model', model]);
    expect(mask.status).toBe(2);
    expect(err(mask)).toMatch(/^mae: unsupported output format '\.bmp'/);
  });
});

describe('small images', () => {
  it('an image smaller than one patch goes through the CLI (the API tests cover every command)', async () => {
    const f = path.join(tmp, 'small-5x3.png');
    await raw(gradient(5, 3)).png().toFile(f);
    expect(run(['compress', f, '-o', 'small.mae', '-q', '10', '--model', model]).status).toBe(0);
    expect(run(['decompress', 'small.mae', '-o', 'small-d.png', '--model', model]).status).toBe(0);
    const meta = await sharp(path.join(tmp, 'small-d.png')).metadata();
    expect([meta.width, meta.height]).toEqual([5, 3]);
    // Estimating the noise needs 2x2 pixels: a 1x1 image is refused clearly, nothing written.
    const one = path.join(tmp, 'one.png');
    await raw(gradient(1, 1)).png().toFile(one);
    const r = run(['denoise', one, '-o', 'auto-1.png', '--model', model]);
    expect(r.status).toBe(1);
    expect(err(r)).toBe(`mae: ${one}: image 1x1 is too small to estimate its noise (needs at least 2x2 pixels)`);
    expect(fs.existsSync(path.join(tmp, 'auto-1.png'))).toBe(false);
  });
});
