import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initValues } from '../src/model/mae';
import { threadsFrom } from '../src/cli/base';
import { MaeRunner } from '../src/model/runner';
import { coreCount } from '../src/runtime/threads';
import { saveModel } from '../src/model/weights';
import { Rng } from '../src/util/rng';
import { TINY_CONFIG } from './helpers/tiny-model';

// Runs in the helper threads use dist/model/helper.js (built by npm ci / npm run build).
jest.setTimeout(60_000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-threads-'));
  // A tiny model whose prediction head is not zero, so the windows' outputs differ from their input.
  const values = initValues(TINY_CONFIG, 5);
  const rng = new Rng(9);
  for (const name of ['decoder_pred.weight', 'decoder_pred.bias']) values[name] = values[name].map(() => 0.05 * rng.normal());
  saveModel(dir, TINY_CONFIG, values);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function image(W: number, H: number, seed: number) {
  const rng = new Rng(seed);
  return { width: W, height: H, data: Float32Array.from({ length: W * H * 3 }, (_, i) => 0.3 * Math.sin(i / 97) + 0.05 * rng.normal()) };
}

describe('thread count', () => {
  const saved = process.env.MAE_THREADS;
  afterEach(() => (saved === undefined ? delete process.env.MAE_THREADS : (process.env.MAE_THREADS = saved)));
  it('comes from MAE_THREADS, else the number of cores, and a bad value is a usage error', () => {
    delete process.env.MAE_THREADS;
    expect(threadsFrom(undefined)).toBe(coreCount());
    expect(threadsFrom(3)).toBe(3);
    process.env.MAE_THREADS = '2';
    expect(threadsFrom(undefined)).toBe(2);
    process.env.MAE_THREADS = 'many';
    expect(() => threadsFrom(undefined)).toThrow(/MAE_THREADS must be a positive integer, got 'many'/);
  });
});

describe('runner threads', () => {
  it.each([
    ['nothing removed, stride 8', 0, 8],
    ['half the patches removed, stride 4', 0.5, 4],
  ])('gives the same image, bit for bit, on 1 and 2 threads (%s)', async (_name, share, stride) => {
    const img = image(512, 400, 3);
    const rng = new Rng(11);
    const removed = Uint8Array.from({ length: (512 / 8) * (400 / 8) }, () => (rng.next() < share ? 1 : 0));
    const one = await MaeRunner.load(dir, 'wasm');
    const two = await MaeRunner.load(dir, 'wasm', { threads: 2 });
    try {
      expect(two.threads).toBe(2);
      expect(await two.helpersReady()).toBe(1);
      const a = one.run(img, removed, { stride });
      let last = 0;
      const b = two.run(img, removed, { stride, onProgress: (d, t) => (last = d / t) });
      expect(last).toBe(1);
      expect(two.lastHelperParts).toBeGreaterThan(0);
      // Bit for bit: the outputs are blended in the same order.
      expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
      let moved = 0;
      for (let i = 0; i < a.data.length; i++) moved = Math.max(moved, Math.abs(a.data[i] - img.data[i]));
      expect(moved).toBeGreaterThan(1e-3);
    } finally {
      await two.close();
    }
  });
});

describe('the denoiser stages after the model on the runner threads', () => {
  it('cut the image into ranges of rows that the helper takes too, and give the same image as one thread', async () => {
    const { runStage, collaborativeRefine } = await import('../src/denoise/stages');
    const clean = image(160, 200, 4);
    const noisy = { ...clean, data: clean.data.map((v, i) => v + 0.08 * Math.sin(i * 12.9898) * 1.7) };
    const two = await MaeRunner.load(dir, 'wasm', { threads: 2 });
    try {
      expect(await two.helpersReady()).toBe(1);
      for (const [stage, pilot] of [['wiener', clean], ['collab', null], ['collab', clean]] as const) {
        const opts = stage === 'wiener' ? { iterations: 2, stride: 3 } : {};
        const one = runStage(undefined, stage, noisy, pilot, 0.08, opts);
        const calls: number[][] = [];
        const both = runStage(two, stage, noisy, pilot, 0.08, opts, (d, t) => calls.push([d, t]));
        // Two parts (one per thread), progress after each; the helper ran one.
        expect(calls).toEqual([[1, 2], [2, 2]]);
        expect(two.lastHelperParts).toBeGreaterThan(0);
        let worst = 0;
        for (let i = 0; i < one.data.length; i++) worst = Math.max(worst, Math.abs(one.data[i] - both.data[i]));
        expect(worst).toBeLessThan(1e-5);
      }
      const a = collaborativeRefine(noisy, clean, 0.08);
      const b = collaborativeRefine(noisy, clean, 0.08, { runner: two });
      expect(a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0)).toBeLessThan(1e-5);
    } finally {
      await two.close();
    }
  });
});
