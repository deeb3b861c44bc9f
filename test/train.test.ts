import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { checkpointOptions, DEFAULT_TRAIN, learningRate, train, TrainOptions } from '../src/train/trainer';
import { initValues, paramSpecs } from '../src/model/mae';
import { saveModel } from '../src/model/weights';
import { DEFAULT_CONFIG, validateConfig } from '../src/model/config';
import { loadModel } from '../src/model/weights';
import { Rng } from '../src/util/rng';
import { makeBatch, sampleSpec, shiftHoles } from '../src/train/data';

const tiny = { patchSize: 8, embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2, windowSize: 32 };

let root: string;
let data: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-train-'));
  data = path.join(root, 'images');
  fs.mkdirSync(data);
  const rng = new Rng(1);
  for (let i = 0; i < 6; i++) {
    const w = 80 + 8 * i;
    const h = 64;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = Math.round(128 + 100 * Math.sin((x * (c + 1)) / 7 + y / 5 + i) + 20 * rng.normal()) & 255;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(data, `img${i}.png`));
  }
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const base = (out: string): TrainOptions => ({
  ...DEFAULT_TRAIN,
  data,
  out,
  steps: 4,
  batchSize: 4,
  workers: 1,
  warmupSteps: 1,
  evalEvery: 2,
  checkpointEvery: 2,
  valSamples: 4,
  config: tiny,
  backend: 'cpu',
});

describe('training batches with context around the window', () => {
  const c = validateConfig({ ...DEFAULT_CONFIG, ...tiny });
  // A ramp: harmonic interpolation rebuilds it exactly where visible pixels surround a hole, and
  // flattens it where a hole reaches the crop's edge with nothing beyond.
  const W = 200;
  const ramp = { width: W, height: W, data: new Uint8Array(W * W * 3) };
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) for (let ch = 0; ch < 3; ch++) ramp.data[(y * W + x) * 3 + ch] = x + ((y * ch) >> 2);
  const hintError = (context: number) => {
    const b = makeBatch([ramp], c, 64, { kind: 'rebuild', ratio: 0.75 }, new Rng(3), context);
    const L = b.rows * b.cols;
    const P = b.input.length / (b.batch * L);
    let removed = 0;
    let visibleExact = true;
    let err = 0;
    for (let i = 0; i < b.batch * L; i++) {
      for (let j = 0; j < P; j++) {
        const d = Math.abs(b.hint[i * P + j] - b.target[i * P + j]);
        if (b.removed[i]) err += d;
        else if (d > 1e-6) visibleExact = false;
      }
      removed += b.removed[i];
    }
    return { b, visibleExact, err: err / (removed * P), removed };
  };

  test('the window keeps its mask ratio, visible patches are the input, and the hint uses the margin', () => {
    const none = hintError(0);
    const ctx = hintError(16);
    for (const r of [none, ctx]) {
      expect([r.b.rows, r.b.cols, r.b.lenKeep]).toEqual([4, 4, 4]);
      expect(r.removed).toBe(64 * 12);
      expect(r.visibleExact).toBe(true);
      for (let i = 0; i < r.b.batch; i++) for (let l = 0; l < 4; l++) expect(r.b.removed[i * 16 + r.b.keep[i * 4 + l]]).toBe(0);
    }
    // With 16 pixels of context the removed patches at the window's edge get the ramp from beyond it.
    expect(ctx.err).toBeLessThan(0.5 * none.err);
  });

  test('pixel-level holes keep within the removed patches and leave the edge patches partly known', () => {
    // shiftHoles: an unknown 8x8 patch at (8, 8) of a 16x16 mask, moved by (3, 2) and cut back.
    const known = new Uint8Array(256).fill(1);
    for (let y = 8; y < 16; y++) for (let x = 8; x < 16; x++) known[y * 16 + x] = 0;
    const moved = Uint8Array.from(known);
    shiftHoles(moved, 16, 3, 2);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) expect(moved[y * 16 + x]).toBe(x >= 11 && y >= 10 ? 0 : 1);
    const same = Uint8Array.from(known);
    shiftHoles(same, 16, 0, 0);
    expect(same).toEqual(known);
    // In a batch: on a textured image the hint equals the target only where it carries known
    // pixels, which removed patches have only with pixel-level holes.
    const rng = new Rng(9);
    const tex = { width: W, height: W, data: Uint8Array.from({ length: W * W * 3 }, () => rng.int(256)) };
    const exactInRemoved = (holes: boolean) => {
      const b = makeBatch([tex], c, 16, { kind: 'rebuild', ratio: 0.5, holes }, new Rng(4), 16);
      const L = b.rows * b.cols;
      const P = b.input.length / (b.batch * L);
      let exact = 0;
      for (let i = 0; i < b.batch * L; i++) if (b.removed[i]) for (let j = 0; j < P; j++) if (Math.abs(b.hint[i * P + j] - b.target[i * P + j]) < 1e-6) exact++;
      return exact;
    };
    expect(exactInRemoved(false)).toBeLessThan(20);
    expect(exactInRemoved(true)).toBeGreaterThan(1000);
    // The mixture draws the hole switch only when asked (runs without it keep their random stream).
    const a = new Rng(2);
    const b2 = new Rng(2);
    for (let i = 0; i < 20; i++) expect(sampleSpec(a).kind).toBe(sampleSpec(b2, 0.5, 0).kind);
    const specs = Array.from({ length: 200 }, (_, i) => sampleSpec(new Rng(100 + i), 0, 0.5));
    expect(specs.filter((x) => x.holes).length).toBeGreaterThan(60);
    expect(specs.filter((x) => x.holes === false).length).toBeGreaterThan(60);
  });

  test('context must be a multiple of the patch size', () => {
    expect(() => makeBatch([ramp], c, 2, { kind: 'rebuild', ratio: 0.5 }, new Rng(1), 4)).toThrow(/context must be a non-negative multiple of the patch size 8, got 4/);
  });

  test('checkpoints from before the option resume without context', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-ctx-'));
    try {
      fs.writeFileSync(path.join(dir, 'train-state.json'), JSON.stringify({ steps: 10, options: { batchSize: 8 } }));
      expect(checkpointOptions(dir)).toEqual({ steps: 10, batchSize: 8, context: 0 });
      fs.writeFileSync(path.join(dir, 'train-state.json'), JSON.stringify({ steps: 10, options: { batchSize: 8, context: 16 } }));
      expect(checkpointOptions(dir)).toEqual({ steps: 10, batchSize: 8, context: 16 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('learning-rate schedule', () => {
  it('warms up linearly, then follows a half-cycle cosine', () => {
    const o = { baseLr: 1e-3, batchSize: 256, warmupSteps: 10, steps: 110, minLr: 0 };
    expect(learningRate(0, o)).toBeCloseTo(1e-4, 10);
    expect(learningRate(9, o)).toBeCloseTo(1e-3, 10);
    expect(learningRate(60, o)).toBeCloseTo(0.5e-3, 10);
    expect(learningRate(110, o)).toBeCloseTo(0, 10);
  });
});

describe('mae train', () => {
  it('writes a model, a CSV log and a curve, and resumes exactly', async () => {
    const straight = path.join(root, 'straight');
    const r1 = await train(base(straight));
    expect(r1.step).toBe(4);
    const csv = fs.readFileSync(path.join(straight, 'train.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^step,wall_s,samples,lr,train_loss/);
    expect(csv.length).toBe(1 + 3); // step 0, 2 and 4
    expect(fs.readFileSync(path.join(straight, 'train-curve.svg'), 'utf8')).toMatch(/^<svg/);
    const m1 = loadModel(straight);
    expect(m1.training.steps).toBe(4);

    const split = path.join(root, 'split');
    const r2 = await train({ ...base(split), stopAtStep: 2 });
    expect(r2.step).toBe(2);
    expect(r2.stoppedEarly).toBe(true);
    // --resume defaults come from the checkpoint, not from the command's defaults.
    expect(checkpointOptions(split)).toMatchObject({ steps: 4, batchSize: 4, warmupSteps: 1, baseLr: DEFAULT_TRAIN.baseLr });
    expect(checkpointOptions(path.join(root, 'nowhere'))).toEqual({});
    const r3 = await train({ ...base(split), resume: true });
    expect(r3.step).toBe(4);
    const m2 = loadModel(split);
    for (const name of Object.keys(m1.values)) expect(Buffer.from(m2.values[name].buffer).equals(Buffer.from(m1.values[name].buffer))).toBe(true);
    expect(m2.modelId).toBe(m1.modelId);
  });

  it('fine-tunes a model saved without the patch skip, adding the skip at zero', async () => {
    const old = validateConfig({ ...DEFAULT_CONFIG, ...tiny, patchSkip: false });
    const src = path.join(root, 'noskip');
    const values = initValues(old, 3);
    saveModel(src, old, values);
    expect(loadModel(src).config.patchSkip).toBe(false);
    expect(paramSpecs(old).some((s) => s.name === 'decoder_skip.weight')).toBe(false);
    const out = path.join(root, 'withskip');
    await train({ ...base(out), config: { patchSkip: true }, init: src, steps: 1 });
    const m = loadModel(out);
    expect(m.config.patchSkip).toBe(true);
    expect(m.values['decoder_skip.weight'].length).toBe(192 * 192);
    // The tensors it had came from the source model (and moved by one step).
    expect(m.values['patch_embed.proj.weight'].length).toBe(values['patch_embed.proj.weight'].length);
  });

  it("fine-tuning keeps the model's hint unless told, and --resume refuses to switch it", async () => {
    const relaxed = validateConfig({ ...DEFAULT_CONFIG, ...tiny, hint: 'relaxed' });
    const src = path.join(root, 'relaxed-src');
    saveModel(src, relaxed, initValues(relaxed, 5));
    const kept = path.join(root, 'relaxed-kept');
    await train({ ...base(kept), config: undefined, init: src, steps: 1 });
    expect(loadModel(kept).config.hint).toBe('relaxed');
    const switched = path.join(root, 'relaxed-solved');
    await train({ ...base(switched), config: { hint: 'solved' }, init: src, steps: 2, stopAtStep: 1 });
    expect(loadModel(switched).config.hint).toBe('solved');
    await expect(train({ ...base(switched), config: { hint: 'relaxed' }, resume: true })).rejects.toThrow(/its hint is solved, not relaxed \(fine-tune with --init instead\)/);
    // New models take the solved hint.
    expect(DEFAULT_CONFIG.hint).toBe('solved');
  });

  it('refuses to fine-tune into a config whose tensors differ in size', async () => {
    const src = path.join(root, 'narrow');
    const cfg = validateConfig({ ...DEFAULT_CONFIG, ...tiny });
    saveModel(src, cfg, initValues(cfg, 4));
    const out = path.join(root, 'wide');
    await expect(train({ ...base(out), config: { embedDim: cfg.embedDim * 2 }, init: src, steps: 1 })).rejects.toThrow(/has \d+ values, the new model needs \d+/);
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(false);
  });

  it('refuses to resume where there is no checkpoint', async () => {
    await expect(train({ ...base(path.join(root, 'none')), resume: true })).rejects.toThrow(/nothing to resume/);
  });
});
