import * as tf from '@tensorflow/tfjs-core';
import { denoise } from '../src/api';
import { blockOrigins, wienerRefine } from '../src/denoise/wiener';
import { FloatImage } from '../src/model/runner';
import { initBackend } from '../src/runtime/backend';
import { Rng } from '../src/util/rng';

/** A smooth image with edges and a band of fine texture, on the model's scale. */
function scene(W: number, H: number): FloatImage {
  const data = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        let v = 0.2 * Math.sin(x / (9 + 3 * c)) * Math.cos(y / 13) + (x > W / 2 ? 0.15 : -0.1);
        if (y > H / 2) v += 0.08 * Math.sin(x * 1.3 + c);
        data[(y * W + x) * 3 + c] = v;
      }
  return { width: W, height: H, data };
}

const addNoise = (img: FloatImage, sigma: number, seed: number): FloatImage => {
  const rng = new Rng(seed);
  return { ...img, data: img.data.map((v) => v + sigma * rng.normal()) };
};

/** A pilot that keeps the structure but loses detail: a 5x5 box blur. */
function blur(img: FloatImage): FloatImage {
  const { width: W, height: H } = img;
  const out = new Float32Array(img.data.length);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        let n = 0;
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < H && xx >= 0 && xx < W) {
              s += img.data[(yy * W + xx) * 3 + c];
              n++;
            }
          }
        out[(y * W + x) * 3 + c] = s / n;
      }
  return { width: W, height: H, data: out };
}

const mse = (a: FloatImage, b: FloatImage) => a.data.reduce((s, v, i) => s + (v - b.data[i]) ** 2, 0) / a.data.length;

describe('Wiener refinement guided by a pilot', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('places blocks every stride pixels with the last one flush with the edge', () => {
    expect(blockOrigins(20, 3)).toEqual([0, 3, 6, 9, 12]);
    expect(blockOrigins(8, 3)).toEqual([0]);
    expect(blockOrigins(17, 4)).toEqual([0, 4, 8, 9]);
  });

  it('beats both the noisy image and its pilot, and a second pass gains more', () => {
    const clean = scene(70, 45);
    const sigma = 20 / 255;
    const noisy = addNoise(clean, sigma, 1);
    const pilot = blur(noisy);
    const one = wienerRefine(noisy, pilot, sigma, { iterations: 1 });
    const two = wienerRefine(noisy, pilot, sigma, { iterations: 2 });
    const m = { noisy: mse(noisy, clean), pilot: mse(pilot, clean), one: mse(one, clean), two: mse(two, clean) };
    expect(m.one).toBeLessThan(0.7 * m.noisy);
    expect(m.one).toBeLessThan(m.pilot);
    expect(m.two).toBeLessThan(m.one);
  });

  it('returns the noisy image at sigma 0 (every gain is 1), and the pilot with no pass or a tiny image', () => {
    const clean = scene(24, 17);
    const noisy = addNoise(clean, 0.05, 2);
    const pilot = blur(noisy);
    const same = wienerRefine(noisy, pilot, 1e-9, { iterations: 1, stride: 2 });
    for (let i = 0; i < same.data.length; i++) expect(Math.abs(same.data[i] - noisy.data[i])).toBeLessThan(1e-4);
    expect(wienerRefine(noisy, pilot, 0.05, { iterations: 0 })).toBe(pilot);
    expect(wienerRefine(noisy, pilot, 0, {})).toBe(pilot);
    const tiny = { width: 7, height: 30, data: new Float32Array(7 * 30 * 3) };
    expect(wienerRefine(tiny, tiny, 0.1)).toBe(tiny);
  });

  it('gives the same image strip by strip as in one piece (large images run in strips of rows)', () => {
    const clean = scene(90, 75);
    const noisy = addNoise(clean, 0.08, 3);
    const pilot = blur(noisy);
    for (const [stride, iterations] of [[3, 2], [2, 3], [1, 1]]) {
      const whole = wienerRefine(noisy, pilot, 0.08, { stride, iterations, stripPixels: Infinity });
      // Strips of 8 and 11 rows: many strips, margins clipped at both image edges.
      for (const rows of [8, 11]) {
        const strips = wienerRefine(noisy, pilot, 0.08, { stride, iterations, stripPixels: rows * 90 });
        let worst = 0;
        for (let i = 0; i < whole.data.length; i++) worst = Math.max(worst, Math.abs(strips.data[i] - whole.data[i]));
        expect(worst).toBeLessThan(1e-5);
      }
      expect(mse(whole, clean)).toBeLessThan(mse(noisy, clean));
    }
  });

  it('adds a collaborative pass that gains over the plain passes, strip by strip as in one piece', () => {
    // Repeated structure (stripes and a checker) for the block matching to find.
    const W = 96;
    const H = 80;
    const data = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = 0.2 * Math.sign(Math.sin(x / 2.5 + c)) * (y < H / 2 ? 1 : 0) + (y >= H / 2 ? 0.15 * (((x >> 2) + (y >> 2)) % 2) : 0);
    const clean = { width: W, height: H, data };
    const noisy = addNoise(clean, 0.1, 5);
    const pilot = blur(noisy);
    const plain = wienerRefine(noisy, pilot, 0.1, { stripPixels: Infinity });
    const whole = wienerRefine(noisy, pilot, 0.1, { match: true, stripPixels: Infinity });
    expect(mse(whole, clean)).toBeLessThan(mse(plain, clean));
    const strips = wienerRefine(noisy, pilot, 0.1, { match: true, stripPixels: 9 * W });
    let worst = 0;
    for (let i = 0; i < whole.data.length; i++) worst = Math.max(worst, Math.abs(strips.data[i] - whole.data[i]));
    expect(worst).toBeLessThan(1e-5);
    const calls: number[][] = [];
    wienerRefine(noisy, pilot, 0.1, { match: true, iterations: 1, onProgress: (d, t) => calls.push([d, t]) });
    expect(calls[calls.length - 1][0]).toBe(calls[0][1]);
  });

  it('checks its options and leaves no tensors behind', () => {
    const img = scene(16, 16);
    expect(() => wienerRefine(img, img, 0.1, { stride: 0 })).toThrow(/stride/);
    expect(() => wienerRefine(img, img, 0.1, { iterations: -1 })).toThrow(/iterations/);
    expect(() => wienerRefine(img, { ...img, width: 8 }, 0.1)).toThrow(/size/);
    const before = tf.memory().numTensors;
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 3 });
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 2, match: true });
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 1, match: true, stripPixels: 16 * 8 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is an option of the library denoise call, with its values checked', async () => {
    const img = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(120) };
    await expect(denoise(img, { wiener: 9 })).rejects.toThrow(/wiener passes must be an integer from 0 to 8/);
    await expect(denoise(img, { wienerStride: 0 })).rejects.toThrow(/wiener stride must be an integer from 1 to 8/);
    const r = await denoise(img, { sigma: 10, wiener: 1, wienerStride: 2 });
    expect([r.width, r.height, r.data.length]).toEqual([16, 16, 768]);
    // Progress: the windows, then the Wiener stage (a quarter of their count), ending at the total.
    const calls: [number, number][] = [];
    const big = { width: 150, height: 70, data: Uint8Array.from({ length: 150 * 70 * 3 }, (_, i) => (i * 37) % 256) };
    await denoise(big, { sigma: 20, onProgress: (d, t) => calls.push([d, t]) });
    const total = calls[0][1];
    expect(calls.every(([, t]) => t === total)).toBe(true);
    expect(calls.every(([d], i) => i === 0 || d >= calls[i - 1][0])).toBe(true);
    expect(calls[calls.length - 1][0]).toBe(total);
    const windows = Math.ceil(150 / 64) * Math.ceil(70 / 64);
    expect(total).toBe(windows + Math.ceil(windows / 4));
    expect(calls.some(([d]) => d > windows && d < total)).toBe(true);
  });
});
