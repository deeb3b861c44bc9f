#!/usr/bin/env node
/**
 * Which Wiener settings? The denoiser with its Wiener stage off, and with 1 to 3 passes at
 * block strides 2 and 3, plus the pilot without its residual blend or border filter (the
 * collaborative stage off throughout; bench/collab-tune.js tunes that).
 * Measured on held-out TRAINING images only (the images loadDataset holds out for
 * validation: every 20th by name; the last N of those), whole images, Gaussian noise added to
 * the float image (seeded, not clipped), sigma given. PSNR on 8-bit RGB; seconds of the
 * Wiener stage alone. Never run it on cbsd68 or kodak24 (the test sets).
 * Usage: node bench/wiener-tune.js [--images 4] [--sigma 15,25,50] [--json]   (needs npm run build)
 */
const path = require('node:path');
const { listImages, readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat, toRgb } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { wienerRefine } = require('../dist/denoise/wiener');
const { psnr } = require('../dist/metrics/psnr');
const { Rng } = require('../dist/util/rng');

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const N = Number(opt('images', 4));
const SIGMAS = opt('sigma', '15,25,50').split(',').map(Number);
const DATA = path.resolve(__dirname, '..', '..', 'shared', 'datasets', 'train');
const PILOTS = { default: {}, 'no residual blend': { inputWeight: 0 }, 'no border filter': { deblock: false } };
const STAGES = [[3, 1], [3, 2], [3, 3], [2, 1], [2, 2], [2, 3]];

(async () => {
  const runner = await MaeRunner.load(undefined, undefined, { threads: 2 });
  const files = listImages(DATA).filter((_, i) => i % 20 === 19).slice(-N);
  console.error(`model ${runner.modelId}; held-out images ${files.map((f) => path.basename(f)).join(', ')}`);
  const acc = new Map();
  const add = (sigma, name, p, t = 0) => {
    const k = `${sigma}\t${name}`;
    const a = acc.get(k) ?? { sigma, name, psnr: 0, seconds: 0 };
    a.psnr += p / files.length;
    a.seconds += t / files.length;
    acc.set(k, a);
  };
  for (const [fi, f] of files.entries()) {
    const clean = await readRgb(f);
    const cf = toFloat(clean);
    for (const s of SIGMAS) {
      const rng = new Rng(4242 + fi * 97 + s);
      const noisy = { ...cf, data: cf.data.map((v) => v + (s / 255) * rng.normal()) };
      for (const [pname, po] of Object.entries(PILOTS)) {
        const d = denoiseFloat(runner, noisy, { sigma: s, wiener: 0, collab: false, ...po });
        if (pname === 'default') add(s, 'MAE alone', psnr(clean.data, toRgb(d.image).data));
        for (const [stride, iterations] of pname === 'default' ? STAGES : [[3, 2]]) {
          const t0 = performance.now();
          const out = wienerRefine(noisy, d.image, s / 255, { stride, iterations });
          const t = (performance.now() - t0) / 1000;
          add(s, `${pname === 'default' ? '' : `${pname}, `}wiener stride ${stride}, ${iterations} pass(es)`, psnr(clean.data, toRgb(out).data), t);
        }
      }
      console.error(`${path.basename(f)} sigma ${s} done`);
    }
  }
  const rows = [...acc.values()];
  if (args.includes('--json')) return console.log(JSON.stringify(rows, null, 1));
  console.log(`sigma  ${'setting'.padEnd(52)}  PSNR (dB)  wiener s/image`);
  for (const r of rows) console.log(`${String(r.sigma).padEnd(5)}  ${r.name.padEnd(52)}  ${r.psnr.toFixed(2).padStart(9)}  ${r.seconds ? r.seconds.toFixed(2).padStart(14) : ''}`);
})().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
