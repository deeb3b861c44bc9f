import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { saveTinyModel } from './helpers/tiny-model';
import { estimateSigma, normalQuantile, rmsQuantile } from '../src/denoise/sigma';
import { transformImage, untransformImage } from '../src/denoise/transforms';
import { expandGlob, expandInputs, planOutputs } from '../src/denoise/inputs';
import { FloatImage } from '../src/model/runner';
import { Rng } from '../src/util/rng';

const ROOT = path.resolve(__dirname, '..');
const RUN = path.join(ROOT, 'bin', 'run.js');

/** A clean synthetic photograph-like image: smooth shading, a few hard-edged shapes, mild fine detail. */
function cleanImage(W: number, H: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const d = new Float32Array(W * H * 3);
  const shapes = Array.from({ length: 6 }, () => ({ x: rng.uniform(0, W), y: rng.uniform(0, H), r: rng.uniform(10, 40), c: [rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(-50, 50)] }));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        let v = 110 + 40 * Math.sin(x / (23 + 5 * c)) * Math.cos(y / 31) + (30 * x) / W;
        for (const s of shapes) if (Math.hypot(x - s.x, y - s.y) < s.r) v += s.c[c];
        v += 6 * Math.sin(x * 0.9 + y * 0.4) * (x > W / 2 ? 1 : 0); // a textured half
        d[(y * W + x) * 3 + c] = v;
      }
  return d;
}

function noisy(clean: Float32Array, sigma: number, seed: number, clip: boolean): Float32Array {
  const rng = new Rng(seed);
  return clean.map((v) => {
    const n = v + sigma * rng.normal();
    return clip ? Math.max(0, Math.min(255, Math.round(n))) : n;
  });
}

describe('noise sigma estimate', () => {
  const W = 256;
  const H = 192;
  const clean = cleanImage(W, H, 3);

  it('the pure-noise calibration is right', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 6);
    expect(normalQuantile(0.05)).toBeCloseTo(-1.6448536, 5);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    // Wilson-Hilferty against a simulation of the RMS of 64 unit normals.
    const rng = new Rng(9);
    const rms = Array.from({ length: 4000 }, () => Math.sqrt(Array.from({ length: 64 }, () => rng.normal() ** 2).reduce((a, b) => a + b) / 64)).sort((a, b) => a - b);
    expect(rmsQuantile(64, 0.05)).toBeCloseTo(rms[200], 1);
  });

  it('reads a clean image as nearly noise-free', () => {
    expect(estimateSigma({ width: W, height: H, data: clean })).toBeLessThan(1.5);
  });

  it.each([5, 15, 25, 50])('finds sigma %i within 12%% (float noise, not clipped)', (sigma) => {
    for (const seed of [1, 2]) {
      const est = estimateSigma({ width: W, height: H, data: noisy(clean, sigma, seed * 100 + sigma, false) });
      expect(Math.abs(est - sigma) / sigma).toBeLessThan(0.12);
    }
  });

  it.each([5, 15, 25, 50])('finds sigma %i within 15%% in an 8-bit (clipped, rounded) image', (sigma) => {
    const est = estimateSigma({ width: W, height: H, data: noisy(clean, sigma, 7 + sigma, true) });
    expect(Math.abs(est - sigma) / sigma).toBeLessThan(0.15);
  });

  it('works on images too small for blocks, and rejects tiny or inconsistent input', () => {
    const small = noisy(cleanImage(20, 20, 1), 20, 5, false);
    expect(Math.abs(estimateSigma({ width: 20, height: 20, data: small }) - 20)).toBeLessThan(5);
    expect(() => estimateSigma({ width: 1, height: 5, data: new Float32Array(15) })).toThrow(/too small/);
    expect(() => estimateSigma({ width: 4, height: 4, data: new Float32Array(10) })).toThrow(/expected 48/);
  });
});

describe('self-ensemble transforms', () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 7])('transform %i is undone exactly', (k) => {
    const img: FloatImage = { width: 5, height: 3, data: Float32Array.from({ length: 45 }, (_, i) => i) };
    const t = transformImage(img, k);
    expect([t.width, t.height]).toEqual(k & 4 ? [3, 5] : [5, 3]);
    const back = untransformImage(t, k);
    expect([back.width, back.height]).toEqual([5, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('takes the region a moved patch grid runs on', async () => {
    const { cropImage } = await import('../src/model/runner');
    const img: FloatImage = { width: 5, height: 3, data: Float32Array.from({ length: 45 }, (_, i) => i) };
    const r = cropImage(img, 1, 2, 4, 1);
    expect([r.width, r.height]).toEqual([1, 2]);
    expect(Array.from(r.data)).toEqual([27, 28, 29, 42, 43, 44]);
    expect(cropImage(img, 5, 3, 0, 0)).toBe(img);
  });

  it('deblocking moves the pixels beside a patch border together, but not across an edge', async () => {
    const { deblockPass } = await import('../src/denoise/deblock');
    // 16x1 grey ramp with a step of 2 levels at the border x = 8, then a step of 60 levels.
    const mk = (step: number) => {
      const d = new Float32Array(16 * 3);
      for (let x = 0; x < 16; x++) d.fill((x < 8 ? 100 : 100 + step) / 255 - 0.5, x * 3, x * 3 + 3);
      return { width: 16, height: 1, data: d };
    };
    const small = mk(2);
    deblockPass(small, 8, 25);
    const at = (img: FloatImage, x: number) => (img.data[x * 3] + 0.5) * 255;
    expect(at(small, 8) - at(small, 7)).toBeLessThan(2 - 0.5);
    expect(at(small, 5)).toBeCloseTo(100, 4);
    const edge = mk(60);
    const before = Float32Array.from(edge.data);
    deblockPass(edge, 8, 25);
    expect(edge.data).toEqual(before);
    // Sigma 0: nothing to filter.
    const clean = mk(2);
    deblockPass(clean, 8, 0);
    expect(at(clean, 8) - at(clean, 7)).toBeCloseTo(2, 4);
  });

  it('transform 1 mirrors the columns, 4 transposes', () => {
    const img: FloatImage = { width: 2, height: 1, data: Float32Array.from([1, 1, 1, 2, 2, 2]) };
    expect(Array.from(transformImage(img, 1).data)).toEqual([2, 2, 2, 1, 1, 1]);
    const tr = transformImage(img, 4);
    expect([tr.width, tr.height]).toEqual([1, 2]);
    expect(Array.from(tr.data)).toEqual([1, 1, 1, 2, 2, 2]);
  });
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUN, ...args], { cwd: ROOT, env: { ...process.env, MAE_BACKEND: 'cpu', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('inputs and outputs', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-dn-in-'));
    fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    for (const f of ['x.png', 'y.jpg', 'note.txt', 'a/z.png', 'a/b/w.png']) fs.writeFileSync(path.join(dir, f), '');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('expands globs, folders and plain names', () => {
    expect(expandGlob(path.join(dir, '*.png'))).toEqual([path.join(dir, 'x.png')]);
    expect(expandGlob(path.join(dir, '**', '*.png'))).toEqual([path.join(dir, 'a/b/w.png'), path.join(dir, 'a/z.png'), path.join(dir, 'x.png')].sort());
    expect(expandGlob(path.join(dir, '[xy].*'))).toEqual([path.join(dir, 'x.png'), path.join(dir, 'y.jpg')]);
    const got = expandInputs([dir, path.join(dir, '*.png'), path.join(dir, 'missing.png'), path.join(dir, 'q*.png')]);
    expect(got.map((e) => path.relative(dir, e.file))).toEqual(['x.png', 'y.jpg', 'missing.png', 'q*.png']);
    expect(got[3].error).toMatch(/no files match/);
  });

  it('plans one PNG per input in a folder, or a single file', () => {
    const out = path.join(dir, 'out');
    expect(planOutputs([{ file: 'p/x.jpg' }, { file: 'q/y.png' }], out).map((p) => p.output)).toEqual([path.join(out, 'x.png'), path.join(out, 'y.png')]);
    expect(planOutputs([{ file: 'p/x.jpg' }], path.join(dir, 'one.png'))[0].output).toBe(path.join(dir, 'one.png'));
    expect(planOutputs([{ file: 'p/x.jpg' }], out + '/')[0].output).toBe(path.join(out, 'x.png'));
    expect(() => planOutputs([{ file: 'p/x.jpg' }, { file: 'q/x.png' }], out)).toThrow(/both be written/);
    expect(() => planOutputs([{ file: path.join(dir, 'x.png') }, { file: path.join(dir, 'y.jpg') }], dir)).toThrow(/overwrite its input/);
  });
});

describe('mae denoise (tiny untrained model)', () => {
  let dir: string;
  let model: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-dn-'));
    model = path.join(dir, 'model');
    saveTinyModel(model);
    fs.mkdirSync(path.join(dir, 'noisy'));
    for (const [name, W, H] of [['one', 96, 72], ['two', 70, 100]] as const) {
      const d = noisy(cleanImage(W, H, W), 20, H, true);
      await sharp(Buffer.from(Uint8Array.from(d)), { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(dir, 'noisy', `${name}.png`));
    }
    fs.writeFileSync(path.join(dir, 'noisy', 'broken.png'), 'this is not an image');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('goes on past a bad file, reports it and exits non-zero (worker threads)', async () => {
    const out = path.join(dir, 'clean');
    const r = await run(['denoise', path.join(dir, 'noisy', '*.png'), '-o', out, '--model', model, '--jobs', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 3 files failed/);
    expect(r.stderr).toMatch(/broken\.png is not an image/);
    for (const name of ['one', 'two']) {
      const meta = await sharp(path.join(out, `${name}.png`)).metadata();
      expect(meta.format).toBe('png');
    }
    expect((await sharp(path.join(out, 'two.png')).metadata()).width).toBe(70);
    expect(fs.existsSync(path.join(out, 'broken.png'))).toBe(false);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--json lists every file with its size, sigma and time, and the failures', async () => {
    const out = path.join(dir, 'clean-json');
    const r = await run(['denoise', path.join(dir, 'noisy'), '-o', out, '--model', model, '--jobs', '1', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.files).toHaveLength(2);
    const one = j.files.find((f: { input: string }) => f.input.endsWith('one.png'));
    expect(one).toMatchObject({ output: path.join(out, 'one.png'), width: 96, height: 72, sigmaEstimated: true });
    expect(one.sigma).toBeGreaterThan(10);
    expect(one.sigma).toBeLessThan(30);
    expect(typeof one.seconds).toBe('number');
    expect(j.failed).toEqual([{ input: path.join(dir, 'noisy', 'broken.png'), output: path.join(out, 'broken.png'), error: expect.stringMatching(/broken\.png is not an image/) }]);
  });

  it('leaves the collaborative stage out with --no-collab', async () => {
    const plain = path.join(dir, 'plain.png');
    const matched = path.join(dir, 'matched.png');
    const input = path.join(dir, 'noisy', 'one.png');
    expect((await run(['denoise', input, '-o', plain, '--model', model, '--sigma', '20', '--no-collab'])).code).toBe(0);
    const r = await run(['denoise', input, '-o', matched, '--model', model, '--sigma', '20', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).files[0]).toMatchObject({ output: matched, width: 96, height: 72 });
    const a = await sharp(plain).raw().toBuffer();
    const b = await sharp(matched).raw().toBuffer();
    expect(a.length).toBe(b.length);
    expect(a.equals(b)).toBe(false);
    // The dense search (BM3D's) gives another image of the same size; it does not combine with --collab-shifts 2.
    const dense = path.join(dir, 'dense.png');
    expect((await run(['denoise', input, '-o', dense, '--model', model, '--sigma', '20', '--collab-search', 'dense'])).code).toBe(0);
    const c = await sharp(dense).raw().toBuffer();
    expect(c.length).toBe(b.length);
    expect(c.equals(b)).toBe(false);
    const both = await run(['denoise', input, '-o', path.join(dir, 'both.png'), '--model', model, '--collab-search', 'dense', '--collab-shifts', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('mae: --collab-shifts 2 works with --collab-search grid only (the dense search already takes members at every pixel)');
    expect(fs.existsSync(path.join(dir, 'both.png'))).toBe(false);
  });

  it('takes its default --jobs from MAE_THREADS, as the --threads commands do', async () => {
    const out = path.join(dir, 'clean-env');
    const inputs = ['one', 'two'].map((n) => path.join(dir, 'noisy', `${n}.png`));
    const r = await run(['denoise', ...inputs, '-o', out, '--model', model, '--json', '--wiener', '0'], { MAE_THREADS: '1' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).jobs).toBe(1);
    const bad = await run(['denoise', ...inputs, '-o', out, '--model', model, '--force'], { MAE_THREADS: 'many' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/MAE_THREADS must be a positive integer/);
  });

  it('writes a single file with a given sigma, and rejects a bad --sigma', async () => {
    const out = path.join(dir, 'single.png');
    const r = await run(['denoise', path.join(dir, 'noisy', 'one.png'), '-o', out, '--model', model, '--sigma', '25', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.failed).toEqual([]);
    expect(j.files[0]).toMatchObject({ output: out, sigma: 25, sigmaEstimated: false });
    expect((await sharp(out).metadata()).height).toBe(72);
    expect(j.files[0].grey).toBe(false);
    // A grey photo comes back grey, in one channel.
    const g = Buffer.from(Uint8Array.from(noisy(cleanImage(64, 48, 2), 20, 4, true).filter((_, k) => k % 3 === 0)));
    await sharp(g, { raw: { width: 64, height: 48, channels: 1 } }).png().toFile(path.join(dir, 'grey.png'));
    const gr = await run(['denoise', path.join(dir, 'grey.png'), '-o', path.join(dir, 'grey-out.png'), '--model', model, '--json']);
    expect(gr.code).toBe(0);
    expect(JSON.parse(gr.stdout).files[0]).toMatchObject({ grey: true, sigmaEstimated: true });
    expect((await sharp(path.join(dir, 'grey-out.png')).metadata()).channels).toBe(1);
    const bad = await run(['denoise', path.join(dir, 'noisy', 'one.png'), '-o', out, '--model', model, '--sigma', 'loud']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('denoise() in process', () => {
  it('keeps the size, blends the input by inputWeight, and averages an ensemble', async () => {
    const { MaeRunner } = await import('../src/model/runner');
    const { denoise, denoiseFloat } = await import('../src/denoise');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-dn-fn-'));
    try {
      saveTinyModel(dir);
      const runner = await MaeRunner.load(dir, 'cpu');
      const W = 70;
      const H = 66;
      const img = { width: W, height: H, data: Uint8Array.from(noisy(cleanImage(W, H, 5), 15, 6, true)) };
      const r = denoise(runner, img, { sigma: 15 });
      expect([r.image.width, r.image.height, r.image.data.length]).toEqual([W, H, W * H * 3]);
      expect(r).toMatchObject({ sigma: 15, sigmaEstimated: false });
      // All input and no stage after the model: the input back exactly. The later stages then change it.
      expect(Array.from(denoise(runner, img, { sigma: 15, inputWeight: 1, wiener: 0, collab: false }).image.data)).toEqual(Array.from(img.data));
      expect(Array.from(denoise(runner, img, { sigma: 15, inputWeight: 1 }).image.data)).not.toEqual(Array.from(img.data));
      const f: FloatImage = { width: W, height: H, data: Float32Array.from(img.data, (v) => v / 255 - 0.5) };
      const e = denoiseFloat(runner, f, { sigma: 15, ensemble: 4, inputWeight: 0 });
      expect(e.image.data.every(Number.isFinite)).toBe(true);
      const sh = denoiseFloat(runner, f, { sigma: 15, shifts: 2, inputWeight: 0 });
      expect([sh.image.width, sh.image.height]).toEqual([W, H]);
      expect(sh.image.data.every(Number.isFinite)).toBe(true);
      expect(() => denoiseFloat(runner, f, { shifts: 3 })).toThrow(/shifts must be 1, 2 or 4/);
      expect(() => denoiseFloat(runner, f, { ensemble: 3 })).toThrow(/ensemble must be/);
      expect(() => denoiseFloat(runner, f, { sigma: -1 })).toThrow(/sigma must be/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('grey images', () => {
  it("are denoised as grey: the later stages take the luma plane's noise (sigma x sqrt 3), and the output is exactly grey", async () => {
    const { MaeRunner } = await import('../src/model/runner');
    const { denoiseFloat } = await import('../src/denoise');
    const { isGreyRgb } = await import('../src/image/io');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-dn-grey-'));
    try {
      saveTinyModel(dir);
      const runner = await MaeRunner.load(dir, 'wasm');
      const W = 96;
      const H = 80;
      const colour = cleanImage(W, H, 8);
      const grey = new Float32Array(W * H);
      for (let i = 0; i < grey.length; i++) grey[i] = (colour[3 * i] + colour[3 * i + 1] + colour[3 * i + 2]) / 3;
      // The same noise in the three channels, as a grey photo has.
      const g = noisy(grey, 25, 9, false);
      const f: FloatImage = { width: W, height: H, data: Float32Array.from({ length: W * H * 3 }, (_, k) => g[Math.floor(k / 3)] / 255 - 0.5) };
      expect(isGreyRgb(f)).toBe(true);
      const psnr = (img: FloatImage) => {
        let se = 0;
        for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) se += ((img.data[3 * i + c] + 0.5) * 255 - grey[i]) ** 2;
        return 10 * Math.log10((255 * 255 * 3 * W * H) / se);
      };
      const r = denoiseFloat(runner, f, { sigma: 25 });
      expect(r.grey).toBe(true);
      expect(isGreyRgb(r.image)).toBe(true);
      const asColour = denoiseFloat(runner, f, { sigma: 25, greyNoise: false });
      expect(asColour.grey).toBe(false);
      // Treated as colour noise, the stages assume a third of the luma's noise and leave most of it.
      expect(psnr(r.image)).toBeGreaterThan(psnr(asColour.image) + 3);
      expect(psnr(r.image)).toBeGreaterThan(psnr(f) + 8);
      // A colour image is not grey, unless told.
      const c: FloatImage = { width: W, height: H, data: Float32Array.from(noisy(colour, 25, 10, false), (v) => v / 255 - 0.5) };
      expect(denoiseFloat(runner, c, { sigma: 25, collab: false }).grey).toBe(false);
      expect(denoiseFloat(runner, c, { sigma: 25, collab: false, greyNoise: true }).grey).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the grey benchmark (mae bench denoise --grey)', () => {
  it('makes images grey as rgb2gray does and adds the same noise to R, G and B', async () => {
    const { addNoise, rgb2gray } = await import('../src/bench/denoise');
    const g = rgb2gray({ width: 2, height: 1, data: Uint8Array.from([255, 0, 0, 10, 200, 30]) });
    expect(Array.from(g.data)).toEqual([76, 76, 76, 124, 124, 124]);
    const img: FloatImage = { width: 50, height: 40, data: new Float32Array(50 * 40 * 3) };
    const grey = addNoise(img, 25, new Rng(3), true).data;
    const colour = addNoise(img, 25, new Rng(3)).data;
    let sd = 0;
    for (let i = 0; i < grey.length; i += 3) {
      expect([grey[i + 1], grey[i + 2]]).toEqual([grey[i], grey[i]]);
      sd += grey[i] ** 2;
    }
    expect(Math.sqrt(sd / (grey.length / 3)) * 255).toBeCloseTo(25, -0.5);
    expect(colour[1]).not.toBe(colour[0]);
  });
});

describe('checkDenoiseOptions', () => {
  test('accepts the defaults and every valid setting, rejects each bad one with its rule', () => {
    const { checkDenoiseOptions } = require('../src/denoise') as typeof import('../src/denoise');
    expect(() => checkDenoiseOptions({})).not.toThrow();
    expect(() => checkDenoiseOptions({ sigma: 'auto', ensemble: 8, shifts: 4, wiener: 0, wienerStride: 8, collab: false, collabShifts: 2, inputWeight: 1 })).not.toThrow();
    expect(() => checkDenoiseOptions({ collabSearch: 'dense', collabShifts: 1 })).not.toThrow();
    const bad: [object, RegExp][] = [
      [{ sigma: 256 }, /sigma must be a number from 0 to 255 or 'auto', got 256/],
      [{ sigma: NaN }, /sigma must be/],
      [{ ensemble: 3 }, /ensemble must be 1, 2, 4 or 8, got 3/],
      [{ shifts: 3 }, /shifts must be 1, 2 or 4, got 3/],
      [{ wiener: 1.5 }, /wiener passes must be an integer from 0 to 8, got 1.5/],
      [{ wienerStride: 0 }, /wiener stride must be an integer from 1 to 8, got 0/],
      [{ collab: 'yes' }, /collab must be true or false, got yes/],
      [{ collabShifts: 3 }, /collab shifts must be 1 or 2, got 3/],
      [{ collabSearch: 'wide' }, /collab search must be grid or dense, got wide/],
      [{ collabSearch: 'dense', collabShifts: 2 }, /collab shifts 2 works with the grid search only/],
      [{ inputWeight: 2 }, /input weight must be between 0 and 1 or 'auto', got 2/],
      [{ greyNoise: 'yes' }, /grey noise must be true or false, got yes/],
    ];
    for (const [o, re] of bad) expect(() => checkDenoiseOptions(o)).toThrow(re);
  });
});

describe('residual blend weight', () => {
  it('is 0 for a model that removes exactly the noise, 1 with no noise, and keeps more input when the model removes detail', async () => {
    const { residualInputWeight } = await import('../src/denoise');
    const rng = new Rng(4);
    const clean = Float32Array.from({ length: 30000 }, () => rng.uniform(-0.3, 0.3));
    const sigma = 20;
    const noise = clean.map(() => (sigma / 255) * rng.normal());
    const noisyF = clean.map((v, i) => v + noise[i]);
    expect(residualInputWeight(noisyF, clean, sigma)).toBeLessThan(0.02);
    expect(residualInputWeight(clean, clean.map((v) => v * 0.5), 0)).toBe(1);
    // Removes the noise and as much detail again: the residual has twice the noise energy.
    const detail = clean.map(() => (sigma / 255) * rng.normal());
    const lossy = clean.map((v, i) => v - detail[i]);
    expect(residualInputWeight(noisyF, lossy, sigma)).toBeCloseTo(0.5, 1);
  });
});
