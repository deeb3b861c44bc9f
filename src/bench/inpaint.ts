/**
 * `mae bench inpaint`: for each image and each mask kind (seeded), fill the holes with the
 * MAE, OpenCV Telea and Navier-Stokes (when @techstark/opencv-js is installed), the tension spline and harmonic
 * interpolation; PSNR over the hole pixels, SSIM of the whole result, seconds per image.
 * Every method gets the image with the hole pixels blanked.
 */
import * as path from 'node:path';
import { harmonicFillSolved, tensionFillSolved } from '../image/fill';
import { listImages, readRgb, RgbImage } from '../image/io';
import { inpaint, InpaintOptions } from '../inpaint';
import { coverage, makeMask, MASK_KINDS, MaskKind } from '../inpaint/masks';
import { ssim } from '../metrics/ssim';
import { MaeRunner, toFloat, toRgb } from '../model/runner';
import { cvInpaint, loadOpenCv } from './opencv';
import { composite, fillHoles, maskedPsnr } from './recon';
import { BenchOptions } from './options';

export interface InpaintRow {
  mask: MaskKind;
  method: string;
  images: number;
  /** Mean share of the image under the mask. */
  coverage: number;
  /** Mean over images of the PSNR (dB) over the hole pixels. */
  psnrMasked: number;
  ssim: number;
  secondsPerImage: number;
}

export interface InpaintBenchOptions extends BenchOptions {
  seed?: number;
  masks?: MaskKind[];
  /** Passed to inpaint() for the MAE. */
  inpaint?: InpaintOptions;
  /** Notes such as a skipped method. */
  onNote?: (msg: string) => void;
}

type Method = (blanked: RgbImage, holes: Uint8Array) => RgbImage;

/** The mask seed of image `index` and mask kind `kind` under the benchmark seed. */
export function maskSeed(seed: number, index: number, kind: MaskKind): number {
  return (Math.imul(seed + 1, 1000003) + index * 7919 + MASK_KINDS.indexOf(kind) * 104729) >>> 0;
}

/** Harmonic interpolation of the holes from the other pixels (solved to convergence). */
export function harmonicInpaint(img: RgbImage, holes: Uint8Array): RgbImage {
  return fillHoles(img, holes, harmonicFillSolved);
}

/** The tension-spline fill of the holes (tensionFillSolved's defaults: tension 1 within 8 pixels of the border). */
export function tensionInpaint(img: RgbImage, holes: Uint8Array): RgbImage {
  return fillHoles(img, holes, tensionFillSolved);
}

export async function benchInpaint(o: InpaintBenchOptions): Promise<InpaintRow[]> {
  const files = listImages(o.data).slice(0, o.limit ?? Infinity);
  if (files.length === 0) throw new Error(`no images in ${o.data}`);
  const kinds = o.masks ?? [...MASK_KINDS];
  const runner = await MaeRunner.load(o.model, o.backend, { threads: o.threads });
  const cv = await loadOpenCv();
  const methods: [string, Method][] = [
    ['mae', (img, holes) => inpaint(runner, img, holes, o.inpaint)],
    ['interp (harmonic)', harmonicInpaint],
    ['interp (tension spline)', tensionInpaint],
  ];
  if (cv) {
    methods.push(['opencv telea', (img, holes) => cvInpaint(cv, img, holes, 'telea')]);
    methods.push(['opencv navier-stokes', (img, holes) => cvInpaint(cv, img, holes, 'ns')]);
  } else {
    o.onNote?.('OpenCV (@techstark/opencv-js) is not installed: Telea and Navier-Stokes are skipped');
  }
  const acc = kinds.map(() => methods.map(() => ({ pm: 0, s: 0, t: 0, cov: 0 })));
  for (let fi = 0; fi < files.length; fi++) {
    const img = await readRgb(files[fi]);
    for (let k = 0; k < kinds.length; k++) {
      const holes = makeMask(kinds[k], img.width, img.height, maskSeed(o.seed ?? 0, fi, kinds[k]));
      const blanked = composite(img, { ...img, data: new Uint8Array(img.data.length) }, holes);
      const cov = coverage(holes);
      for (let m = 0; m < methods.length; m++) {
        o.onProgress?.(`${fi + 1}/${files.length} ${path.basename(files[fi])}: ${kinds[k]}, ${methods[m][0]}`);
        const t = process.hrtime.bigint();
        const out = composite(img, methods[m][1](blanked, holes), holes);
        const a = acc[k][m];
        a.t += Number(process.hrtime.bigint() - t) / 1e9;
        a.pm += maskedPsnr(out.data, img.data, holes);
        a.s += ssim(out.data, img.data, img.width, img.height);
        a.cov += cov;
      }
    }
  }
  const n = files.length;
  return kinds.flatMap((mask, k) =>
    methods.map(([method], m) => {
      const a = acc[k][m];
      return { mask, method, images: n, coverage: a.cov / n, psnrMasked: a.pm / n, ssim: a.s / n, secondsPerImage: a.t / n };
    }),
  );
}
