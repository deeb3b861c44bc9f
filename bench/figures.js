#!/usr/bin/env node
/**
 * Makes the README's pictures (docs/images/*.png): 256x256 crops of a test image with
 * (1) 75% of patches removed, harmonic interpolation, the MAE (PSNRs printed); (2) noise sigma 25, the
 * MAE's estimate alone, with the Wiener passes it guides (--no-collab), and the denoiser's
 * output (plus the collaborative stage), with their PSNRs printed;
 * (3) a stroke mask, OpenCV Telea, the MAE inpainter (PSNRs printed); (4) the crop made grey
 * (rgb2gray) with grey noise sigma 25, denoised as if the noise were independent per channel
 * (greyNoise false, as before session 14) and as grey (the default).
 * Usage: node bench/figures.js IMAGE [--model DIR] [--x X --y Y] [--only rebuild,denoise,inpaint,grey]
 */
const path = require('node:path');
const sharp = require('sharp');
const { readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat, toRgb, padImage, cropImage } = require('../dist/model/runner');
const { randomMask } = require('../dist/model/masking');
const { harmonicFillSolved } = require('../dist/image/fill');
const { patchHoles, composite, fillHoles, maskedPsnr } = require('../dist/bench/recon');
const { denoise } = require('../dist/denoise');
const { rgb2gray } = require('../dist/bench/denoise');
const { inpaint } = require('../dist/inpaint');
const { strokeMask } = require('../dist/inpaint/masks');
const { loadOpenCv, cvInpaint } = require('../dist/bench/opencv');
const { Rng } = require('../dist/util/rng');
const { psnr } = require('../dist/metrics/psnr');

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const S = 256;

function crop(img, x, y) {
  const d = new Uint8Array(S * S * 3);
  for (let r = 0; r < S; r++) d.set(img.data.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + S) * 3), r * S * 3);
  return { width: S, height: S, data: d };
}

async function strip(images, file) {
  const gap = 6;
  const W = images.length * S + (images.length - 1) * gap;
  const parts = images.map((im, i) => ({ input: Buffer.from(im.data), raw: { width: S, height: S, channels: 3 }, left: i * (S + gap), top: 0 }));
  await sharp({ create: { width: W, height: S, channels: 3, background: '#ffffff' } }).composite(parts).png().toFile(file);
  console.log('wrote', file);
}

(async () => {
  const full = await readRgb(args[0]);
  const img = crop(full, Number(opt('--x', 256)), Number(opt('--y', 128)));
  const runner = await MaeRunner.load(opt('--model'));
  const out = path.resolve(__dirname, '..', 'docs', 'images');
  require('node:fs').mkdirSync(out, { recursive: true });
  const p = runner.config.patchSize;
  const only = opt('--only', 'rebuild,denoise,inpaint,grey').split(',');
  if (only.includes('grey')) {
    // (4) a grey photo, sigma 25: the same noise in R, G and B
    const grey = rgb2gray(img);
    const rg = new Rng(4);
    const gn = { ...grey, data: new Uint8Array(grey.data.length) };
    for (let i = 0; i < gn.data.length; i += 3) gn.data[i] = gn.data[i + 1] = gn.data[i + 2] = Math.max(0, Math.min(255, Math.round(grey.data[i] + 25 * rg.normal())));
    const outs = [{ greyNoise: false }, {}].map((o) => denoise(runner, gn, { sigma: 25, ...o }).image);
    console.log('grey denoise PSNR (noisy, as colour noise, as grey):', [gn, ...outs].map((x) => psnr(x.data, grey.data).toFixed(2)).join(' '));
    await strip([grey, gn, ...outs], path.join(out, 'denoise-grey.png'));
  }
  // (1) rebuild 75% removed patches
  if (only.includes('rebuild')) {
  const m = randomMask((S / p) * (S / p), 0.75, new Rng(1));
  const holes = patchHoles(m.removed, S / p, S / p, p, S, S);
  const shown = composite(img, { ...img, data: new Uint8Array(img.data.length).fill(128) }, holes);
  const f = toFloat(img);
  const interp = fillHoles(img, holes, harmonicFillSolved);
  const mae = toRgb(runner.run(f, m.removed));
  const rebuilt = [interp, mae].map((x) => composite(img, x, holes));
  console.log('rebuild PSNR over the removed pixels (harmonic, mae):', rebuilt.map((x) => maskedPsnr(x.data, img.data, holes).toFixed(2)).join(' '));
  await strip([img, shown, ...rebuilt], path.join(out, 'rebuild.png'));
  }
  // (2) denoise sigma 25
  if (only.includes('denoise')) {
  const rng = new Rng(2);
  const noisy = { ...img, data: Uint8Array.from(img.data, (v) => Math.max(0, Math.min(255, Math.round(v + 25 * rng.normal())))) };
  const steps = [{ wiener: 0, collab: false }, { collab: false }, {}].map((o) => denoise(runner, noisy, { sigma: 25, ...o }).image);
  console.log('denoise PSNR (noisy, mae alone, --no-collab, default):', [noisy, ...steps].map((x) => psnr(x.data, img.data).toFixed(2)).join(' '));
  await strip([img, noisy, ...steps], path.join(out, 'denoise.png'));
  }
  // (3) inpaint strokes
  if (only.includes('inpaint')) {
  const sh = strokeMask(S, S, new Rng(3));
  const marked = composite(img, { ...img, data: new Uint8Array(img.data.length).fill(255) }, sh);
  const cv = await loadOpenCv();
  const row = [img, marked];
  if (cv) row.push(cvInpaint(cv, marked, sh, 'telea'));
  row.push(inpaint(runner, marked, sh));
  console.log(`inpaint PSNR over the strokes (${cv ? 'telea, ' : ''}mae):`, row.slice(2).map((x) => maskedPsnr(x.data, img.data, sh).toFixed(2)).join(' '));
  await strip(row, path.join(out, 'inpaint.png'));
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
