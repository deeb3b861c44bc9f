#!/usr/bin/env node
/**
 * Which denoising options help? Measured on held-out TRAINING images only (the images
 * loadDataset holds out for validation: every 20th by name; the last N of those), centre
 * crops, Gaussian noise added to the float image (seeded, not clipped). For each image and
 * sigma: the noisy input, one pass (one patch grid, the default non-overlapping stride),
 * blends with the noisy input (the residual rule the denoiser uses, the least-squares
 * oracle, fixed shares), self-ensembles of 2 / 4 / 8 flips and transposes, 2 and 4 patch
 * grids (--shifts; the denoiser's default is 1), and overlapping strides 4 and 2.
 * PSNR / SSIM on 8-bit RGB.
 * Never run it on cbsd68 or kodak24 (the test sets).
 * Usage: node bench/denoise-tune.js [--model runs/default] [--images 3] [--crop 256]
 *        [--sigma 0,5,15,25,50] [--passes 8] [--json]     (needs npm run build)
 * --passes 2 measures only the mirror ensemble (4x faster); grids and strides are measured in every case.
 */
const fs = require('node:fs');
const path = require('node:path');
const { listImages, readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat, toRgb } = require('../dist/model/runner');
const { denoiseFloat, residualInputWeight, estimateSigma } = require('../dist/denoise');
const { transformImage, untransformImage } = require('../dist/denoise/transforms');
const { psnr } = require('../dist/metrics/psnr');
const { ssim } = require('../dist/metrics/ssim');
const { Rng } = require('../dist/util/rng');

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const MODEL = opt('model', 'runs/default');
const N = Number(opt('images', 3));
const CROP = Number(opt('crop', 256));
const SIGMAS = opt('sigma', '0,5,15,25,50').split(',').map(Number);
const DATA = path.resolve(__dirname, '..', '..', 'shared', 'datasets', 'train');

function crop(img, s) {
  const w = Math.min(s, img.width);
  const h = Math.min(s, img.height);
  const x0 = Math.floor((img.width - w) / 2);
  const y0 = Math.floor((img.height - h) / 2);
  const d = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) d.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + w) * 3), y * w * 3);
  return { width: w, height: h, data: d };
}
const mix = (a, b, w) => ({ ...a, data: a.data.map((v, i) => w * b.data[i] + (1 - w) * v) });
const mean = (imgs) => ({ ...imgs[0], data: imgs[0].data.map((_, i) => imgs.reduce((s, m) => s + m.data[i], 0) / imgs.length) });

(async () => {
  const runner = await MaeRunner.load(MODEL);
  let step = '?';
  try {
    step = JSON.parse(fs.readFileSync(path.join(MODEL, 'train-state.json'), 'utf8')).step;
  } catch {}
  const files = listImages(DATA).filter((_, i) => i % 20 === 19).slice(-N);
  console.error(`model ${runner.modelId} (step ${step}), backend ${runner.backend.name}; images ${files.map((f) => path.basename(f)).join(', ')}, ${CROP}px centre crops`);
  const rows = [];
  for (const [fi, f] of files.entries()) {
    const clean = crop(await readRgb(f), CROP);
    const cf = toFloat(clean);
    for (const s of SIGMAS) {
      const rng = new Rng(4242 + fi * 97 + s);
      const noisy = { ...cf, data: cf.data.map((v) => v + (s / 255) * rng.normal()) };
      const score = (img) => {
        const u = toRgb(img);
        return [psnr(u.data, clean.data), ssim(u.data, clean.data, clean.width, clean.height)];
      };
      const est = estimateSigma({ ...noisy, data: noisy.data.map((v) => (v + 0.5) * 255) });
      const r = { image: path.basename(f), sigma: s, estimated: est, scores: {}, seconds: {} };
      r.scores.noisy = score(noisy);
      // One denoising pass without the input blend; `o` adds options (stride, shifts) to one grid.
      const pass = (k, o = {}) => {
        const t = Date.now();
        const out = untransformImage(denoiseFloat(runner, transformImage(noisy, k), { sigma: est, inputWeight: 0, shifts: 1, ...o }).image, k);
        return [out, (Date.now() - t) / 1000];
      };
      const passes = [];
      const nPass = s === 0 ? 1 : Number(opt('passes', 8));
      let t1 = 0;
      for (let k = 0; k < nPass; k++) {
        const [out, t] = pass(k);
        passes.push(out);
        if (k === 0) t1 = t;
      }
      const base = passes[0];
      r.seconds.pass = t1;
      r.scores.base = score(base);
      const wRes = residualInputWeight(noisy.data, base.data, est);
      r.wResidual = wRes;
      r.scores['blend residual'] = score(mix(base, noisy, wRes));
      let num = 0;
      let den = 0;
      for (let i = 0; i < cf.data.length; i++) {
        const dx = noisy.data[i] - base.data[i];
        num += dx * (cf.data[i] - base.data[i]);
        den += dx * dx;
      }
      r.wOracle = den > 0 ? Math.max(0, Math.min(1, num / den)) : 0;
      r.scores['blend oracle'] = score(mix(base, noisy, r.wOracle));
      for (const w of [0.1, 0.25, 0.5]) r.scores[`blend ${w}`] = score(mix(base, noisy, w));
      if (nPass >= 2) {
        r.scores['ensemble 2'] = score(mean(passes.slice(0, 2)));
        if (nPass >= 4) r.scores['ensemble 4'] = score(mean(passes.slice(0, 4)));
        if (nPass >= 8) r.scores['ensemble 8'] = score(mean(passes));
        const [sh, ts] = pass(0, { shifts: 2 });
        r.seconds.shifts2 = ts;
        r.scores['shifts 2'] = score(sh);
        r.scores['shifts 2 + blend'] = score(mix(sh, noisy, residualInputWeight(noisy.data, sh.data, est)));
        r.scores['shifts 4'] = score(pass(0, { shifts: 4 })[0]);
        const [st4, t4] = pass(0, { stride: 4 });
        r.seconds.stride4 = t4;
        r.scores['stride 4'] = score(st4);
        const [st2, t2] = pass(0, { stride: 2 });
        r.seconds.stride2 = t2;
        r.scores['stride 2'] = score(st2);
      }
      rows.push(r);
      console.error(`${r.image} sigma ${s}: est ${est.toFixed(1)}, base ${r.scores.base[0].toFixed(2)} dB, w residual ${wRes.toFixed(2)} / oracle ${r.wOracle.toFixed(2)}`);
    }
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ model: runner.modelId, step, rows }, null, 1));
    return;
  }
  console.log(`model ${runner.modelId} (step ${step}); mean over ${files.length} held-out training crops; PSNR dB / SSIM`);
  for (const s of SIGMAS) {
    const rs = rows.filter((r) => r.sigma === s);
    const names = Object.keys(rs[0].scores);
    const avg = (f) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    console.log(`\nsigma ${s}: estimated ${avg((r) => r.estimated).toFixed(2)}, w residual ${avg((r) => r.wResidual).toFixed(3)}, w oracle ${avg((r) => r.wOracle).toFixed(3)}, s/pass ${avg((r) => r.seconds.pass).toFixed(1)}${rs[0].seconds.stride2 ? `, s/shifts-2 ${avg((r) => r.seconds.shifts2).toFixed(1)}, s/stride-4 pass ${avg((r) => r.seconds.stride4).toFixed(1)}, s/stride-2 pass ${avg((r) => r.seconds.stride2).toFixed(1)}` : ''}`);
    for (const n of names) console.log(`  ${n.padEnd(16)} ${avg((r) => r.scores[n][0]).toFixed(2).padStart(6)}  ${avg((r) => r.scores[n][1]).toFixed(4)}`);
  }
})();
