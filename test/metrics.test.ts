import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRgb, RgbImage } from '../src/image/io';
import { compareImages, mse, psnr, ssim } from '../src/metrics';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'metrics');

interface ExpectedPair {
  reference: string;
  candidate: string;
  width: number;
  height: number;
  psnr: number;
  ssim: number;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as { pairs: Record<string, ExpectedPair> };
const fixture = (name: string) => path.join(FIXTURES, name);

function image(width: number, height: number, fill: (i: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = fill(i) & 255;
  return { width, height, data };
}

describe('psnr / mse', () => {
  it('computes mse over all values and psnr with data range 255', () => {
    const a = new Uint8Array([0, 10, 20, 30]);
    const b = new Uint8Array([2, 10, 18, 30]);
    expect(mse(a, b)).toBe(2);
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10((255 * 255) / 2), 12);
  });

  it('is Infinity for identical buffers', () => {
    const a = image(5, 4, (i) => i * 7).data;
    expect(psnr(a, a.slice())).toBe(Infinity);
  });

  it('rejects buffers of different lengths', () => {
    expect(() => psnr(new Uint8Array(6), new Uint8Array(9))).toThrow('pixel buffers differ in length: 6 vs 9');
  });
});

describe('ssim', () => {
  it('is 1 for identical images', () => {
    const a = image(40, 30, (i) => (i * 7919) % 251);
    expect(ssim(a.data, a.data.slice(), a.width, a.height)).toBeCloseTo(1, 12);
  });

  it('rejects images smaller than the 11x11 window and mismatched buffers', () => {
    const a = image(10, 20, () => 0);
    expect(() => ssim(a.data, a.data, 10, 20)).toThrow(/at least 11x11/);
    expect(() => ssim(a.data, a.data, 11, 20)).toThrow(/do not match 11x20x3/);
  });

  it('handles a 768x512 image quickly', () => {
    const a = image(768, 512, (i) => (i * 7919) % 251);
    const b = image(768, 512, (i) => Math.min(255, ((i * 7919) % 251) + (i % 13)));
    const t0 = performance.now();
    const s = ssim(a.data, b.data, 768, 512);
    const ms = performance.now() - t0;
    expect(s).toBeGreaterThan(0.9);
    expect(s).toBeLessThan(1);
    expect(ms).toBeLessThan(2000); // ~0.1-0.2 s; generous for a loaded machine
  });
});

describe('compareImages against scikit-image fixtures', () => {
  for (const [name, pair] of Object.entries(expected.pairs)) {
    it(`${name} (${pair.width}x${pair.height})`, async () => {
      const ref = await readRgb(fixture(pair.reference));
      const cand = await readRgb(fixture(pair.candidate));
      const res = await compareImages(ref, cand);
      expect(res.width).toBe(pair.width);
      expect(res.height).toBe(pair.height);
      expect(Math.abs(res.psnr - pair.psnr)).toBeLessThan(0.01);
      expect(Math.abs(res.ssim - pair.ssim)).toBeLessThan(0.001);
      expect(res.mismatchedPixels).toBeGreaterThan(0);
      expect(res.mismatchedShare).toBeCloseTo(res.mismatchedPixels / (pair.width * pair.height), 12);
    });
  }

  it('gives Infinity, 1 and no mismatched pixels for identical images', async () => {
    const ref = await readRgb(fixture('texture-ref.png'));
    const res = await compareImages(ref, { ...ref, data: ref.data.slice() });
    expect(res.psnr).toBe(Infinity);
    expect(res.ssim).toBeCloseTo(1, 12);
    expect(res.mismatchedPixels).toBe(0);
    expect(res.mismatchedShare).toBe(0);
  });

  it('rejects images of different sizes with a clear message', async () => {
    await expect(compareImages(image(768, 512, () => 0), image(512, 768, () => 0))).rejects.toThrow('images differ in size: 768x512 vs 512x768');
  });

  it('writes the diff image', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-metrics-'));
    try {
      const diffPath = path.join(dir, 'sub', 'diff.png');
      const ref = await readRgb(fixture('portrait-ref.png'));
      const res = await compareImages(ref, await readRgb(fixture('portrait-cand.png')), { diffPath });
      const diff = await readRgb(diffPath);
      expect([diff.width, diff.height]).toEqual([res.width, res.height]);
      expect(fs.readdirSync(path.dirname(diffPath))).toEqual(['diff.png']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mae metrics (compiled CLI)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'metrics', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MAE_DEBUG: '' } });

  beforeAll(() => {
    // The CLI runs from dist/; fail clearly rather than test stale JavaScript.
    const built = path.join(ROOT, 'dist', 'commands', 'metrics.js');
    const sources = ['src/commands/metrics.ts', 'src/metrics/index.ts', 'src/metrics/psnr.ts', 'src/metrics/ssim.ts'].map((f) => path.join(ROOT, f));
    const stale = !fs.existsSync(built) || sources.some((f) => fs.statSync(f).mtimeMs > fs.statSync(built).mtimeMs + 1000);
    if (stale) throw new Error('dist/ is missing or older than src/: run `npx tsc -p .` first');
  });

  it('prints the metrics as JSON', () => {
    const pair = expected.pairs.gradient;
    const r = run(fixture(pair.reference), fixture(pair.candidate), '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(out).sort()).toEqual(['height', 'mismatchedPixels', 'mismatchedShare', 'psnr', 'ssim', 'width']);
    expect(out.width).toBe(pair.width);
    expect(out.height).toBe(pair.height);
    expect(Math.abs(out.psnr - pair.psnr)).toBeLessThan(0.01);
    expect(Math.abs(out.ssim - pair.ssim)).toBeLessThan(0.001);
    expect(out.mismatchedPixels).toBeGreaterThan(0);
  });

  it('prints a table without --json', () => {
    const r = run(fixture('texture-ref.png'), fixture('texture-cand.png'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PSNR \(dB\)\s+18\.78$/m);
    expect(r.stdout).toMatch(/^SSIM\s+0\.641\d$/m);
    expect(r.stdout).toMatch(/^width x height\s+37x23$/m);
  });

  const expectOneLineError = (r: ReturnType<typeof run>, message: string) => {
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([`mae: ${message}`]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it('fails with one line on a missing file', () => {
    const missing = fixture('does-not-exist.png');
    expectOneLineError(run(missing, fixture('gradient-ref.png')), `file not found: ${missing}`);
  });

  it('fails with one line on a size mismatch', () => {
    const r = run(fixture('gradient-ref.png'), fixture('texture-ref.png'), '--json');
    expectOneLineError(r, 'images differ in size: 64x48 vs 37x23');
    expect(JSON.parse(r.stdout)).toEqual({ error: 'images differ in size: 64x48 vs 37x23' });
  });
});
