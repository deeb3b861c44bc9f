/** Small synthetic images for the denoising tests (the model's scale). */
import { FloatImage } from '../../src/model/runner';
import { Rng } from '../../src/util/rng';

/** A smooth image with edges and a band of fine texture, on the model's scale. */
export function scene(W: number, H: number): FloatImage {
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

export const addNoise = (img: FloatImage, sigma: number, seed: number): FloatImage => {
  const rng = new Rng(seed);
  return { ...img, data: img.data.map((v) => v + sigma * rng.normal()) };
};

/** A pilot that keeps the structure but loses detail: a 5x5 box blur. */
export function blur(img: FloatImage): FloatImage {
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

export const mse = (a: FloatImage, b: FloatImage) => a.data.reduce((s, v, i) => s + (v - b.data[i]) ** 2, 0) / a.data.length;

