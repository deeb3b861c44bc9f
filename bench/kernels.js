#!/usr/bin/env node
/**
 * npm run bench:kernels: forward and forward+backward time of the default model at
 * batch 8 (one 64x64 window per sample, mask ratio 0.75), with the wasm-friendly
 * gradients (explicit transposes, scatter instead of UnsortedSegmentSum) and with
 * tfjs's default gradients, on the wasm and cpu backends. GFLOP/s is compared with the
 * backend's own plain 1024x1024 matMul, the practical peak of that backend here.
 * Each backend runs in a child process. Usage: node bench/kernels.js [--reps N] [--json]
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1]) || 3;

async function child(backend) {
  const tf = require('@tensorflow/tfjs-core');
  const { initBackend } = require('../dist/runtime/backend');
  const { DEFAULT_CONFIG, forwardFlops } = require('../dist/model/config');
  const M = require('../dist/model/mae');
  const { randomMask } = require('../dist/model/masking');
  const { Rng } = require('../dist/util/rng');
  const ops = require('../dist/model/ops');
  ops.registerGradients();
  await initBackend(backend);
  const c = DEFAULT_CONFIG;
  const B = 8;
  const rows = c.windowSize / c.patchSize;
  const L = rows * rows;
  const P = c.patchSize * c.patchSize * 3;
  const rng = new Rng(1);
  const masks = Array.from({ length: B }, () => randomMask(L, 0.75, rng));
  const K = masks[0].keep.length;
  const mask = { batch: B, numPatches: L, lenKeep: K, keep: new Int32Array(B * K), restore: new Int32Array(B * L), removed: new Float32Array(B * L) };
  masks.forEach((m, i) => { mask.keep.set(m.keep, i * K); mask.restore.set(m.restore, i * L); mask.removed.set(m.removed, i * L); });
  const values = M.initValues(c, 1);
  const vars = {};
  for (const [k, t] of Object.entries(M.toTensors(c, values))) vars[k] = tf.variable(t, true, k);
  const x = tf.randomUniform([B, L, P], -0.5, 0.5, 'float32', 1);
  const hint = tf.randomUniform([B, L, P], -0.5, 0.5, 'float32', 2);
  const w = tf.tensor2d(mask.removed, [B, L]);
  const grid = { rows, cols: rows };
  const median = (a) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const time = (f) => { f(); const t = []; for (let i = 0; i < reps; i++) { const s = performance.now(); f(); t.push(performance.now() - s); } return median(t); };
  const fwd = () => { const y = tf.tidy(() => M.forward(vars, c, x, grid, mask, hint)); y.dataSync(); y.dispose(); };
  const step = () => { const { value, grads } = tf.variableGrads(() => M.maskedLoss(c, M.forward(vars, c, x, grid, mask, hint), x, w)); value.dataSync(); for (const g of Object.values(grads)) g.dataSync(); tf.dispose([value, ...Object.values(grads)]); };
  const a = tf.randomUniform([1024, 1024]);
  const b = tf.randomUniform([1024, 1024]);
  const peakMs = time(() => { const r = tf.matMul(a, b); r.dataSync(); r.dispose(); });
  const peak = (2 * 1024 ** 3) / peakMs / 1e6;
  const flops = forwardFlops(c, L, K).total * B;
  const rows_ = [];
  for (const fast of [true, false]) {
    ops.setFastGradients(fast);
    let f, s, err = null;
    try { f = time(fwd); s = time(step); } catch (e) { err = e.message.split('\n')[0]; }
    rows_.push({ backend, gradients: fast ? 'mae (explicit transpose)' : 'tfjs default', batch: B, forwardMs: f, stepMs: s, forwardGflops: f ? flops / f / 1e6 : null, stepGflops: s ? (3 * flops) / s / 1e6 : null, peakGflops: peak, error: err });
  }
  process.stdout.write(JSON.stringify(rows_));
}

function main() {
  const all = [];
  for (const backend of ['wasm', 'cpu']) {
    const out = execFileSync(process.execPath, [__filename, '--child', backend, '--reps', String(reps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    all.push(...JSON.parse(out.trim().split('\n').pop()));
  }
  if (args.includes('--json')) { console.log(JSON.stringify(all, null, 1)); return; }
  const fmt = (v, d = 0) => (v == null ? 'n/a' : v.toFixed(d));
  console.log(`default model, batch 8, 64x64 windows, mask ratio 0.75, median of ${reps}`);
  console.log('backend  gradients                  forward ms  fwd+bwd ms  img/s  fwd GFLOP/s  step GFLOP/s  peak GFLOP/s  step % of peak');
  for (const r of all) {
    console.log([r.backend.padEnd(7), r.gradients.padEnd(25), fmt(r.forwardMs).padStart(10), fmt(r.stepMs).padStart(10), fmt(r.stepMs ? (8000 / r.stepMs) : null, 1).padStart(6), fmt(r.forwardGflops, 2).padStart(11), fmt(r.stepGflops, 2).padStart(12), fmt(r.peakGflops, 1).padStart(12), fmt(r.stepGflops ? (100 * r.stepGflops) / r.peakGflops : null, 1).padStart(14)].join('  ') + (r.error ? `  (${r.error})` : ''));
  }
  for (const backend of ['wasm', 'cpu']) {
    const [fast, slow] = all.filter((r) => r.backend === backend);
    if (fast.stepMs && slow.stepMs) console.log(`${backend}: training step ${(slow.stepMs / fast.stepMs).toFixed(1)}x faster with the explicit-transpose gradients`);
  }
}

if (args[0] === '--child') child(args[1]).catch((e) => { console.error(e.message); process.exit(1); });
else main();
