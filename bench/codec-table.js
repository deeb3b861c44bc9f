#!/usr/bin/env node
/*
 * Measures the MAE codec's rate-distortion over a grid of (removed share, DCT quality) on
 * held-out TRAINING images (the trainer's validation split: every 20th image by name,
 * index 19 mod 20), to choose the --quality table of src/codec/quality.ts. Never run it
 * on kodak24 or cbsd68. Usage (after `npx tsc -p .`):
 *
 *   node bench/codec-table.js --model DIR [--data ../shared/datasets/train] [--images 4]
 *        [--ratios 0,0.1,0.2,0.35] [--dq 3,5,8,12,20,30,45,60,75,90,95] [--model-dq 3,5,8,12,20,30,45]
 *
 * Ratio 0 needs no model run; other ratios are decoded with the model at --model-dq only.
 * Prints one line per configuration (bpp, PSNR, SSIM) and the Pareto front.
 */
const fs = require('node:fs');
const path = require('node:path');
const { readRgb } = require('../dist/image/io');
const codec = require('../dist/codec');
const { psnr } = require('../dist/metrics/psnr');
const { ssim } = require('../dist/metrics/ssim');
const { MaeRunner } = require('../dist/model/runner');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}
const list = (s) => s.split(',').map(Number);

(async () => {
  const data = arg('data', path.join(__dirname, '..', '..', 'shared', 'datasets', 'train'));
  const names = fs.readdirSync(data).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const held = names.filter((_, i) => i % 20 === 19).slice(0, Number(arg('images', '4')));
  const runner = await MaeRunner.load(arg('model'), arg('backend'));
  const ratios = list(arg('ratios', '0,0.1,0.2,0.35'));
  const dqs = list(arg('dq', '3,5,8,12,20,30,45,60,75,90,95'));
  const modelDqs = list(arg('model-dq', '3,5,8,12,20,30,45'));
  console.log(`model ${runner.modelId}; images: ${held.join(' ')}`);
  const imgs = [];
  for (const f of held) imgs.push(await readRgb(path.join(data, f)));
  const rows = [];
  for (const ratio of ratios)
    for (const dq of ratio === 0 ? dqs : modelDqs) {
      let bpp = 0;
      let ps = 0;
      let ss = 0;
      for (const img of imgs) {
        const e = codec.encodeImage(img, codec.modelInfo(runner), { ratio, dctQuality: dq });
        const d = codec.decodeImage(e.bytes, runner, 'x').image;
        bpp += (e.bytes.length * 8) / (img.width * img.height) / imgs.length;
        ps += psnr(d.data, img.data) / imgs.length;
        ss += ssim(d.data, img.data, img.width, img.height) / imgs.length;
      }
      rows.push({ ratio, dq, bpp, psnr: ps, ssim: ss });
      console.log(`ratio ${ratio.toFixed(2)} dq ${String(dq).padStart(3)}: ${bpp.toFixed(4)} bpp  ${ps.toFixed(3)} dB  SSIM ${ss.toFixed(4)}`);
    }
  const front = rows.filter((r) => !rows.some((o) => o !== r && o.bpp <= r.bpp && o.psnr >= r.psnr && (o.bpp < r.bpp || o.psnr > r.psnr))).sort((a, b) => a.bpp - b.bpp);
  console.log('\nPareto front (bpp vs PSNR):');
  for (const r of front) console.log(`  ratio ${r.ratio.toFixed(2)} dq ${String(r.dq).padStart(3)}: ${r.bpp.toFixed(4)} bpp  ${r.psnr.toFixed(3)} dB  SSIM ${r.ssim.toFixed(4)}`);
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
