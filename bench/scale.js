#!/usr/bin/env node
/**
 * npm run bench:scale: peak memory and speed of compress, decompress, denoise and inpaint
 * on synthetic photos of 1, 6 and 24 megapixels (smooth gradients + texture + noise, 3:2),
 * and of a compress batch of many small files (memory must not grow with the batch).
 * Each job runs the CLI (dist/) in its own process; its peak RSS (worker threads included)
 * is read from the process itself at exit (process.resourceUsage().maxRSS).
 *
 * Usage: node bench/scale.js [--sizes 1,6,24] [--commands compress,decompress,denoise,inpaint]
 *          [--model DIR | --model tiny] [--backend wasm] [--quality 20] [--batch 200,1000] [--json]
 * --model tiny uses a tiny untrained model (same image buffers, much faster model runs: for
 * measuring memory). Writes its images to a temporary folder, removed at the end.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const RUN = path.join(ROOT, 'bin', 'run.js');

function opt(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const sizes = opt('sizes', '1,6,24').split(',').map(Number);
const commands = opt('commands', 'compress,decompress,denoise,inpaint').split(',');
const quality = opt('quality', '20');
const batches = opt('batch', '200,1000')
  .split(',')
  .filter(Boolean)
  .map(Number);
const backend = opt('backend', undefined);
const json = process.argv.includes('--json');
let model = opt('model', undefined);

if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'compress.js'))) {
  console.error('dist/ is missing: run npm run build first');
  process.exit(1);
}
const sharp = require('sharp');
const { Rng } = require('../dist/util/rng');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-scale-'));
const hook = path.join(tmp, 'maxrss.js');
fs.writeFileSync(hook, "process.on('exit', () => { try { require('fs').writeFileSync(process.env.MAE_RSS_FILE, String(process.resourceUsage().maxRSS)); } catch {} });\n");

if (model === 'tiny') {
  const { DEFAULT_CONFIG, validateConfig } = require('../dist/model/config');
  const { initValues } = require('../dist/model/mae');
  const { saveModel } = require('../dist/model/weights');
  const c = validateConfig({ ...DEFAULT_CONFIG, patchSize: 8, embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2, windowSize: 64, interpHint: true });
  model = path.join(tmp, 'tiny-model');
  saveModel(model, c, initValues(c, 1));
}

/** A synthetic photo: gradients, a few soft shapes, fine texture and noise; written row band by row band. */
async function makeImage(file, width, height, seed) {
  const rng = new Rng(seed);
  const data = Buffer.alloc(width * height * 3);
  const cx = width * (0.3 + 0.4 * rng.next());
  const cy = height * (0.3 + 0.4 * rng.next());
  const r2 = (Math.min(width, height) * 0.25) ** 2;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r2 ? 50 : 0;
      const tex = 18 * Math.sin(x * 0.21 + 3 * Math.sin(y * 0.05)) * Math.cos(y * 0.17);
      const n = 6 * (rng.next() + rng.next() - 1);
      data[o] = 60 + (120 * x) / width + inside + tex + n;
      data[o + 1] = 80 + (100 * y) / height + tex * 0.5 + n;
      data[o + 2] = 170 - (90 * x) / width + inside * 0.4 + n;
    }
  await sharp(data, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 3 }).toFile(file);
}

async function makeMask(file, width, height) {
  // A box over 5% of the image, off centre, plus a thin stroke: what a user would paint.
  const data = Buffer.alloc(width * height);
  const bw = Math.round(width * 0.25);
  const bh = Math.round(height * 0.2);
  const x0 = Math.round(width * 0.55);
  const y0 = Math.round(height * 0.3);
  for (let y = y0; y < y0 + bh; y++) data.fill(255, y * width + x0, y * width + x0 + bw);
  const t = Math.max(2, Math.round(height * 0.004));
  for (let x = Math.round(width * 0.1); x < Math.round(width * 0.5); x++) {
    const y = Math.round(height * 0.7 + height * 0.05 * Math.sin(x / (width * 0.05)));
    for (let k = 0; k < t; k++) data[(y + k) * width + x] = 255;
  }
  await sharp(data, { raw: { width, height, channels: 1 } }).png().toFile(file);
}

function job(args) {
  const rssFile = path.join(tmp, `rss-${process.hrtime.bigint()}`);
  const env = { ...process.env, MAE_RSS_FILE: rssFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${hook}`.trim() };
  if (backend) env.MAE_BACKEND = backend;
  const full = [...args, '--force', '--quiet', ...(model ? ['--model', model] : [])];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [RUN, ...full], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const kb = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : NaN;
  if (r.status !== 0) throw new Error(`mae ${full.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return { seconds, peakMB: kb / 1024 };
}

function table(rows) {
  const head = ['job', 'megapixels', 'seconds', 's / MP', 'peak RSS (MB)'];
  const cells = rows.map((r) => [r.job, r.mp.toFixed(1), r.seconds.toFixed(1), r.perMP.toFixed(2), r.peakMB.toFixed(0)]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => v.padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

async function main() {
  const rows = [];
  const report = (r) => {
    rows.push(r);
    if (!json) console.error(`${r.job} ${r.mp.toFixed(1)} MP: ${r.seconds.toFixed(1)} s, peak ${r.peakMB.toFixed(0)} MB`);
  };
  try {
    for (const mp of sizes) {
      const width = Math.round(Math.sqrt(mp * 1e6 * 1.5));
      const height = Math.round((mp * 1e6) / width);
      const png = path.join(tmp, `photo-${mp}mp.png`);
      await makeImage(png, width, height, mp);
      const realMP = (width * height) / 1e6;
      const mae = path.join(tmp, `photo-${mp}mp.mae`);
      for (const cmd of commands) {
        let args;
        if (cmd === 'compress') args = ['compress', png, '-o', mae, '-q', quality];
        else if (cmd === 'decompress') {
          if (!fs.existsSync(mae)) job(['compress', png, '-o', mae, '-q', quality]);
          args = ['decompress', mae, '-o', path.join(tmp, `dec-${mp}.png`)];
        } else if (cmd === 'denoise') args = ['denoise', png, '-o', path.join(tmp, `dn-${mp}.png`), '--jobs', '1'];
        else if (cmd === 'inpaint') {
          const mask = path.join(tmp, `mask-${mp}.png`);
          await makeMask(mask, width, height);
          args = ['inpaint', png, '--mask', mask, '-o', path.join(tmp, `in-${mp}.png`)];
        } else throw new Error(`unknown command ${cmd}`);
        const r = job(args);
        report({ job: cmd === 'compress' || cmd === 'decompress' ? `${cmd} (q${quality})` : cmd, mp: realMP, width, height, ...r, perMP: r.seconds / realMP });
      }
      fs.rmSync(png, { force: true });
    }
    for (const n of batches) {
      const dir = path.join(tmp, `batch-${n}`);
      fs.mkdirSync(dir);
      const first = path.join(dir, 'img0000.png');
      await makeImage(first, 96, 64, 7);
      for (let i = 1; i < n; i++) fs.copyFileSync(first, path.join(dir, `img${String(i).padStart(4, '0')}.png`));
      const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
      const r = job(['compress', ...files, '-o', path.join(tmp, `batch-out-${n}`) + '/', '-q', quality]);
      report({ job: `compress batch of ${n} files`, mp: (n * 96 * 64) / 1e6, ...r, perMP: r.seconds / ((n * 96 * 64) / 1e6) });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (json) console.log(JSON.stringify(rows, null, 1));
  else console.log(`\n${table(rows)}\n\nmodel: ${model ?? 'shipped default'}; backend: ${backend ?? process.env.MAE_BACKEND ?? 'auto'}; ${os.cpus().length} cores`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
