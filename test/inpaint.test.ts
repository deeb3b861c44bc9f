import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { harmonicInpaint, tensionInpaint } from '../src/bench/inpaint';
import { RgbImage } from '../src/image/io';
import { holesFromMask, inpaint, InpaintOptions, patchRings } from '../src/inpaint';
import { coverage, makeMask, MASK_KINDS, MaskKind } from '../src/inpaint/masks';
import { distanceToKnown } from '../src/inpaint/seam';
import { MaeConfig } from '../src/model/config';
import { TINY_CONFIG } from './helpers/tiny-model';
import { initValues } from '../src/model/mae';
import { MaeRunner } from '../src/model/runner';
import { saveModel } from '../src/model/weights';
import { Rng } from '../src/util/rng';

const ROOT = path.resolve(__dirname, '..');

const tinyConfig: MaeConfig = TINY_CONFIG;

let tmp: string;
/** Freshly initialised: the prediction head is zero, so the output is exactly the hint. */
let identityDir: string;
/** Random prediction head: the output depends on the visible patches. */
let randomDir: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-inpaint-'));
  identityDir = path.join(tmp, 'identity');
  randomDir = path.join(tmp, 'random');
  saveModel(identityDir, tinyConfig, initValues(tinyConfig, 1));
  const values = initValues(tinyConfig, 2);
  const rng = new Rng(3);
  for (const k of ['decoder_pred.weight', 'decoder_pred.bias']) values[k] = values[k].map(() => 0.05 * rng.normal());
  saveModel(randomDir, tinyConfig, values);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A smooth image with some texture, deterministic. */
function testImage(width: number, height: number, seed = 1): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin((x + 7 * c) / 9) * Math.cos(y / 13) + 10 * rng.normal())));
  return { width, height, data };
}

function withHoles(img: RgbImage, holes: Uint8Array, value: (i: number) => number): RgbImage {
  const data = new Uint8Array(img.data);
  for (let i = 0; i < holes.length; i++) if (holes[i]) for (let c = 0; c < 3; c++) data[i * 3 + c] = value(i * 3 + c);
  return { ...img, data };
}

describe('mask generators', () => {
  const sizes: [number, number][] = [
    [481, 321],
    [200, 150],
    [97, 131],
  ];

  it.each(MASK_KINDS.map((k) => [k]))('%s is deterministic for a seed', (kind) => {
    const a = makeMask(kind as MaskKind, 200, 150, 42);
    expect(Buffer.from(makeMask(kind as MaskKind, 200, 150, 42)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(makeMask(kind as MaskKind, 200, 150, 43)).equals(Buffer.from(a))).toBe(false);
  });

  it('patch masks cover their share (up to one 16-pixel square)', () => {
    for (const [w, h] of sizes)
      for (let seed = 0; seed < 5; seed++)
        for (const [kind, share] of [
          ['patches25', 0.25],
          ['patches50', 0.5],
        ] as [MaskKind, number][]) {
          const cov = coverage(makeMask(kind, w, h, seed));
          expect(cov).toBeGreaterThanOrEqual(share);
          expect(cov).toBeLessThanOrEqual(share + 256 / (w * h) + 1e-9);
        }
  });

  it('stroke masks cover 10-25% of the image', () => {
    for (const [w, h] of sizes)
      for (let seed = 0; seed < 8; seed++) {
        const cov = coverage(makeMask('strokes', w, h, seed));
        expect(cov).toBeGreaterThanOrEqual(0.1);
        expect(cov).toBeLessThanOrEqual(0.29);
      }
  });

  it('box masks are one rectangle of at most a quarter of the image', () => {
    for (const [w, h] of sizes)
      for (let seed = 0; seed < 8; seed++) {
        const m = makeMask('boxes', w, h, seed);
        const cov = coverage(m);
        expect(cov).toBeGreaterThanOrEqual(0.06);
        expect(cov).toBeLessThanOrEqual(0.25 + 0.01);
        let x0 = w, y0 = h, x1 = 0, y1 = 0;
        for (let i = 0; i < m.length; i++)
          if (m[i]) {
            x0 = Math.min(x0, i % w);
            x1 = Math.max(x1, (i % w) + 1);
            y0 = Math.min(y0, Math.floor(i / w));
            y1 = Math.max(y1, Math.floor(i / w) + 1);
          }
        expect((x1 - x0) * (y1 - y0)).toBe(Math.round(cov * w * h));
      }
  });
});

describe('inpaint helpers', () => {
  it('distanceToKnown is 0 on known pixels and grows inside a hole', () => {
    const known = new Uint8Array(9 * 9).fill(1);
    for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) known[y * 9 + x] = 0;
    const d = distanceToKnown(known, 9, 9);
    expect(d[0]).toBe(0);
    expect(d[2 * 9 + 2]).toBe(1);
    expect(d[4 * 9 + 4]).toBe(3);
  });

  it('patchRings counts patches from the nearest hole-free patch', () => {
    const W = 64;
    const known = new Uint8Array(W * W).fill(1);
    for (let y = 8; y < 56; y++) for (let x = 8; x < 56; x++) known[y * W + x] = 0;
    const r = patchRings(known, W, W, 8, 1);
    expect(r[0]).toBe(0);
    expect(r[1 * 8 + 1]).toBe(1);
    expect(r[3 * 8 + 3]).toBe(3);
    expect(patchRings(known, W, W, 8, 2)[3 * 8 + 3]).toBe(2);
  });

  it('patchRings fills holes shallower than minDepth in pass 1', () => {
    const W = 160;
    const known = new Uint8Array(W * W).fill(1);
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) known[y * W + x] = 0; // 2x2 patches: depth 1
    for (let y = 40; y < 152; y++) for (let x = 40; x < 152; x++) known[y * W + x] = 0; // 14x14 patches: depth 7
    const cols = 20;
    const r = patchRings(known, W, W, 8, 1, 5);
    expect(r[1 * cols + 1]).toBe(1);
    expect(r[5 * cols + 5]).toBe(1);
    expect(r[7 * cols + 7]).toBe(3);
    expect(r[11 * cols + 11]).toBe(7);
    expect(Math.max(...patchRings(known, W, W, 8, 1, 8))).toBe(1);
  });

  it('holesFromMask: any non-zero channel marks a hole', () => {
    const m = { width: 3, height: 1, data: Uint8Array.from([0, 0, 0, 0, 0, 1, 255, 0, 0]) };
    expect(Array.from(holesFromMask(m))).toEqual([0, 1, 1]);
  });
});

describe('inpaint', () => {
  let identity: MaeRunner;
  let random: MaeRunner;
  beforeAll(async () => {
    identity = await MaeRunner.load(identityDir, 'wasm');
    random = await MaeRunner.load(randomDir, 'wasm');
  });

  const cases: [string, number, number, MaskKind, InpaintOptions][] = [
    ['strokes, default options', 100, 70, 'strokes', {}],
    ['50% squares, feather seam', 90, 72, 'patches50', { seam: 'feather', seamPixels: 2 }],
    ['box, progressive', 120, 96, 'boxes', { progressive: true, ringPatches: 1, maxPasses: 3, progressiveDepth: 1 }],
    ['image smaller than the window', 40, 30, 'patches25', { seam: 'none' }],
  ];

  it.each(cases)('%s: keeps known pixels exactly and never reads hole pixels', (_name, w, h, kind, opts) => {
    const img = testImage(w, h);
    const holes = makeMask(kind, w, h, 5);
    let passes = 0;
    const a = inpaint(random, withHoles(img, holes, () => 0), holes, { ...opts, onProgress: (_d, _t, _p, n) => (passes = n) });
    if (opts.progressiveDepth) expect(passes).toBe(3);
    const b = inpaint(random, withHoles(img, holes, (k) => (k * 7919) % 256), holes, opts);
    expect([a.width, a.height]).toEqual([w, h]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    for (let i = 0; i < w * h; i++) if (!holes[i]) for (let c = 0; c < 3; c++) expect(a.data[i * 3 + c]).toBe(img.data[i * 3 + c]);
    // The model did change the holes (not just left the garbage).
    let changed = 0;
    for (let i = 0; i < w * h; i++) if (holes[i] && a.data[i * 3] !== 0) changed++;
    expect(changed).toBeGreaterThan(0);
  });

  it('with an identity model the result is the pixel-level harmonic fill, or the tension-spline fill with tension 1 (known pixels of touched patches inform the hint)', () => {
    const img = testImage(96, 80, 4);
    const holes = makeMask('strokes', 96, 80, 9);
    const maxDiff = (a: RgbImage, b: RgbImage) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);
    expect(maxDiff(inpaint(identity, img, holes), harmonicInpaint(img, holes))).toBeLessThanOrEqual(1);
    const spline = tensionInpaint(img, holes);
    expect(maxDiff(inpaint(identity, img, holes, { tension: 1 }), spline)).toBeLessThanOrEqual(1);
    // The two fills differ: the option does something.
    expect(maxDiff(spline, harmonicInpaint(img, holes))).toBeGreaterThan(2);
    expect(() => inpaint(identity, img, holes, { tension: -1 })).toThrow('tension must be a number from 0 up (0: no spline correction), got -1');
  });

  it('fills a grey photo with grey (the mean of the model output channels), whatever the hole pixels held', () => {
    const c = testImage(90, 72, 3);
    const img: RgbImage = { width: 90, height: 72, data: c.data.map((_, k) => c.data[k - (k % 3)]) };
    const holes = makeMask('patches25', 90, 72, 2);
    // Coloured garbage under the mask (a red scribble, say) is not read.
    const out = inpaint(random, withHoles(img, holes, (k) => (k % 3 === 0 ? 255 : 0)), holes);
    for (let i = 0; i < holes.length; i++) {
      expect(out.data[i * 3 + 1]).toBe(out.data[i * 3]);
      expect(out.data[i * 3 + 2]).toBe(out.data[i * 3]);
      if (!holes[i]) expect(out.data[i * 3]).toBe(img.data[i * 3]);
    }
    // A colour photo keeps the model colour in its holes.
    const colourOut = inpaint(random, c, holes);
    let coloured = 0;
    for (let i = 0; i < holes.length; i++) if (holes[i] && colourOut.data[i * 3] !== colourOut.data[i * 3 + 1]) coloured++;
    expect(coloured).toBeGreaterThan(0);
  });

  it('returns an unchanged copy for an empty mask and rejects a mask of the wrong size or one that marks every pixel', () => {
    const img = testImage(70, 70);
    const out = inpaint(identity, img, new Uint8Array(70 * 70));
    expect(Buffer.from(out.data).equals(Buffer.from(img.data))).toBe(true);
    expect(() => inpaint(identity, img, new Uint8Array(10))).toThrow('mask has 10 pixels, the image has 4900');
    expect(() => inpaint(identity, img, new Uint8Array(70 * 70).fill(1))).toThrow('mask marks every pixel: nothing is left to fill the holes from');
  });
});

describe('mae inpaint (compiled CLI)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'inpaint', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MAE_DEBUG: '' } });
  const png = (file: string, img: RgbImage) => sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(file);
  const maskImage = (holes: Uint8Array, w: number, h: number): RgbImage => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < holes.length; i++) if (holes[i]) data[i * 3 + 2] = 1; // any non-zero channel counts
    return { width: w, height: h, data };
  };
  let photo: string;
  let img: RgbImage;

  beforeAll(async () => {
    const built = path.join(ROOT, 'dist', 'commands', 'inpaint.js');
    const sources = ['src/commands/inpaint.ts', 'src/inpaint/index.ts', 'src/inpaint/seam.ts'].map((f) => path.join(ROOT, f));
    const stale = !fs.existsSync(built) || sources.some((f) => fs.statSync(f).mtimeMs > fs.statSync(built).mtimeMs + 1000);
    if (stale) throw new Error('dist/ is missing or older than src/: run `npx tsc -p .` first');
    img = testImage(100, 80, 7);
    photo = path.join(tmp, 'photo.png');
    await png(photo, img);
  });

  it('fills the mask and prints JSON', async () => {
    const holes = makeMask('boxes', 100, 80, 1);
    const mask = path.join(tmp, 'mask.png');
    await png(mask, maskImage(holes, 100, 80));
    const out = path.join(tmp, 'out', 'filled.png');
    const r = run(photo, '--mask', mask, '-o', out, '--model', identityDir, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(res).sort()).toEqual(['bits', 'filled', 'height', 'input', 'mask', 'output', 'seconds', 'width']);
    expect(res).toMatchObject({ input: photo, mask, output: out, width: 100, height: 80, filled: holes.reduce((s, v) => s + v, 0) });
    const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < holes.length; i++) if (!holes[i]) expect(data[i * 3]).toBe(img.data[i * 3]);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['filled.png']);
  });

  it('writes a grey photo back in one grey channel', async () => {
    const grey = path.join(tmp, 'grey.png');
    await sharp(Buffer.from(img.data.filter((_, k) => k % 3 === 1)), { raw: { width: 100, height: 80, channels: 1 } }).png().toFile(grey);
    const mask = path.join(tmp, 'grey-mask.png');
    await png(mask, maskImage(makeMask('patches25', 100, 80, 3), 100, 80));
    const out = path.join(tmp, 'grey-filled.png');
    expect(run(grey, '--mask', mask, '-o', out, '--model', randomDir).status).toBe(0);
    expect((await sharp(out).metadata()).channels).toBe(1);
  });

  it('takes --tension (the default 0: the model output alone) and rejects a bad one in one line, writing nothing', async () => {
    const holes = makeMask('strokes', 100, 80, 2);
    const mask = path.join(tmp, 'tension-mask.png');
    await png(mask, maskImage(holes, 100, 80));
    const read = async (f: string) => (await sharp(f).raw().toBuffer({ resolveWithObject: true })).data;
    const outs = ['t0.png', 't1.png'].map((f) => path.join(tmp, f));
    expect(run(photo, '--mask', mask, '-o', outs[0], '--model', identityDir).status).toBe(0);
    expect(run(photo, '--mask', mask, '-o', outs[1], '--model', identityDir, '--tension', '1').status).toBe(0);
    const [a, b] = await Promise.all(outs.map(read));
    expect(Buffer.compare(a, b)).not.toBe(0);
    const bad = path.join(tmp, 'never-tension.png');
    const r = run(photo, '--mask', mask, '-o', bad, '--model', identityDir, '--tension', '-2');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('mae: --tension must be a number from 0 up, got -2');
    expect(fs.existsSync(bad)).toBe(false);
  });

  it('rejects a mask of a different size, writing nothing', async () => {
    const mask = path.join(tmp, 'small-mask.png');
    await png(mask, maskImage(new Uint8Array(60 * 50).fill(1), 60, 50));
    const out = path.join(tmp, 'never1.png');
    const r = run(photo, '--mask', mask, '-o', out, '--model', identityDir);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('mae: mask is 60x50, the image is 100x80');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('rejects an empty mask, writing nothing', async () => {
    const mask = path.join(tmp, 'empty-mask.png');
    await png(mask, maskImage(new Uint8Array(100 * 80), 100, 80));
    const out = path.join(tmp, 'never2.png');
    const r = run(photo, '--mask', mask, '-o', out, '--model', identityDir, '--json');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mae: mask .* is empty/);
    expect(JSON.parse(r.stdout)).toEqual({ error: expect.stringMatching(/is empty/) });
    expect(fs.existsSync(out)).toBe(false);
  });

  it('rejects a mask that marks every pixel, writing nothing', async () => {
    const mask = path.join(tmp, 'full-mask.png');
    await png(mask, maskImage(new Uint8Array(100 * 80).fill(1), 100, 80));
    const out = path.join(tmp, 'never4.png');
    const r = run(photo, '--mask', mask, '-o', out, '--model', identityDir, '--json');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe(`mae: mask ${mask} marks every pixel: nothing is left to fill the holes from`);
    expect(JSON.parse(r.stdout)).toEqual({ error: expect.stringMatching(/marks every pixel/) });
    expect(fs.existsSync(out)).toBe(false);
  });

  it('reports a missing file in one line', () => {
    const out = path.join(tmp, 'never3.png');
    const r = run(path.join(tmp, 'nope.png'), '--mask', photo, '-o', out, '--model', identityDir);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe(`mae: file not found: ${path.join(tmp, 'nope.png')}`);
    expect(fs.existsSync(out)).toBe(false);
  });
});
