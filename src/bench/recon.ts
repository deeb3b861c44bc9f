/**
 * `mae bench recon`: remove random patches (seeded) and rebuild them with the MAE and with
 * classical hole filling from the same visible pixels; PSNR over the removed pixels, PSNR
 * and SSIM of the whole composite, seconds per image.
 */
import * as path from 'node:path';
import { addTensionCorrection, harmonicFillSolved, hintFill, tensionFillSolved } from '../image/fill';
import { listImages, readRgb, RgbImage } from '../image/io';
import { pixelKnownMask } from '../image/patchify';
import { psnr } from '../metrics/psnr';
import { ssim } from '../metrics/ssim';
import { randomMask } from '../model/masking';
import { cropImage, MaeRunner, padImage, toFloat, toRgb } from '../model/runner';
import { Rng } from '../util/rng';
import { cvInpaint, loadOpenCv } from './opencv';
import { BenchOptions } from './options';

export interface ReconRow {
  ratio: number;
  method: string;
  images: number;
  psnrRemoved: number;
  psnr: number;
  ssim: number;
  secondsPerImage: number;
}

export interface ReconOptions extends BenchOptions {
  ratios: number[];
  seed?: number;
  stride?: number;
}

/** PSNR (data range 255) over the pixels flagged in `where`. */
export function maskedPsnr(a: Uint8Array, b: Uint8Array, where: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < where.length; i++) {
    if (!where[i]) continue;
    for (let c = 0; c < 3; c++) {
      const d = a[i * 3 + c] - b[i * 3 + c];
      s += d * d;
    }
    n += 3;
  }
  return n ? 10 * Math.log10((255 * 255) / Math.max(s / n, 1e-10)) : Infinity;
}

/** Keeps the known pixels of `orig` and takes the rest from `filled`. */
export function composite(orig: RgbImage, filled: RgbImage, holes: Uint8Array): RgbImage {
  const d = new Uint8Array(orig.data);
  for (let i = 0; i < holes.length; i++) if (holes[i]) for (let c = 0; c < 3; c++) d[i * 3 + c] = filled.data[i * 3 + c];
  return { width: orig.width, height: orig.height, data: d };
}

type Method = (img: RgbImage, holes: Uint8Array, removed: Uint8Array) => RgbImage;

/** A classical fill of float pixels from the known ones (src/image/fill.ts). */
export type Fill = (img: Float32Array, width: number, height: number, channels: number, known: Uint8Array) => Float32Array;

/** Fills the `holes` (1 = unknown) of `img` with `fill` from the other pixels. */
export function fillHoles(img: RgbImage, holes: Uint8Array, fill: Fill): RgbImage {
  const f = toFloat(img);
  const known = holes.map((h) => (h ? 0 : 1));
  return toRgb({ ...f, data: fill(f.data, img.width, img.height, 3, known) });
}

export async function benchRecon(o: ReconOptions): Promise<ReconRow[]> {
  const files = listImages(o.data).slice(0, o.limit ?? Infinity);
  if (files.length === 0) throw new Error(`no images in ${o.data}`);
  const runner = await MaeRunner.load(o.model, o.backend, { threads: o.threads });
  const p = runner.config.patchSize;
  const cv = await loadOpenCv();
  const mae = (img: RgbImage, removed: Uint8Array) => {
    const f = padImage(toFloat(img), p, runner.config.windowSize);
    const fullRemoved = padRemoved(removed, img, f.width, f.height, p);
    return cropImage(runner.run(f, fullRemoved, { stride: o.stride }), img.width, img.height);
  };
  const methods: [string, Method][] = [
    ['mae', (img, _holes, removed) => toRgb(mae(img, removed))],
    [
      // The model's output plus the tension spline's correction of the hint it was given (as `mae inpaint --tension 1`).
      'mae + spline correction',
      (img, holes, removed) => {
        const out = mae(img, removed);
        const f = toFloat(img);
        const known = holes.map((h) => (h ? 0 : 1));
        const base = hintFill(runner.config.hint, f.data, img.width, img.height, 3, known);
        addTensionCorrection(out.data, f.data, img.width, img.height, 3, known, base, runner.config.hint, 1);
        return toRgb(out);
      },
    ],
    ['interp (harmonic)', (img, holes) => fillHoles(img, holes, harmonicFillSolved)],
    ['interp (tension spline)', (img, holes) => fillHoles(img, holes, tensionFillSolved)],
  ];
  if (cv) {
    methods.push(['opencv telea', (img, holes) => cvInpaint(cv, img, holes, 'telea')]);
    methods.push(['opencv navier-stokes', (img, holes) => cvInpaint(cv, img, holes, 'ns')]);
  } else {
    o.onProgress?.('OpenCV (@techstark/opencv-js) is not installed: Telea and Navier-Stokes are skipped');
  }
  const rows: ReconRow[] = [];
  for (const ratio of o.ratios) {
    const acc = methods.map(([name]) => ({ name, pr: [] as number[], p: [] as number[], s: [] as number[], t: 0 }));
    for (let fi = 0; fi < files.length; fi++) {
      const img = await readRgb(files[fi]);
      const cols = Math.ceil(img.width / p);
      const rowsN = Math.ceil(img.height / p);
      const rng = new Rng((o.seed ?? 0) * 1000003 + fi);
      const m = randomMask(rowsN * cols, ratio, rng);
      const holes = patchHoles(m.removed, rowsN, cols, p, img.width, img.height);
      // The methods never see the removed pixels.
      const blanked = composite(img, { ...img, data: new Uint8Array(img.data.length) }, holes);
      for (let k = 0; k < methods.length; k++) {
        const t = process.hrtime.bigint();
        const out = composite(img, methods[k][1](blanked, holes, m.removed), holes);
        acc[k].t += Number(process.hrtime.bigint() - t) / 1e9;
        acc[k].pr.push(maskedPsnr(out.data, img.data, holes));
        acc[k].p.push(psnr(out.data, img.data));
        acc[k].s.push(ssim(out.data, img.data, img.width, img.height));
      }
      o.onProgress?.(`ratio ${ratio}: ${fi + 1}/${files.length} ${path.basename(files[fi])}`);
    }
    const avg = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    for (const a of acc) rows.push({ ratio, method: a.name, images: files.length, psnrRemoved: avg(a.pr), psnr: avg(a.p), ssim: avg(a.s), secondsPerImage: a.t / files.length });
  }
  return rows;
}

function padRemoved(removed: Uint8Array, img: RgbImage, W: number, H: number, p: number): Uint8Array {
  const cols = Math.ceil(img.width / p);
  const rows = Math.ceil(img.height / p);
  const C = W / p;
  const R = H / p;
  const out = new Uint8Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[r * C + c] = r < rows && c < cols ? removed[r * cols + c] : 0;
  return out;
}

/** Pixel holes (1 = removed) of the image from the removed flags of its patch grid. */
export function patchHoles(removed: Uint8Array, rows: number, cols: number, p: number, width: number, height: number): Uint8Array {
  const known = pixelKnownMask(removed, rows, cols, p);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = known[y * cols * p + x] ? 0 : 1;
  return out;
}
