/**
 * The harness of the tuning scripts (wiener-tune.js, collab-tune.js): held-out TRAINING
 * images only (the images loadDataset holds out for validation: every 20th by name; the last
 * N of those; never cbsd68 or kodak24), whole images, Gaussian noise added to the float image
 * (seeded, not clipped), sigma given; with --grey, the images made grey and the noise the same
 * in R, G and B. Each script adds rows (setting, PSNR, seconds) per
 * image and sigma; they are averaged over the images and printed as a table, or as JSON with
 * --json. Needs npm run build.
 */
const path = require('node:path');
const { listImages, readRgb } = require('../dist/image/io');
const { MaeRunner, toFloat } = require('../dist/model/runner');
const { Rng } = require('../dist/util/rng');

const args = process.argv.slice(2);
/** The value after --name on the command line, or `def`. */
const opt = (name, def) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const DATA = path.resolve(__dirname, '..', '..', 'shared', 'datasets', 'train');

/**
 * Runs `each({ runner, clean, noisy, sigma, add })` for every held-out image (--images, default
 * 4) and sigma (--sigma, default 15,25,50), with the model in --model (default: the shipped
 * one); `add(name, psnr, seconds?)` records a row. Prints
 * the table (its time column headed `timeLabel`) and exits.
 */
function heldOut(timeLabel, each) {
  const N = Number(opt('images', 4));
  const SIGMAS = opt('sigma', '15,25,50').split(',').map(Number);
  const GREY = args.includes('--grey');
  (async () => {
    const runner = await MaeRunner.load(opt('model'), undefined, { threads: 2 });
    const files = listImages(DATA).filter((_, i) => i % 20 === 19).slice(-N);
    console.error(`model ${runner.modelId}; held-out images ${files.map((f) => path.basename(f)).join(', ')}`);
    const acc = new Map();
    for (const [fi, f] of files.entries()) {
      let clean = await readRgb(f);
      // --grey: the image made grey (the rounded mean of R, G and B), the noise the same in the three channels.
      if (GREY) clean = { ...clean, data: clean.data.map((_, k) => Math.round((clean.data[k - (k % 3)] + clean.data[k - (k % 3) + 1] + clean.data[k - (k % 3) + 2]) / 3)) };
      const cf = toFloat(clean);
      for (const sigma of SIGMAS) {
        const rng = new Rng(4242 + fi * 97 + sigma);
        let n = 0;
        const noisy = { ...cf, data: cf.data.map((v, k) => v + (sigma / 255) * (GREY && k % 3 ? n : (n = rng.normal()))) };
        const add = (name, p, t = 0) => {
          const k = `${sigma}\t${name}`;
          const a = acc.get(k) ?? { sigma, name, psnr: 0, seconds: 0 };
          a.psnr += p / files.length;
          a.seconds += t / files.length;
          acc.set(k, a);
        };
        await each({ runner, clean, noisy, sigma, add });
        console.error(`${path.basename(f)} sigma ${sigma} done`);
      }
    }
    const rows = [...acc.values()];
    if (args.includes('--json')) return console.log(JSON.stringify(rows, null, 1));
    const w = Math.max(7, ...rows.map((r) => r.name.length));
    console.log(`sigma  ${'setting'.padEnd(w)}  PSNR (dB)  ${timeLabel}`);
    for (const r of rows) console.log(`${String(r.sigma).padEnd(5)}  ${r.name.padEnd(w)}  ${r.psnr.toFixed(2).padStart(9)}  ${r.seconds ? r.seconds.toFixed(2).padStart(timeLabel.length) : ''}`);
  })().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
}

module.exports = { heldOut, opt };
