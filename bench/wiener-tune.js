#!/usr/bin/env node
/**
 * Which Wiener settings? The denoiser with its Wiener stage off, and with 1 to 3 passes at
 * block strides 2 and 3, plus the pilot without its residual blend or border filter (the
 * collaborative stage off throughout; bench/collab-tune.js tunes that).
 * Measured on held-out TRAINING images only (the images loadDataset holds out for
 * validation: every 20th by name; the last N of those), whole images, Gaussian noise added to
 * the float image (seeded, not clipped), sigma given. PSNR on 8-bit RGB; seconds of the
 * Wiener stage alone. Never run it on cbsd68 or kodak24 (the test sets).
 * Usage: node bench/wiener-tune.js [--model DIR] [--images 4] [--sigma 15,25,50] [--json]   (needs npm run build)
 */
const { heldOut } = require('./held-out');
const { toRgb } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { wienerRefine } = require('../dist/denoise/wiener');
const { psnr } = require('../dist/metrics/psnr');

const PILOTS = { default: {}, 'no residual blend': { inputWeight: 0 }, 'no border filter': { deblock: false } };
const STAGES = [[3, 1], [3, 2], [3, 3], [2, 1], [2, 2], [2, 3]];

heldOut('wiener s/image', ({ runner, clean, noisy, sigma: s, add }) => {
  for (const [pname, po] of Object.entries(PILOTS)) {
    const d = denoiseFloat(runner, noisy, { sigma: s, wiener: 0, collab: false, ...po });
    if (pname === 'default') add('MAE alone', psnr(clean.data, toRgb(d.image).data));
    for (const [stride, iterations] of pname === 'default' ? STAGES : [[3, 2]]) {
      const t0 = performance.now();
      const out = wienerRefine(noisy, d.image, s / 255, { stride, iterations });
      const t = (performance.now() - t0) / 1000;
      add(`${pname === 'default' ? '' : `${pname}, `}wiener stride ${stride}, ${iterations} pass(es)`, psnr(clean.data, toRgb(out).data), t);
    }
  }
});
