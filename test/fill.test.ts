import { harmonicFill, harmonicFillSolved, hintFill } from '../src/image/fill';
import { Rng } from '../src/util/rng';

/** A smooth-plus-texture test image (W*H*3 floats in 0..1) and a mask of random 8x8 holes. */
function scene(W: number, H: number, ratio: number, seed: number): { img: Float32Array; known: Uint8Array } {
  const rng = new Rng(seed);
  const img = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = 0.5 + 0.3 * Math.sin((x * (c + 1)) / 9 + y / 7) + 0.05 * rng.normal();
  const known = new Uint8Array(W * H).fill(1);
  for (let py = 0; py < H / 8; py++)
    for (let px = 0; px < W / 8; px++) if (rng.next() < ratio) for (let y = py * 8; y < Math.min(H, py * 8 + 8); y++) known.fill(0, y * W + px * 8, y * W + Math.min(W, px * 8 + 8));
  return { img, known };
}

/** Largest |value - mean of its in-image neighbours| over the unknown pixels (0 for an exact harmonic fill). */
function laplaceResidual(out: Float32Array, W: number, H: number, known: Uint8Array): number {
  let worst = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (known[i]) continue;
      const nb = [x > 0 ? i - 1 : -1, x < W - 1 ? i + 1 : -1, y > 0 ? i - W : -1, y < H - 1 ? i + W : -1].filter((j) => j >= 0);
      for (let c = 0; c < 3; c++) {
        const mean = nb.reduce((s, j) => s + out[j * 3 + c], 0) / nb.length;
        worst = Math.max(worst, Math.abs(out[i * 3 + c] - mean));
      }
    }
  return worst;
}

describe('harmonicFillSolved', () => {
  it('converges to the harmonic fill that thousands of Gauss-Seidel sweeps approach', () => {
    const W = 72;
    const H = 56;
    const { img, known } = scene(W, H, 0.75, 3);
    const solved = harmonicFillSolved(img, W, H, 3, known);
    const reference = harmonicFill(img, W, H, 3, known, { iterations: 6000 });
    // Run to a tight tolerance, the solver reaches the same fill.
    const tight = harmonicFillSolved(img, W, H, 3, known, { tolerance: 1e-9, maxIterations: 2000 });
    const diff = (a: Float32Array) => {
      let max = 0;
      let se = 0;
      for (let i = 0; i < img.length; i++) (max = Math.max(max, Math.abs(a[i] - reference[i]))), (se += (a[i] - reference[i]) ** 2);
      return { max: max * 255, rms: Math.sqrt(se / img.length) * 255 };
    };
    expect(diff(tight).max).toBeLessThan(0.02);
    expect(laplaceResidual(tight, W, H, known)).toBeLessThan(1e-6);
    // The defaults stop at 60 iterations at the finest level: within a few levels of 255 at worst, under half a level on average.
    expect(diff(solved).max).toBeLessThan(3);
    expect(diff(solved).rms).toBeLessThan(0.5);
    // The default (30 sweeps) is far from it on holes this size.
    expect(laplaceResidual(harmonicFill(img, W, H, 3, known), W, H, known)).toBeGreaterThan(1e-3);
  });

  it('converges on a large hole through the coarse levels', () => {
    const W = 200;
    const H = 150;
    const { img } = scene(W, H, 0, 5);
    const known = new Uint8Array(W * H).fill(1);
    for (let y = 20; y < 130; y++) known.fill(0, y * W + 30, y * W + 170);
    const solved = harmonicFillSolved(img, W, H, 3, known);
    expect(laplaceResidual(solved, W, H, known)).toBeLessThan(2e-4);
    const exact = harmonicFillSolved(img, W, H, 3, known, { tolerance: 1e-9, maxIterations: 2000 });
    let maxDiff = 0;
    for (let i = 0; i < img.length; i++) maxDiff = Math.max(maxDiff, Math.abs(solved[i] - exact[i]));
    expect(maxDiff).toBeLessThan(2 / 255);
    // 30 relaxation sweeps leave most of this hole at its push-pull start.
    let relaxedDiff = 0;
    const relaxed = harmonicFill(img, W, H, 3, known);
    for (let i = 0; i < img.length; i++) relaxedDiff = Math.max(relaxedDiff, Math.abs(relaxed[i] - exact[i]));
    expect(relaxedDiff).toBeGreaterThan(10 * maxDiff);
  });

  it('copies the known pixels and never reads the unknown ones', () => {
    const W = 48;
    const H = 40;
    const { img, known } = scene(W, H, 0.6, 7);
    const a = harmonicFillSolved(img, W, H, 3, known);
    const garbage = new Float32Array(img);
    for (let i = 0; i < W * H; i++) if (!known[i]) for (let c = 0; c < 3; c++) garbage[i * 3 + c] = c ? NaN : 1e6;
    const b = harmonicFillSolved(garbage, W, H, 3, known);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    for (let i = 0; i < W * H; i++) if (known[i]) for (let c = 0; c < 3; c++) expect(a[i * 3 + c]).toBe(img[i * 3 + c]);
  });

  it('returns a copy with nothing to fill, zeros with nothing known, and checks sizes', () => {
    const { img } = scene(16, 16, 0, 1);
    expect(Array.from(harmonicFillSolved(img, 16, 16, 3, new Uint8Array(256).fill(1)))).toEqual(Array.from(img));
    expect(Array.from(harmonicFillSolved(img, 16, 16, 3, new Uint8Array(256))).every((v) => v === 0)).toBe(true);
    expect(() => harmonicFillSolved(img, 16, 15, 3, new Uint8Array(240))).toThrow(/expected 720/);
    expect(() => harmonicFillSolved(img, 16, 16, 3, new Uint8Array(10))).toThrow(/mask has 10 values, expected 256/);
  });

  it('hintFill picks the fill a model was trained with', () => {
    const { img, known } = scene(40, 40, 0.75, 2);
    expect(Array.from(hintFill('solved', img, 40, 40, 3, known))).toEqual(Array.from(harmonicFillSolved(img, 40, 40, 3, known)));
    expect(Array.from(hintFill('relaxed', img, 40, 40, 3, known))).toEqual(Array.from(harmonicFill(img, 40, 40, 3, known)));
    expect(Array.from(hintFill('relaxed', img, 40, 40, 3, known, true))).toEqual(Array.from(harmonicFill(img, 40, 40, 3, known, { iterations: 20 })));
  });
});
