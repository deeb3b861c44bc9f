import * as tf from '@tensorflow/tfjs-core';
import { denoise } from '../src/api';
import { blockOrigins, wienerRefine } from '../src/denoise/wiener';
import { initBackend } from '../src/runtime/backend';
import { addNoise, blur, mse, scene } from './helpers/images';

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

  it('gives with its WebAssembly kernels what the tfjs matMuls give', () => {
    const clean = scene(90, 75);
    const noisy = addNoise(clean, 0.08, 3);
    const pilot = blur(noisy);
    for (const [stride, iterations] of [[3, 2], [2, 1], [1, 1]]) {
      const wasm = wienerRefine(noisy, pilot, 0.08, { stride, iterations });
      const js = wienerRefine(noisy, pilot, 0.08, { stride, iterations, js: true });
      let worst = 0;
      for (let i = 0; i < js.data.length; i++) worst = Math.max(worst, Math.abs(wasm.data[i] - js.data[i]));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('checks its options and leaves no tensors behind', () => {
    const img = scene(16, 16);
    expect(() => wienerRefine(img, img, 0.1, { stride: 0 })).toThrow(/stride/);
    expect(() => wienerRefine(img, img, 0.1, { iterations: -1 })).toThrow(/iterations/);
    expect(() => wienerRefine(img, { ...img, width: 8 }, 0.1)).toThrow(/size/);
    const before = tf.memory().numTensors;
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 3 });
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 1, stripPixels: 16 * 8 });
    wienerRefine(addNoise(img, 0.1, 4), img, 0.1, { iterations: 2, js: true });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is an option of the library denoise call, with its values checked', async () => {
    const img = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(120) };
    await expect(denoise(img, { wiener: 9 })).rejects.toThrow(/wiener passes must be an integer from 0 to 8/);
    await expect(denoise(img, { wienerStride: 0 })).rejects.toThrow(/wiener stride must be an integer from 1 to 8/);
    const r = await denoise(img, { sigma: 10, wiener: 1, wienerStride: 2 });
    expect([r.width, r.height, r.data.length]).toEqual([16, 16, 768]);
    // Progress: the windows, then the two Wiener passes (0.05 of their count each) and the
    // collaborative stage (0.3 of their count), ending at the total.
    const calls: [number, number][] = [];
    const big = { width: 150, height: 70, data: Uint8Array.from({ length: 150 * 70 * 3 }, (_, i) => (i * 37) % 256) };
    await denoise(big, { sigma: 20, onProgress: (d, t) => calls.push([d, t]) });
    const total = calls[0][1];
    expect(calls.every(([, t]) => t === total)).toBe(true);
    expect(calls.every(([d], i) => i === 0 || d >= calls[i - 1][0])).toBe(true);
    expect(calls[calls.length - 1][0]).toBe(total);
    const windows = Math.ceil(150 / 64) * Math.ceil(70 / 64);
    expect(total).toBe(windows + Math.ceil(windows * (2 * 0.05 + 0.3)));
    expect(calls.some(([d]) => d > windows && d < total)).toBe(true);
  });
});
