#!/usr/bin/env node
/**
 * How long does the denoiser's collaborative stage take with each setting? Times
 * collaborativeRefine (src/denoise/stages.ts) on one thread over the first N images of a
 * folder, with seeded Gaussian noise of one sigma added; the model and the Wiener passes run
 * once per image beforehand and are not timed. Each setting runs --reps times, alternated with
 * the others, and every run's seconds per image are printed (a shared or busy machine shows
 * as spread). Timing only: it measures no quality, so any folder will do (the quality of the
 * settings is bench/collab-tune.js's job, on held-out training images).
 * Usage: node bench/collab-time.js --data ../shared/datasets/kodak24 [--images 8] [--sigma 25]
 *        [--reps 2] [--grid '[{}, {"filter":{"reach":6},"basic":{"stride":2}}]'] [--json]
 *        (each --grid entry: collaborativeRefine options; {} = the defaults; needs npm run build)
 */
const path = require('node:path');
const { listImages, readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { collaborativeRefine } = require('../dist/denoise/stages');
const { Rng } = require('../dist/util/rng');

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const data = opt('data');
if (!data) {
  console.error('usage: node bench/collab-time.js --data <folder> [--images 8] [--sigma 25] [--reps 2] [--grid JSON] [--json]');
  process.exit(2);
}
const N = Number(opt('images', 8));
const SIGMA = Number(opt('sigma', 25));
const REPS = Number(opt('reps', 2));
const GRID = JSON.parse(opt('grid', '[{}]'));

(async () => {
  const runner = await MaeRunner.load(undefined, undefined, { threads: 1 });
  const files = listImages(path.resolve(data)).slice(0, N);
  const inputs = [];
  for (const [i, f] of files.entries()) {
    const clean = toFloat(await readRgb(f));
    const rng = new Rng(97 + i);
    const noisy = { ...clean, data: clean.data.map((v) => v + (SIGMA / 255) * rng.normal()) };
    const d = denoiseFloat(runner, noisy, { sigma: SIGMA, collab: false });
    inputs.push({ noisy, estimate: d.image });
    console.error(`${path.basename(f)} ready`);
  }
  const runs = GRID.map(() => []);
  for (let r = 0; r < REPS; r++)
    GRID.forEach((g, i) => {
      const t0 = performance.now();
      for (const { noisy, estimate } of inputs) collaborativeRefine(noisy, estimate, SIGMA / 255, g);
      runs[i].push((performance.now() - t0) / 1000 / inputs.length);
    });
  const rows = GRID.map((g, i) => ({ setting: JSON.stringify(g), secondsPerImage: runs[i] }));
  if (args.includes('--json')) return console.log(JSON.stringify({ images: inputs.length, sigma: SIGMA, rows }, null, 1));
  console.log(`${inputs.length} image(s), sigma ${SIGMA}, one thread; seconds per image of each run`);
  for (const r of rows) console.log(`${r.secondsPerImage.map((t) => t.toFixed(2)).join(' ').padEnd(6 * REPS)}  ${r.setting}`);
})().then(
  () => process.exit(0),
  (e) => {
    console.error(e.message);
    process.exit(1);
  },
);
