#!/usr/bin/env node
/**
 * Which settings for the denoiser's collaborative stage (src/denoise/collab.ts)? The share of
 * the hard-thresholding estimate in the guide of the last pass (--fuse; 1 is the classical
 * two steps with no model) and the filter's options (--grid: a JSON list of collab.ts
 * CollabOptions, such as stride, reach, group, lambda, kaiser, and `basic`: options of the
 * first, hard-thresholding pass only, over the others).
 * Measured on held-out TRAINING images only (every 20th by name, the last N of those; never
 * cbsd68 or kodak24), whole images, Gaussian noise added to the float image (seeded, not
 * clipped), sigma given; PSNR on 8-bit RGB; seconds of the stage alone.
 * Usage: node bench/collab-tune.js [--model DIR] [--images 4] [--sigma 15,25,50] [--fuse 0.3,0.5,0.7,1]
 *        [--grid '[{"reach":5,"basic":{"stride":3}}]'] [--json]   (needs npm run build)
 */
const { heldOut, opt } = require('./held-out');
const { toRgb } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { wienerRefine } = require('../dist/denoise/wiener');
const { collaborativeRefine } = require('../dist/denoise/stages');
const { psnr } = require('../dist/metrics/psnr');

const FUSES = opt('fuse', '0.3,0.5,0.7,1').split(',').map(Number);
const GRIDS = JSON.parse(opt('grid', '[{}]'));

heldOut('stage s/image', ({ runner, clean, noisy, sigma: s, add }) => {
  const mae = denoiseFloat(runner, noisy, { sigma: s, wiener: 0, collab: false }).image;
  const wiener = wienerRefine(noisy, mae, s / 255);
  add('no collaborative stage (--no-collab)', psnr(clean.data, toRgb(wiener).data));
  for (const grid of GRIDS)
    for (const fuse of FUSES) {
      const t0 = performance.now();
      const { basic, ...filter } = grid;
      const out = collaborativeRefine(noisy, wiener, s / 255, { fuse, filter, basic });
      const t = (performance.now() - t0) / 1000;
      const name = Object.entries(grid).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v).replace(/"/g, '') : v}`).join(' ') || 'defaults';
      add(`${name}, fuse ${fuse}${fuse === 1 ? ' (no model)' : ''}`, psnr(clean.data, toRgb(out).data), t);
    }
});
