import { harmonicFill, harmonicFillSolved, hintFill, tensionFillSolved } from '../src/image/fill';
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

/** Checks that `fill` copies the known pixels and gives the same result whatever the unknown ones hold (never read). */
function expectKnownOnly(fill: (img: Float32Array, W: number, H: number, C: number, known: Uint8Array) => Float32Array, seed: number) {
  const W = 48;
  const H = 40;
  const { img, known } = scene(W, H, 0.6, seed);
  const a = fill(img, W, H, 3, known);
  const garbage = new Float32Array(img);
  for (let i = 0; i < W * H; i++) if (!known[i]) for (let c = 0; c < 3; c++) garbage[i * 3 + c] = c ? NaN : 1e6;
  expect(Buffer.from(fill(garbage, W, H, 3, known).buffer).equals(Buffer.from(a.buffer))).toBe(true);
  for (let i = 0; i < W * H; i++) if (known[i]) for (let c = 0; c < 3; c++) expect(a[i * 3 + c]).toBe(img[i * 3 + c]);
  return { img, known, W, H };
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
    expectKnownOnly(harmonicFillSolved, 7);
  });

  it('returns a copy with nothing to fill, zeros with nothing known, and checks sizes', () => {
    const { img } = scene(16, 16, 0, 1);
    expect(Array.from(harmonicFillSolved(img, 16, 16, 3, new Uint8Array(256).fill(1)))).toEqual(Array.from(img));
    expect(Array.from(harmonicFillSolved(img, 16, 16, 3, new Uint8Array(256))).every((v) => v === 0)).toBe(true);
    expect(() => harmonicFillSolved(img, 16, 15, 3, new Uint8Array(240))).toThrow(/expected 720/);
    expect(() => harmonicFillSolved(img, 16, 16, 3, new Uint8Array(10))).toThrow(/mask has 10 values, expected 256/);
  });

  it('solves each channel alike: one channel alone is that channel of three equal ones (the 3-channel fast path and the general loops agree)', () => {
    const W = 40;
    const H = 36;
    const { img, known } = scene(W, H, 0.6, 11);
    const grey = Float32Array.from({ length: W * H }, (_, i) => img[i * 3]);
    const three = Float32Array.from({ length: W * H * 3 }, (_, m) => grey[Math.floor(m / 3)]);
    for (const fill of [harmonicFillSolved, tensionFillSolved]) {
      const one = fill(grey, W, H, 1, known);
      const all = fill(three, W, H, 3, known);
      expect(Array.from(one)).toEqual(Array.from({ length: W * H }, (_, i) => all[i * 3]));
    }
  });

  it('hintFill picks the fill a model was trained with', () => {
    const { img, known } = scene(40, 40, 0.75, 2);
    expect(Array.from(hintFill('solved', img, 40, 40, 3, known))).toEqual(Array.from(harmonicFillSolved(img, 40, 40, 3, known)));
    expect(Array.from(hintFill('relaxed', img, 40, 40, 3, known))).toEqual(Array.from(harmonicFill(img, 40, 40, 3, known)));
    expect(Array.from(hintFill('relaxed', img, 40, 40, 3, known, true))).toEqual(Array.from(harmonicFill(img, 40, 40, 3, known, { iterations: 20 })));
  });
});

/** tension x L u + L(L u) at pixel i (L the 4-neighbour Laplacian with reflecting borders, over the whole image), channel c. */
function tensionResidual(u: Float32Array, W: number, H: number, tension: number, i: number, c: number): number {
  const nbs = (j: number) => {
    const x = j % W;
    const y = (j - x) / W;
    return [x > 0 ? j - 1 : -1, x < W - 1 ? j + 1 : -1, y > 0 ? j - W : -1, y < H - 1 ? j + W : -1].filter((k) => k >= 0);
  };
  const lap = (j: number) => nbs(j).reduce((s, k) => s - u[k * 3 + c], nbs(j).length * u[j * 3 + c]);
  const l = lap(i);
  return tension * l + nbs(i).reduce((s, k) => s - lap(k), nbs(i).length * l);
}

describe('tensionFillSolved', () => {
  it('solves its equation on the unknown pixels within the band, and keeps the harmonic fill deeper in', () => {
    const W = 60;
    const H = 44;
    const { img, known } = scene(W, H, 0, 4);
    for (let y = 6; y < 38; y++) known.fill(0, y * W + 8, y * W + 50);
    for (let y = 30; y < 44; y++) known.fill(0, y * W + 52, y * W + 60);
    const tight = { tolerance: 1e-10, maxIterations: 3000 };
    const u = tensionFillSolved(img, W, H, 3, known, { tension: 1, band: 6, ...tight });
    const harmonic = harmonicFillSolved(img, W, H, 3, known, tight);
    let worst = 0;
    let inner = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (known[i]) continue;
        // Chessboard distance to the nearest known pixel.
        let d = 1;
        while (d < 40) {
          let hit = false;
          for (let yy = Math.max(0, y - d); yy <= Math.min(H - 1, y + d) && !hit; yy++) for (let xx = Math.max(0, x - d); xx <= Math.min(W - 1, x + d); xx++) if (known[yy * W + xx]) hit = true;
          if (hit) break;
          d++;
        }
        if (d > 6) {
          inner++;
          for (let c = 0; c < 3; c++) expect(u[i * 3 + c]).toBe(harmonic[i * 3 + c]);
        } else for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(tensionResidual(u, W, H, 1, i, c)));
      }
    expect(inner).toBeGreaterThan(100);
    expect(worst).toBeLessThan(1e-5);
  });

  it('fills smooth shading closer than the harmonic fill, which kinks at the border (closer still with less tension)', () => {
    const W = 64;
    const H = 64;
    const img = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = 0.5 + 0.4 * Math.sin(x / 11 + c) * Math.cos(y / 13);
    const known = new Uint8Array(W * H).fill(1);
    for (const [x0, y0] of [[8, 8], [36, 12], [20, 40], [44, 44]]) for (let y = y0; y < y0 + 16; y++) known.fill(0, y * W + x0, y * W + x0 + 16);
    const rms = (a: Float32Array) => {
      let se = 0;
      let n = 0;
      for (let i = 0; i < W * H; i++) if (!known[i]) for (let c = 0; c < 3; c++) (se += (a[i * 3 + c] - img[i * 3 + c]) ** 2), n++;
      return Math.sqrt(se / n);
    };
    const harmonic = rms(harmonicFillSolved(img, W, H, 3, known));
    // The default tension is mostly membrane at the scale of these holes; a small one is mostly plate.
    expect(rms(tensionFillSolved(img, W, H, 3, known))).toBeLessThan(0.9 * harmonic);
    expect(rms(tensionFillSolved(img, W, H, 3, known, { tension: 0.01, maxIterations: 2000 }))).toBeLessThan(0.3 * harmonic);
  });

  it('copies the known pixels, never reads the unknown ones, and checks its options', () => {
    const { img, known, W, H } = expectKnownOnly(tensionFillSolved, 9);
    expect(Array.from(tensionFillSolved(img, W, H, 3, new Uint8Array(W * H).fill(1)))).toEqual(Array.from(img));
    expect(() => tensionFillSolved(img, W, H, 3, known, { tension: 0 })).toThrow(/tension must be a positive number/);
    expect(() => tensionFillSolved(img, W, H, 3, known, { band: 0.5 })).toThrow(/band must be a positive integer/);
    // Given the harmonic fill it would start from, it gives the same result and leaves that fill as it was.
    const harmonic = harmonicFillSolved(img, W, H, 3, known);
    const before = Float32Array.from(harmonic);
    const plain = tensionFillSolved(img, W, H, 3, known);
    expect(Buffer.from(tensionFillSolved(img, W, H, 3, known, { harmonic }).buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    expect(Buffer.from(harmonic.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(() => tensionFillSolved(img, W, H, 3, known, { harmonic: new Float32Array(5) })).toThrow(/harmonic fill has 5 values/);
    expect(() => tensionFillSolved(img, W, H - 1, 3, known)).toThrow(/expected/);
  });
});
