#!/usr/bin/env node
/**
 * Grey photos: the denoiser on held-out training images made grey, with the same Gaussian
 * noise in R, G and B (bench/held-out.js --grey), the noise treated as grey (the default: the
 * image is detected as grey) or as independent per channel (greyNoise false, how every image
 * was denoised before session 14), and with the dense search. PSNR over RGB against the grey
 * clean image. Usage: node bench/grey-denoise.js [--images 4] [--sigma 15,25,50] [--json]
 * (needs npm run build)
 */
process.argv.push('--grey');
const { heldOut } = require('./held-out');
const { toRgb } = require('../dist/model/runner');
const { denoiseFloat } = require('../dist/denoise');
const { psnr } = require('../dist/metrics/psnr');

heldOut('s/image', ({ runner, clean, noisy, sigma, add }) => {
  add('noisy input', psnr(clean.data, toRgb(noisy).data));
  for (const [name, o] of [
    ['as colour noise (greyNoise false)', { sigma, greyNoise: false }],
    ['grey (default)', { sigma }],
    ['grey, sigma estimated', {}],
    ['grey, dense search', { sigma, collabSearch: 'dense' }],
  ]) {
    const t0 = performance.now();
    const r = denoiseFloat(runner, noisy, o);
    add(name, psnr(clean.data, toRgb(r.image).data), (performance.now() - t0) / 1000);
  }
});
