/**
 * `mae train`: data-parallel training over worker threads (each with its own backend),
 * AdamW in plain JavaScript on one flat parameter buffer, warm-up plus half-cycle cosine
 * schedule, gradient clipping, validation, CSV log and SVG curve, atomic checkpoints and
 * exact resume (step, schedule, optimizer moments, RNG).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_CONFIG, MaeConfig, validateConfig } from '../model/config';
import { initValues, paramSpecs } from '../model/mae';
import { loadModel, saveModel } from '../model/weights';
import { Rng, RngState } from '../util/rng';
import { writeFileAtomic } from '../util/fsx';
import { linePlotSvg } from '../util/svgplot';
import { loadDataset, makeBatch, sampleSpec, splitBatch, TrainBatch } from './data';
import { EvalResult } from './step';

export interface TrainOptions {
  data: string;
  out: string;
  steps: number;
  batchSize: number;
  workers: number;
  /** lr = baseLr * batch / 256. */
  baseLr: number;
  warmupSteps: number;
  minLr: number;
  weightDecay: number;
  clipNorm: number;
  seed: number;
  resume: boolean;
  init?: string;
  config?: Partial<MaeConfig>;
  backend?: string;
  evalEvery: number;
  checkpointEvery: number;
  valSamples: number;
  /**
   * Pixels of context around each training window (a multiple of the patch size): the mask and
   * the interpolation hint cover the larger crop, as they cover the whole image at inference.
   */
  context: number;
  /** Share of rebuild batches with holes at the pixel level (data.ts BatchSpec.holes; default 0). */
  holeShare: number;
  /** Stop after this many seconds (checkpoint kept; --resume continues). */
  maxSeconds?: number;
  /** Stop (with a checkpoint) once this step is reached; the schedule still spans `steps`. */
  stopAtStep?: number;
  onProgress?: (p: TrainProgress) => void;
  onLog?: (line: string) => void;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface TrainResult {
  out: string;
  modelId: string;
  step: number;
  samples: number;
  wallSeconds: number;
  imagesPerSecond: number;
  lastTrainLoss: number;
  val: ValMetrics | null;
  stoppedEarly: boolean;
}

export interface ValMetrics {
  step: number;
  rebuildLoss: number;
  rebuildPsnr: number;
  denoisePsnr: number;
}

interface Slot {
  name: string;
  offset: number;
  size: number;
  shape: number[];
  decay: boolean;
  lrScale: number;
}

interface TrainState {
  version: 1;
  step: number;
  steps: number;
  samples: number;
  wallSeconds: number;
  rng: RngState;
  modelId: string;
  options: Record<string, unknown>;
}

export const DEFAULT_TRAIN: Omit<TrainOptions, 'data' | 'out'> = {
  steps: 3000,
  batchSize: 32,
  workers: Math.max(1, Math.min(os.cpus().length, 8)),
  baseLr: 5e-3,
  warmupSteps: 150,
  minLr: 1e-6,
  weightDecay: 0.05,
  clipNorm: 1.0,
  seed: 0,
  resume: false,
  evalEvery: 100,
  checkpointEvery: 100,
  valSamples: 64,
  context: 16,
  holeShare: 0,
};

/** Schedule options saved in a checkpoint's train-state.json (for --resume defaults); {} if none. */
export function checkpointOptions(out: string): Partial<TrainOptions> {
  const p = path.join(out, 'train-state.json');
  if (!fs.existsSync(p)) return {};
  try {
    const s = JSON.parse(fs.readFileSync(p, 'utf8')) as TrainState;
    const o = s.options ?? {};
    const pick: Partial<TrainOptions> = { steps: s.steps };
    for (const k of ['batchSize', 'baseLr', 'warmupSteps', 'minLr', 'weightDecay', 'clipNorm', 'seed', 'context', 'holeShare'] as const) if (typeof o[k] === 'number') pick[k] = o[k] as number;
    // Checkpoints from before the option trained on window-only hints.
    if (typeof o.context !== 'number') pick.context = 0;
    return pick;
  } catch {
    return {};
  }
}

/** Learning rate at `step` (0-based): linear warm-up, then half-cycle cosine to minLr. */
export function learningRate(step: number, o: Pick<TrainOptions, 'baseLr' | 'batchSize' | 'warmupSteps' | 'steps' | 'minLr'>): number {
  const peak = (o.baseLr * o.batchSize) / 256;
  if (step < o.warmupSteps) return (peak * (step + 1)) / o.warmupSteps;
  const t = (step - o.warmupSteps) / Math.max(1, o.steps - o.warmupSteps);
  return o.minLr + (peak - o.minLr) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

/** AdamW on flat arrays, decoupled weight decay on the slots marked `decay`. */
export class AdamW {
  m: Float32Array;
  v: Float32Array;
  t = 0;
  constructor(
    size: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.95,
    readonly eps = 1e-8,
  ) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  step(params: Float32Array, grads: Float32Array, lr: number, wd: number, slots: Slot[]): void {
    this.t += 1;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    const m = this.m;
    const v = this.v;
    for (const s of slots) {
      const decay = s.decay ? 1 - lr * wd : 1;
      const step = lr * s.lrScale;
      const end = s.offset + s.size;
      for (let i = s.offset; i < end; i++) {
        const g = grads[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * g);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * g * g);
        params[i] = params[i] * decay - (step * (mi / c1)) / (Math.sqrt(vi / c2) + this.eps);
      }
    }
  }
}

function workerScript(): string {
  const here = __filename.endsWith('.ts') ? path.resolve(__dirname, '../../dist/train') : __dirname;
  return path.join(here, 'worker.js');
}

class WorkerPool {
  private workers: Worker[] = [];
  constructor(
    readonly n: number,
    readonly gradBufs: SharedArrayBuffer[],
  ) {}

  async start(config: MaeConfig, layout: Slot[], params: SharedArrayBuffer, backend: string | undefined): Promise<string> {
    const script = workerScript();
    if (!fs.existsSync(script)) throw new Error(`training worker not built: ${script} (run npm run build)`);
    const ready: Promise<string>[] = [];
    for (let i = 0; i < this.n; i++) {
      const w = new Worker(script);
      this.workers.push(w);
      ready.push(this.request(i, { type: 'init', config, layout, params, grads: this.gradBufs[i], backend: backend ?? '' }).then((r) => r.backend as string));
    }
    const names = await Promise.all(ready);
    return names[0];
  }

  request(i: number, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const w = this.workers[i];
    return new Promise((resolve, reject) => {
      const onMsg = (r: Record<string, unknown>) => {
        w.off('message', onMsg);
        w.off('error', onErr);
        if (r.type === 'error') reject(new Error(`worker ${i}: ${String(r.message)}`));
        else resolve(r);
      };
      const onErr = (e: Error) => {
        w.off('message', onMsg);
        reject(e);
      };
      w.on('message', onMsg);
      w.on('error', onErr);
      w.postMessage(msg);
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function psnr(mse: number): number {
  return 10 * Math.log10(1 / Math.max(mse, 1e-12));
}

function mean(a: number[]): number {
  const ok = a.filter((x) => Number.isFinite(x));
  return ok.reduce((s, x) => s + x, 0) / Math.max(1, ok.length);
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const o = opts;
  const log = o.onLog ?? (() => {});
  fs.mkdirSync(o.out, { recursive: true });
  const statePath = path.join(o.out, 'train-state.json');
  const optPath = path.join(o.out, 'optimizer.bin');
  const csvPath = path.join(o.out, 'train.csv');

  // Model: resume, init from a model, or fresh.
  let config: MaeConfig;
  let values: Record<string, Float32Array>;
  let state: TrainState | null = null;
  if (o.resume) {
    if (!fs.existsSync(statePath)) throw new Error(`nothing to resume in ${o.out}: ${statePath} not found`);
    state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as TrainState;
    const m = loadModel(o.out);
    if (m.modelId !== state.modelId) throw new Error(`checkpoint in ${o.out} is inconsistent (weights ${m.modelId}, state ${state.modelId})`);
    config = m.config;
    values = m.values;
    const saved = config as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(o.config ?? {}))
      if (saved[k] !== v) throw new Error(`--resume continues the checkpoint's model: its ${k} is ${String(saved[k])}, not ${String(v)} (fine-tune with --init instead)`);
  } else if (o.init) {
    // Fine-tuning may switch on extensions the model lacks: their tensors start at init.
    const m = loadModel(o.init);
    config = validateConfig({ ...m.config, ...(o.config ?? {}) });
    const fresh = initValues(config, o.seed);
    values = {};
    for (const s of paramSpecs(config)) {
      const v = m.values[s.name];
      if (v && v.length !== fresh[s.name].length) throw new Error(`--init ${o.init}: ${s.name} has ${v.length} values, the new model needs ${fresh[s.name].length} (${s.shape.join('x')}); only switches that add tensors can change on fine-tuning`);
      values[s.name] = v ?? fresh[s.name];
      if (!v) log(`init: ${s.name} is new, initialised as ${s.init}`);
    }
  } else {
    config = validateConfig({ ...DEFAULT_CONFIG, ...(o.config ?? {}) });
    values = initValues(config, o.seed);
  }

  // Flat parameter layout in shared memory.
  const specs = paramSpecs(config);
  const slots: Slot[] = [];
  let total = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    slots.push({ name: s.name, offset: total, size, shape: s.shape, decay: s.decay, lrScale: s.lrScale ?? 1 });
    total += size;
  }
  const paramSab = new SharedArrayBuffer(total * 4);
  const params = new Float32Array(paramSab);
  for (const s of slots) params.set(values[s.name], s.offset);
  const opt = new AdamW(total);
  const rng = new Rng(state ? state.rng : o.seed + 1);
  let step = state ? state.step : 0;
  let samples = state ? state.samples : 0;
  let wallBefore = state ? state.wallSeconds : 0;
  if (state) {
    const buf = fs.readFileSync(optPath);
    const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    if (f.length !== 2 * total + 1) throw new Error(`optimizer state ${optPath} does not match the model`);
    opt.m.set(f.subarray(0, total));
    opt.v.set(f.subarray(total, 2 * total));
    opt.t = f[2 * total];
  }
  const steps = o.steps;

  log(`loading images from ${o.data}`);
  const ds = await loadDataset(o.data);
  log(`${ds.train.length} training images, ${ds.val.length} held out for validation`);

  // Fixed validation batches (rebuild at 0.75, denoise at sigma 25, ratio 0).
  const vr = new Rng(12345);
  const valRebuild = makeBatch(ds.val, config, o.valSamples, { kind: 'rebuild', ratio: 0.75 }, vr, o.context);
  const valDenoise = makeBatch(ds.val, config, Math.max(8, o.valSamples / 2), { kind: 'denoise', ratio: 0, sigma: () => 25 }, vr, o.context);

  const nWorkers = Math.max(1, o.workers);
  const gradBufs = Array.from({ length: nWorkers }, () => new SharedArrayBuffer(total * 4));
  const grads = gradBufs.map((b) => new Float32Array(b));
  const pool = new WorkerPool(nWorkers, gradBufs);
  const backend = await pool.start(config, slots, paramSab, o.backend);
  log(`training on ${nWorkers} worker thread(s), backend ${backend}, ${total} parameters`);

  if (!state) {
    writeFileAtomic(csvPath, 'step,wall_s,samples,lr,train_loss,val_rebuild_loss,val_rebuild_psnr,val_denoise_psnr\n');
  } else if (fs.existsSync(csvPath)) {
    const lines = fs.readFileSync(csvPath, 'utf8').trim().split('\n');
    const kept = [lines[0], ...lines.slice(1).filter((l) => Number(l.split(',')[0]) <= step)];
    writeFileAtomic(csvPath, kept.join('\n') + '\n');
  }

  const runEval = async (b: TrainBatch): Promise<EvalResult> => {
    const parts = splitBatch(b, nWorkers);
    const res = await Promise.all(parts.map((p, i) => pool.request(i, { type: 'eval', batch: p })));
    const out: EvalResult = { mseRemoved: [], mseAll: [] };
    for (const r of res) {
      const e = r.result as EvalResult;
      out.mseRemoved.push(...e.mseRemoved);
      out.mseAll.push(...e.mseAll);
    }
    return out;
  };
  const validate = async (): Promise<ValMetrics> => {
    const r = await runEval(valRebuild);
    const d = await runEval(valDenoise);
    return { step, rebuildLoss: mean(r.mseRemoved), rebuildPsnr: mean(r.mseRemoved.map(psnr)), denoisePsnr: mean(d.mseAll.map(psnr)) };
  };

  const checkpoint = () => {
    const id = saveModel(o.out, config, unflatten(params, slots), {
      training: { data: path.resolve(o.data), steps: step, samples, wallSeconds: Math.round(wallBefore + (Date.now() - t0) / 1000), batchSize: o.batchSize },
    });
    const ob = new Float32Array(2 * total + 1);
    ob.set(opt.m, 0);
    ob.set(opt.v, total);
    ob[2 * total] = opt.t;
    writeFileAtomic(optPath, new Uint8Array(ob.buffer));
    const st: TrainState = {
      version: 1,
      step,
      steps,
      samples,
      wallSeconds: wallBefore + (Date.now() - t0) / 1000,
      rng: rngAtNext,
      modelId: id,
      options: { batchSize: o.batchSize, baseLr: o.baseLr, warmupSteps: o.warmupSteps, minLr: o.minLr, weightDecay: o.weightDecay, clipNorm: o.clipNorm, seed: o.seed, context: o.context, holeShare: o.holeShare },
    };
    writeFileAtomic(statePath, JSON.stringify(st, null, 1) + '\n');
    return id;
  };

  const csvRows: string[] = [];
  const appendCsv = (row: string) => {
    fs.appendFileSync(csvPath, row + '\n');
    csvRows.push(row);
    writePlot(csvPath, path.join(o.out, 'train-curve.svg'));
  };

  let stop = false;
  const onSig = () => {
    stop = true;
    log('stopping: saving a checkpoint after this step');
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);

  const t0 = Date.now();
  const startSamples = samples;
  let lossAvg = NaN;
  let lastVal: ValMetrics | null = null;
  // The RNG state from which the pending `next` batch was drawn: a checkpoint stores it, so
  // that a resumed run draws exactly the batch this run would have used next.
  let rngAtNext = rng.state();
  const drawBatch = () => makeBatch(ds.train, config, o.batchSize, sampleSpec(rng, undefined, o.holeShare), rng, o.context);
  let next = drawBatch();
  let modelId = '';
  try {
    if (step === 0) {
      lastVal = await validate();
      appendCsv(`0,0,0,0,,${lastVal.rebuildLoss.toFixed(6)},${lastVal.rebuildPsnr.toFixed(3)},${lastVal.denoisePsnr.toFixed(3)}`);
    }
    while (step < steps && !stop) {
      const batch = next;
      const parts = splitBatch(batch, nWorkers);
      const pending = Promise.all(parts.map((p, i) => pool.request(i, { type: 'step', batch: p })));
      // Prepare the next batch while the workers compute.
      rngAtNext = rng.state();
      next = drawBatch();
      const res = await pending;
      // Average the gradients (weighted by sub-batch size) into grads[0].
      const g = grads[0];
      if (parts.length > 1) {
        const w0 = parts[0].batch / batch.batch;
        for (let i = 0; i < total; i++) g[i] *= w0;
        for (let k = 1; k < parts.length; k++) {
          const wk = parts[k].batch / batch.batch;
          const gk = grads[k];
          for (let i = 0; i < total; i++) g[i] += wk * gk[i];
        }
      }
      let sq = 0;
      for (let i = 0; i < total; i++) sq += g[i] * g[i];
      const norm = Math.sqrt(sq);
      if (!Number.isFinite(norm)) throw new Error(`gradient is not finite at step ${step}: lower --base-lr`);
      if (o.clipNorm > 0 && norm > o.clipNorm) {
        const s = o.clipNorm / norm;
        for (let i = 0; i < total; i++) g[i] *= s;
      }
      const lr = learningRate(step, { ...o, steps });
      opt.step(params, g, lr, o.weightDecay, slots);
      const loss = res.reduce((s, r, k) => s + (r.loss as number) * (parts[k].batch / batch.batch), 0);
      lossAvg = Number.isNaN(lossAvg) ? loss : 0.95 * lossAvg + 0.05 * loss;
      step += 1;
      samples += batch.batch;
      const el = (Date.now() - t0) / 1000;
      const ips = (samples - startSamples) / Math.max(el, 1e-3);
      o.onProgress?.({ step, steps, loss: lossAvg, lr, imagesPerSecond: ips, etaSeconds: ((steps - step) * o.batchSize) / Math.max(ips, 1e-6) });
      const isEval = step % o.evalEvery === 0 || step === steps;
      if (isEval) {
        lastVal = await validate();
        appendCsv(
          `${step},${(wallBefore + el).toFixed(0)},${samples},${lr.toExponential(3)},${lossAvg.toFixed(6)},${lastVal.rebuildLoss.toFixed(6)},${lastVal.rebuildPsnr.toFixed(3)},${lastVal.denoisePsnr.toFixed(3)}`,
        );
        log(`step ${step}: train loss ${lossAvg.toFixed(5)}, val rebuild ${lastVal.rebuildPsnr.toFixed(2)} dB, val denoise(25) ${lastVal.denoisePsnr.toFixed(2)} dB, ${ips.toFixed(1)} img/s`);
      }
      if (step % o.checkpointEvery === 0 || step === steps) modelId = checkpoint();
      if (o.maxSeconds && el > o.maxSeconds) stop = true;
      if (o.stopAtStep && step >= o.stopAtStep) stop = true;
    }
    if (stop || !modelId) modelId = checkpoint();
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await pool.stop();
  }
  const wall = (Date.now() - t0) / 1000;
  return {
    out: o.out,
    modelId,
    step,
    samples,
    wallSeconds: wallBefore + wall,
    imagesPerSecond: (samples - startSamples) / Math.max(wall, 1e-3),
    lastTrainLoss: lossAvg,
    val: lastVal,
    stoppedEarly: step < steps,
  };
}

function unflatten(params: Float32Array, slots: Slot[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const s of slots) out[s.name] = params.slice(s.offset, s.offset + s.size);
  return out;
}

/** Draws the CSV log as an SVG: validation PSNRs against samples seen. */
export function writePlot(csvPath: string, svgPath: string): void {
  const lines = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((l) => l.split(',').map(Number));
  const svg = linePlotSvg(
    [
      { name: 'val rebuild, r=0.75', points: rows.map((r) => [r[2], r[6]] as [number, number]) },
      { name: 'val denoise, sigma 25', points: rows.map((r) => [r[2], r[7]] as [number, number]) },
      { name: 'train loss (as PSNR)', points: rows.filter((r) => r[4] > 0).map((r) => [r[2], 10 * Math.log10(1 / r[4])] as [number, number]) },
    ],
    { title: 'mae train: validation on held-out BSDS images', xLabel: 'training samples seen', yLabel: 'PSNR (dB)' },
  );
  writeFileAtomic(svgPath, svg);
}
