import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { bdRate, RdPoint } from '../src/bench/bdrate';
import { CodecError, decodeImage, encodeImage, inspect, modelInfo, needsModel } from '../src/codec';
import { packContainer, unpackContainer, MaeFields, VERSION } from '../src/codec/container';
import { BLOCK, CHROMA_TABLE, decodeBlock, dequantize, encodeBlock, fdct, idct, quantize, quantTables, scaledTable, slopeTable, LUMA_TABLE, ZIGZAG } from '../src/codec/dct';
import { decodeCoeffs, decodeMask, encodeCoeffs, encodeMask, keptLayout, METHOD_DEFLATE, METHOD_RANGE, COEFFS_PER_PATCH } from '../src/codec/entropy';
import { qualityParams } from '../src/codec/quality';
import { chooseRemoved } from '../src/codec/select';
import { RgbImage } from '../src/image/io';
import { MaeConfig } from '../src/model/config';
import { TINY_CONFIG } from './helpers/tiny-model';
import { initValues } from '../src/model/mae';
import { MaeRunner } from '../src/model/runner';
import { saveModel } from '../src/model/weights';
import { Rng } from '../src/util/rng';

const ROOT = path.resolve(__dirname, '..');

const tiny: MaeConfig = TINY_CONFIG;

let tmp: string;
let modelA: string;
let modelB: string;
let runnerA: MaeRunner;

/** A smooth picture with an edge and some texture; not a multiple of 8 and lower than a window. */
function picture(width: number, height: number, seed = 1): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const edge = x + 0.5 * y > width * 0.6 ? 60 : 0;
      const tex = x > width / 2 && y > height / 2 ? 30 * Math.sin(x * 1.3) * Math.cos(y * 0.9) : 0;
      data[o] = Math.max(0, Math.min(255, Math.round(40 + 2 * x + edge + tex + 4 * rng.normal())));
      data[o + 1] = Math.max(0, Math.min(255, Math.round(90 + y + tex)));
      data[o + 2] = Math.max(0, Math.min(255, Math.round(200 - x - edge / 2)));
    }
  return { width, height, data };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-codec-'));
  modelA = path.join(tmp, 'model-a');
  modelB = path.join(tmp, 'model-b');
  saveModel(modelA, tiny, initValues(tiny, 1));
  saveModel(modelB, tiny, initValues(tiny, 2));
  runnerA = await MaeRunner.load(modelA, 'cpu');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('DCT and quantization', () => {
  it('zigzag is JPEG order', () => {
    expect(ZIGZAG.slice(0, 10)).toEqual([0, 1, 8, 16, 9, 2, 3, 10, 17, 24]);
    expect(ZIGZAG[63]).toBe(63);
    expect([...ZIGZAG].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it('idct(fdct(x)) == x and the DC is 8 x mean', () => {
    const rng = new Rng(3);
    const x = Float64Array.from({ length: BLOCK }, () => rng.next() * 255 - 128);
    const c = fdct(x);
    const mean = x.reduce((s, v) => s + v, 0) / BLOCK;
    expect(c[0]).toBeCloseTo(8 * mean, 9);
    const back = idct(c);
    for (let i = 0; i < BLOCK; i++) expect(back[i]).toBeCloseTo(x[i], 9);
    // Orthonormal: energy is preserved.
    const e = (a: Float64Array) => a.reduce((s, v) => s + v * v, 0);
    expect(e(c)).toBeCloseTo(e(x), 6);
  });

  it('scales the tables as libjpeg', () => {
    expect(Array.from(scaledTable(LUMA_TABLE, 50))).toEqual([...LUMA_TABLE]);
    expect(scaledTable(LUMA_TABLE, 100).every((v) => v === 1)).toBe(true);
    expect(scaledTable(LUMA_TABLE, 10)[0]).toBe(80); // 16 x 500 / 100
    expect(scaledTable(LUMA_TABLE, 75)[0]).toBe(8); // (16 x 50 + 50) / 100
    expect(() => scaledTable(LUMA_TABLE, 0)).toThrow(/1\.\.100/);
  });

  it('quantize / dequantize round trip within half a step', () => {
    const rng = new Rng(4);
    const t = scaledTable(LUMA_TABLE, 60);
    const coef = Float64Array.from({ length: BLOCK }, () => (rng.next() - 0.5) * 400);
    const back = dequantize(quantize(coef, t), t);
    for (let i = 0; i < BLOCK; i++) expect(Math.abs(back[i] - coef[i])).toBeLessThanOrEqual(t[i] / 2 + 1e-9);
    expect(Array.from(quantize(new Float64Array(BLOCK).fill(-0.5), new Int32Array(BLOCK).fill(1)))).toEqual(new Array(BLOCK).fill(-1));
  });

  it('codes a patch through YCbCr nearly losslessly at DCT quality 100', () => {
    const img = picture(8, 8);
    const q = new Int32Array(3 * BLOCK);
    const tables = quantTables(100);
    encodeBlock(img.data, tables, q);
    const out = new Float64Array(3 * BLOCK);
    decodeBlock(q, tables, out);
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - img.data[i])).toBeLessThan(2);
  });

  it('selects Annex K tables for format version 1 and the slope tables for version 2', () => {
    const [l1, c1] = quantTables(30, 1);
    expect(Array.from(l1)).toEqual(Array.from(scaledTable(LUMA_TABLE, 30)));
    expect(Array.from(c1)).toEqual(Array.from(scaledTable(CHROMA_TABLE, 30)));
    const [l2, c2] = quantTables(30);
    expect(Array.from(l2)).toEqual(Array.from(slopeTable(30, 1)));
    // Every divisor is 1 at quality 100; divisors grow with frequency, for chroma, and as quality falls.
    expect(quantTables(100).every((t) => t.every((d) => d === 1))).toBe(true);
    expect(l2[63]).toBeGreaterThan(l2[0]);
    for (let i = 0; i < BLOCK; i++) {
      expect(c2[i]).toBeGreaterThanOrEqual(l2[i]);
      expect(slopeTable(10, 1)[i]).toBeGreaterThanOrEqual(l2[i]);
    }
  });
});

describe('entropy coding', () => {
  const rng = new Rng(5);
  const rows = 7;
  const cols = 9;
  const removed = Uint8Array.from({ length: rows * cols }, () => (rng.next() < 0.4 ? 1 : 0));

  it.each([METHOD_DEFLATE, METHOD_RANGE])('mask round trip (method %i)', (m) => {
    const buf = encodeMask(removed, rows, cols, m);
    expect(buf[0]).toBe(m);
    expect(Array.from(decodeMask(buf, rows, cols))).toEqual(Array.from(removed));
  });

  it.each([METHOD_DEFLATE, METHOD_RANGE])('coefficient round trip (method %i)', (m) => {
    const lay = keptLayout(removed, rows, cols);
    const q = new Int32Array(lay.count * COEFFS_PER_PATCH);
    for (let i = 0; i < q.length; i++) {
      const k = i % BLOCK;
      const r = rng.next();
      // Mostly zeros at high frequencies, some large values, every position sometimes nonzero.
      q[i] = k === 0 ? Math.round((r - 0.5) * 2000) : r < 0.7 - k / 200 ? 0 : Math.round((rng.next() - 0.5) * (k < 10 ? 300 : 6));
    }
    q[COEFFS_PER_PATCH - 1] = 5; // last position of a block
    const buf = encodeCoeffs(q, lay, m);
    expect(buf[0]).toBe(m);
    expect(Array.from(decodeCoeffs(buf, lay))).toEqual(Array.from(q));
  });

  it('the encoder keeps the shorter method', () => {
    const lay = keptLayout(removed, rows, cols);
    const q = new Int32Array(lay.count * COEFFS_PER_PATCH);
    const both = [encodeCoeffs(q, lay, METHOD_DEFLATE).length, encodeCoeffs(q, lay, METHOD_RANGE).length];
    expect(encodeCoeffs(q, lay).length).toBe(Math.min(...both));
  });

  it('removes the lowest scores, ties by index', () => {
    expect(Array.from(chooseRemoved([3, 1, 2, 1], 2))).toEqual([0, 1, 0, 1]);
  });
});

describe('container', () => {
  const fields: MaeFields = {
    width: 77,
    height: 41,
    channels: 3,
    colorSpace: 'srgb',
    modelId: 'mae-0123456789abcdef',
    patchSize: 8,
    windowSize: 64,
    quality: 42,
    ratio: 0.375,
    dctQuality: 33,
    mask: Uint8Array.from([1, 2, 3]),
    coeffs: Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 255),
    latents: null,
  };

  it('round trips every field', () => {
    const bytes = packContainer(fields);
    const f = unpackContainer(bytes, 'x.mae');
    expect(f.magic).toBe('MAE-CODEC');
    expect(f.version).toBe(VERSION);
    expect(f.checksum).toMatch(/^[0-9a-f]{16}$/);
    for (const [k, v] of Object.entries(fields)) {
      const got = (f as unknown as Record<string, unknown>)[k];
      if (v instanceof Uint8Array) expect(Array.from(got as Uint8Array)).toEqual(Array.from(v));
      else expect(got).toEqual(v);
    }
    // Deterministic bytes.
    expect(Buffer.from(packContainer(fields)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('detects a corrupted byte, a truncated file and a foreign file', () => {
    const bytes = packContainer(fields);
    const bad = bytes.slice();
    bad[bytes.length - 60] ^= 0x10; // inside coeffs
    expect(() => unpackContainer(bad, 'photo.mae')).toThrow('photo.mae is damaged: checksum mismatch');
    const bad2 = bytes.slice();
    bad2[bytes.indexOf(41)] = 40; // the height
    expect(() => unpackContainer(bad2, 'photo.mae')).toThrow('photo.mae is damaged: checksum mismatch');
    for (const n of [5, 30, bytes.length - 100, bytes.length - 1]) expect(() => unpackContainer(bytes.slice(0, n), 'photo.mae')).toThrow(/^photo\.mae is truncated/);
    expect(() => unpackContainer(new Uint8Array(0), 'photo.mae')).toThrow('photo.mae is not an .mae file');
    expect(() => unpackContainer(Buffer.from('\x89PNG\r\n\x1a\n....'), 'photo.mae')).toThrow('photo.mae is not an .mae file');
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => unpackContainer(longer, 'photo.mae')).toThrow(/^photo\.mae is damaged/);
  });

  it('rejects invalid fields when writing', () => {
    expect(() => packContainer({ ...fields, quality: 0 })).toThrow(/quality/);
    expect(() => packContainer({ ...fields, ratio: 1 })).toThrow(/ratio/);
  });
});

describe('codec', () => {
  const img = picture(77, 41);

  it('is deterministic: same input and model -> same bytes; same file -> same pixels', () => {
    const a = encodeImage(img, modelInfo(runnerA), { quality: 5 });
    const b = encodeImage(img, modelInfo(runnerA), { quality: 5 });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(a.removed.some((v) => v)).toBe(true);
    const d1 = decodeImage(a.bytes, runnerA, 'a.mae');
    const d2 = decodeImage(a.bytes, runnerA, 'a.mae');
    expect(d1.image.width).toBe(77);
    expect(d1.image.height).toBe(41);
    expect(Buffer.from(d1.image.data).equals(Buffer.from(d2.image.data))).toBe(true);
    expect(d1.removedPatches).toBe(a.removed.reduce((s, v) => s + v, 0));
    // The file as inspect read it decodes to the same pixels as its bytes (callers that checked the header do not unpack it twice).
    const d3 = decodeImage(inspect(a.bytes, 'a.mae'), runnerA, 'a.mae');
    expect(Buffer.from(d3.image.data).equals(Buffer.from(d1.image.data))).toBe(true);
  });

  it('decodes close to the input, better at higher quality', () => {
    const err = (q: number) => {
      const e = encodeImage(img, modelInfo(runnerA), { quality: q });
      const d = decodeImage(e.bytes, runnerA, 'x.mae').image;
      let s = 0;
      for (let i = 0; i < d.data.length; i++) s += (d.data[i] - img.data[i]) ** 2;
      return { mse: s / d.data.length, bytes: e.bytes.length };
    };
    const lo = err(10);
    const hi = err(95);
    expect(hi.mse).toBeLessThan(lo.mse);
    expect(hi.bytes).toBeGreaterThan(lo.bytes);
    expect(hi.mse).toBeLessThan(20); // PSNR above 35 dB
  });

  it.each([
    [1, 1],
    [13, 9],
  ])('codes a tiny %ix%i image (always keeps a patch)', (w, h) => {
    const small = picture(w, h);
    const e = encodeImage(small, modelInfo(runnerA), { quality: 1 });
    expect(e.removed.length - e.removed.reduce((s, v) => s + v, 0)).toBeGreaterThanOrEqual(1);
    const d = decodeImage(e.bytes, runnerA, 'x.mae').image;
    expect([d.width, d.height, d.data.length]).toEqual([w, h, w * h * 3]);
  });

  it('ratio 0 keeps every patch; the stored parameters are the ones used', () => {
    const e = encodeImage(img, modelInfo(runnerA), { quality: 60, ratio: 0 });
    expect(e.removed.every((v) => v === 0)).toBe(true);
    const f = unpackContainer(e.bytes, 'x');
    expect([f.quality, f.ratio, f.dctQuality]).toEqual([60, 0, qualityParams(60).dctQuality]);
  });

  it('refuses a different model where patches were removed, naming both ids; decodes with any model where none were', async () => {
    const runnerB = await MaeRunner.load(modelB, 'cpu');
    expect(runnerB.modelId).not.toBe(runnerA.modelId);
    const kept = encodeImage(img, modelInfo(runnerA), { quality: 30 });
    expect(kept.removed.some((v) => v)).toBe(false);
    const viaA = decodeImage(kept.bytes, runnerA, 'photo.mae');
    const viaB = decodeImage(kept.bytes, runnerB, 'photo.mae');
    expect(Buffer.from(viaB.image.data).equals(Buffer.from(viaA.image.data))).toBe(true);
    // ... and with none at all; a file with removed patches says which model it needs.
    expect(needsModel(inspect(kept.bytes))).toBe(false);
    expect(Buffer.from(decodeImage(kept.bytes, null, 'photo.mae').image.data).equals(Buffer.from(viaA.image.data))).toBe(true);
    const e = encodeImage(img, modelInfo(runnerA), { quality: 5 });
    expect(e.removed.some((v) => v)).toBe(true);
    expect(needsModel(inspect(e.bytes))).toBe(true);
    expect(() => decodeImage(e.bytes, null, 'photo.mae')).toThrow(`photo.mae needs model ${runnerA.modelId} to rebuild its removed patches`);
    let msg = '';
    try {
      decodeImage(e.bytes, runnerB, 'photo.mae');
    } catch (error) {
      expect(error).toBeInstanceOf(CodecError);
      msg = (error as Error).message;
    }
    expect(msg).toContain(runnerA.modelId);
    expect(msg).toContain(runnerB.modelId);
    expect(msg).toContain('photo.mae');
  });
});

describe('quality table', () => {
  it('maps 1..100 monotonically', () => {
    let prev = qualityParams(1);
    for (let q = 2; q <= 100; q++) {
      const p = qualityParams(q);
      expect(p.ratio).toBeLessThanOrEqual(prev.ratio);
      expect(p.dctQuality).toBeGreaterThanOrEqual(prev.dctQuality);
      expect(p.ratio).toBeGreaterThanOrEqual(0);
      expect(p.ratio).toBeLessThan(1);
      prev = p;
    }
    expect(qualityParams(50, 0.3).ratio).toBe(0.3);
    expect(() => qualityParams(0)).toThrow(/quality/);
    expect(() => qualityParams(50, 1)).toThrow(/ratio/);
  });
});

describe('BD-rate', () => {
  const A: RdPoint[] = [
    { rate: 0.25, psnr: 28 },
    { rate: 0.5, psnr: 31 },
    { rate: 1, psnr: 34.5 },
    { rate: 2, psnr: 38 },
    { rate: 3.5, psnr: 41 },
  ];

  it.each(['pchip', 'poly'] as const)('every rate x 0.9 -> -10%% (%s)', (m) => {
    const B = A.map((p) => ({ rate: p.rate * 0.9, psnr: p.psnr }));
    expect(bdRate(A, B, m).rate).toBeCloseTo(-10, 9);
    expect(bdRate(B, A, m).rate).toBeCloseTo((1 / 0.9 - 1) * 100, 9);
    expect(bdRate(A, A, m).rate).toBeCloseTo(0, 12);
  });

  it('integrates over the overlapping PSNR range only', () => {
    // log-rate linear in PSNR (every interpolant is exact); B: twice the rate, only from 31 to 38 dB.
    const L = A.map((p) => ({ rate: 0.01 * Math.exp(0.2 * p.psnr), psnr: p.psnr }));
    const B = L.slice(1, 4).map((p) => ({ rate: p.rate * 2, psnr: p.psnr }));
    const r = bdRate(L, B);
    expect(r.lo).toBe(31);
    expect(r.hi).toBe(38);
    expect(r.rate).toBeCloseTo(100, 9);
  });

  it('is NaN without overlap', () => {
    expect(bdRate(A, [{ rate: 9, psnr: 50 }, { rate: 10, psnr: 52 }]).rate).toBeNaN();
  });
});

describe('CLI (compiled dist/)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], { encoding: 'utf8', env: { ...process.env, MAE_BACKEND: 'cpu' } });
  const haveDist = fs.existsSync(path.join(ROOT, 'dist', 'commands', 'compress.js'));

  (haveDist ? it : it.skip)('compresses a batch past a bad file, then decompresses', async () => {
    const img = picture(70, 66);
    const good = path.join(tmp, 'good.png');
    await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(good);
    const bad = path.join(tmp, 'bad.png');
    fs.writeFileSync(bad, 'not an image');
    const out = path.join(tmp, 'out');
    const c = run(['compress', good, bad, '-o', out + '/', '--model', modelA, '--quality', '30', '--json']);
    expect(c.status).toBe(1);
    const res = JSON.parse(c.stdout) as { files: { output: string; bytes: number; bpp: number }[]; failures: { input: string; error: string }[] };
    expect(res.files).toHaveLength(1);
    expect(res.files[0].bpp).toBeCloseTo((res.files[0].bytes * 8) / (70 * 66), 9);
    expect(res.failures).toEqual([expect.objectContaining({ input: bad })]);
    expect(c.stderr).toContain('1 of 2 files failed');
    const mae = path.join(out, 'good.mae');
    expect(fs.existsSync(mae)).toBe(true);
    const d = run(['decompress', mae, '-o', path.join(tmp, 'restored.png'), '--model', modelA, '--json']);
    expect(d.status).toBe(0);
    expect(JSON.parse(d.stdout)).toEqual(expect.objectContaining({ width: 70, height: 66 }));
    // Every patch kept (quality 30): another model decodes it to the same image, so files outlive a change of the shipped model.
    const other = run(['decompress', mae, '-o', path.join(tmp, 'other.png'), '--model', modelB, '--json']);
    expect(other.status).toBe(0);
    const [a, b] = await Promise.all([path.join(tmp, 'restored.png'), path.join(tmp, 'other.png')].map((f) => sharp(f).raw().toBuffer()));
    expect(b.equals(a)).toBe(true);
    // It never loads a model: even a missing --model folder does not stop it.
    const none = run(['decompress', mae, '-o', path.join(tmp, 'none.png'), '--model', path.join(tmp, 'no-such-model')]);
    expect(none.status).toBe(0);
    expect((await sharp(path.join(tmp, 'none.png')).raw().toBuffer()).equals(a)).toBe(true);
    // Patches removed (quality 5): only the model that encoded it can rebuild them.
    const low = path.join(tmp, 'low.mae');
    expect(run(['compress', good, '-o', low, '--model', modelA, '--quality', '5']).status).toBe(0);
    const e = run(['decompress', low, '-o', path.join(tmp, 'x.png'), '--model', modelB]);
    expect(e.status).toBe(1);
    expect(e.stderr.trim().split('\n').pop()).toMatch(/^mae: .*low\.mae was encoded with model mae-\w+, but the loaded model is mae-\w+/);
    expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
  });
});

describe('deblocking (format version 2 decoding)', () => {
  const { deblock, DEBLOCK } = jest.requireActual('../src/codec/deblock') as typeof import('../src/codec/deblock');
  // Two 8x8 patches side by side: flat 100 | flat 100 + s.
  const pair = (s: number) => {
    const px = new Uint8Array(16 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) for (let k = 0; k < 3; k++) px[(y * 16 + x) * 3 + k] = x < 8 ? 100 : 100 + s;
    return px;
  };
  it('smooths a small step between two kept patches and keeps far pixels', () => {
    const px = pair(6);
    deblock(px, 16, 8, 1, 2, 8, new Uint8Array(2), 10);
    expect(px[7 * 3]).toBeGreaterThan(100);
    expect(px[8 * 3]).toBeLessThan(106);
    expect(px[0]).toBe(100);
    expect(px[15 * 3]).toBe(106);
  });
  it('leaves real edges, borders with a removed patch, and steps above alpha alone', () => {
    const big = pair(Math.ceil(DEBLOCK.alpha * 10) + 1);
    const before = Array.from(big);
    deblock(big, 16, 8, 1, 2, 8, new Uint8Array(2), 10);
    expect(Array.from(big)).toEqual(before);
    const small = pair(6);
    const b2 = Array.from(small);
    deblock(small, 16, 8, 1, 2, 8, Uint8Array.from([0, 1]), 10);
    expect(Array.from(small)).toEqual(b2);
  });
});
