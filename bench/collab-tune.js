#!/usr/bin/env node
/**
 * Which settings for the denoiser's collaborative stage (src/denoise/collab.ts)? The share of
 * the hard-thresholding estimate in the guide of the last pass (--fuse; 1 is the classical
 * two steps with no model) and the filter's options (--grid: a JSON list of collab.ts
 * CollabOptions, such as stride, reach, group, lambda, kaiser).
 * Measured on held-out TRAINING images only (every 20th by name, the last N of those; never
 * cbsd68 or kodak24), whole images, Gaussian noise added to the float image (seeded, not
 * clipped), sigma given; PSNR on 8-bit RGB; seconds of the stage alone.
 * Usage: node bench/collab-tune.js [--images 4] [--sigma 15,25,50] [--fuse 0.3,0.5,0.7,1]
 *        [--grid '[{"stride":2,"reach":6,"group":16}]'] [--json]   (needs npm run build)
 */
const path = require('node:path');
const { listImages, readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat, toRgb } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { wienerRefine } = require('../dist/denoise/wiener');
const { DEFAULT_COLLAB } = require('../dist/denoise/collab');
const { collaborativeRefine } = require('../dist/denoise/stages');
const { psnr } = require('../dist/metrics/psnr');
const { Rng } = require('../dist/util/rng');

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const N = Number(opt('images', 4));
const SIGMAS = opt('sigma', '15,25,50').split(',').map(Number);
const FUSES = opt('fuse', '0.3,0.5,0.7,1').split(',').map(Number);
const GRIDS = JSON.parse(opt('grid', JSON.stringify([DEFAULT_COLLAB])));
const DATA = path.resolve(__dirname, '..', '..', 'shared', 'datasets', 'train');

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
      const mae = denoiseFloat(runner, noisy, { sigma: s, wiener: 0, collab: false }).image;
      const wiener = wienerRefine(noisy, mae, s / 255);
      add(s, 'no collaborative stage (--no-collab)', psnr(clean.data, toRgb(wiener).data));
      for (const grid of GRIDS)
        for (const fuse of FUSES) {
          const t0 = performance.now();
          const out = collaborativeRefine(noisy, wiener, s / 255, { fuse, filter: grid });
          const t = (performance.now() - t0) / 1000;
          const name = Object.entries(grid).map(([k, v]) => `${k} ${v}`).join(' ');
          add(s, `${name}, fuse ${fuse}${fuse === 1 ? ' (no model)' : ''}`, psnr(clean.data, toRgb(out).data), t);
        }
      console.error(`${path.basename(f)} sigma ${s} done`);
    }
  }
  const rows = [...acc.values()];
  if (args.includes('--json')) return console.log(JSON.stringify(rows, null, 1));
  console.log(`sigma  ${'setting'.padEnd(60)}  PSNR (dB)  stage s/image`);
  for (const r of rows) console.log(`${String(r.sigma).padEnd(5)}  ${r.name.padEnd(60)}  ${r.psnr.toFixed(2).padStart(9)}  ${r.seconds ? r.seconds.toFixed(2).padStart(13) : ''}`);
})().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
