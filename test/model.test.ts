import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/runtime/backend';
import { DEFAULT_CONFIG, forwardFlops, MaeConfig, validateConfig } from '../src/model/config';
import { BatchMask, countParams, forward, initValues, maskedLoss, toTensors } from '../src/model/mae';
import { lenKeepFor, maskFromVisible, randomMask, SampleMask } from '../src/model/masking';
import { registerGradients, setFastGradients } from '../src/model/ops';

registerGradients();
import { sincos2d } from '../src/model/posembed';
import { loadModel, ModelError, saveModel } from '../src/model/weights';
import { patchify, unpatchify } from '../src/image/patchify';
import { Rng } from '../src/util/rng';

const small: MaeConfig = validateConfig({
  ...DEFAULT_CONFIG,
  patchSize: 4,
  embedDim: 16,
  depth: 2,
  numHeads: 2,
  decoderEmbedDim: 12,
  decoderDepth: 1,
  decoderNumHeads: 3,
  windowSize: 16,
});

function batchMask(masks: SampleMask[], L: number): BatchMask {
  const B = masks.length;
  const K = masks[0].keep.length;
  const m: BatchMask = { batch: B, numPatches: L, lenKeep: K, keep: new Int32Array(B * K), restore: new Int32Array(B * L), removed: new Float32Array(B * L) };
  masks.forEach((s, i) => {
    m.keep.set(s.keep, i * K);
    m.restore.set(s.restore, i * L);
    m.removed.set(s.removed, i * L);
  });
  return m;
}

function randn(rng: Rng, n: number, scale = 0.3): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

beforeAll(async () => {
  await initBackend('cpu');
});

afterEach(() => setFastGradients(true));

describe('patchify', () => {
  it.each([
    [24, 16, 3, 8],
    [40, 8, 3, 4],
    [12, 36, 1, 4],
  ])('unpatchify(patchify(x)) == x for %ix%i', (w, h, c, p) => {
    const rng = new Rng(w * h);
    const img = Float32Array.from({ length: w * h * c }, () => rng.next());
    const patches = patchify(img, w, h, c, p);
    expect(patches.length).toBe(img.length);
    // Patch vector order: (row in patch, column in patch, channel).
    expect(patches[c]).toBe(img[c]); // pixel (0,1) of patch 0
    expect(patches[p * c]).toBe(img[w * c]); // pixel (1,0) of patch 0
    expect(Array.from(unpatchify(patches, h / p, w / p, c, p))).toEqual(Array.from(img));
  });

  it('rejects sizes that are not multiples of the patch', () => {
    expect(() => patchify(new Float32Array(10 * 8 * 3), 10, 8, 3, 4)).toThrow(/not a multiple/);
  });
});

describe('masking', () => {
  it('keeps exactly len_keep patches and ids_restore restores order', () => {
    const rng = new Rng(7);
    for (const [L, ratio] of [
      [196, 0.75],
      [64, 0.5],
      [48, 0.9],
    ]) {
      const m = randomMask(L, ratio, rng);
      const K = lenKeepFor(L, ratio);
      expect(m.keep.length).toBe(K);
      expect(m.removed.reduce((a, b) => a + b, 0)).toBe(L - K);
      for (const k of m.keep) expect(m.removed[k]).toBe(0);
      // shuffled = argsort(noise); shuffled[restore[i]] == i
      const shuffled = [...m.keep, ...Array.from({ length: L }, (_, i) => i).filter((i) => m.removed[i])];
      const order = Array.from(m.restore);
      const shuffleFull = new Array(L);
      order.forEach((pos, i) => (shuffleFull[pos] = i));
      expect(shuffleFull.slice(0, K)).toEqual(Array.from(m.keep));
      expect(new Set(shuffled).size).toBe(L);
    }
    expect(lenKeepFor(196, 0.75)).toBe(49);
  });

  it('builds explicit masks from visible indices', () => {
    const m = maskFromVisible(8, [5, 1, 3]);
    expect(Array.from(m.keep)).toEqual([1, 3, 5]);
    expect(Array.from(m.removed)).toEqual([1, 0, 1, 0, 1, 0, 1, 1]);
    expect(() => maskFromVisible(8, [1, 1])).toThrow(/twice/);
    expect(() => maskFromVisible(8, [9])).toThrow(/outside/);
  });
});

describe('sin-cos positional embedding', () => {
  it('matches the formula at hand-computed entries', () => {
    const D = 8;
    const t = sincos2d(D, 2, 3, true); // grid 2 rows x 3 cols, cls row first
    expect(Array.from(t.subarray(0, D))).toEqual(new Array(D).fill(0));
    // token (row 1, col 2) = index 1*3+2 = 5, +1 for cls. Channels 0-3: column 2; 4-7: row 1.
    const row = t.subarray(6 * D, 7 * D);
    const expected = [Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02), Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01)];
    expected.forEach((v, i) => expect(row[i]).toBeCloseTo(v, 6));
  });
});

describe('forward pass', () => {
  it.each([
    [4, 4, 0.75],
    [3, 5, 0.5],
    [2, 6, 0],
  ])('rebuilds every patch on a %ix%i grid (ratio %f)', (rows, cols, ratio) => {
    const rng = new Rng(rows * 10 + cols);
    const L = rows * cols;
    const P = 4 * 4 * 3;
    const B = 2;
    const p = toTensors(small, initValues(small, 3));
    const mask = batchMask([randomMask(L, ratio, rng), randomMask(L, ratio, rng)], L);
    const x = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const out = forward(p, small, x, { rows, cols }, mask, tf.tensor3d(randn(rng, B * L * P), [B, L, P]));
    expect(out.shape).toEqual([B, L, P]);
    expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('loss ignores the visible patches', () => {
    const rng = new Rng(5);
    const L = 16;
    const P = 48;
    const p = toTensors(small, initValues(small, 4));
    const m = randomMask(L, 0.75, rng);
    const mask = batchMask([m], L);
    const x = randn(rng, L * P);
    const hint = tf.tensor3d(randn(rng, L * P), [1, L, P]);
    const target = randn(rng, L * P);
    const w = tf.tensor2d(mask.removed, [1, L]);
    const lossOf = (t: Float32Array) => maskedLoss(small, forward(p, small, tf.tensor3d(x, [1, L, P]), { rows: 4, cols: 4 }, mask, hint), tf.tensor3d(t, [1, L, P]), w).dataSync()[0];
    const base = lossOf(target);
    const visible = m.keep[0];
    const t2 = target.slice();
    for (let j = 0; j < P; j++) t2[visible * P + j] += 5;
    expect(lossOf(t2)).toBe(base);
    const removedIdx = m.removed.indexOf(1);
    const t3 = target.slice();
    t3[removedIdx * P] += 5;
    expect(lossOf(t3)).not.toBe(base);
  });

  it('applies the patch skip to visible patches only, and a zero skip changes nothing', () => {
    const rng = new Rng(21);
    const L = 16;
    const P = 48;
    const B = 1;
    const values = initValues(small, 4);
    values['decoder_pred.weight'] = randn(rng, values['decoder_pred.weight'].length, 0.1);
    const mask = batchMask([randomMask(L, 0.5, rng)], L);
    const x = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const hint = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const run = (v: Record<string, Float32Array>, c: MaeConfig) => forward(toTensors(c, v), c, x, { rows: 4, cols: 4 }, mask, hint).dataSync();
    const noSkip = validateConfig({ ...small, patchSkip: false });
    const { ['decoder_skip.weight']: _skip, ...rest } = values;
    const a = run(values, small);
    expect(Array.from(run(rest, noSkip))).toEqual(Array.from(a));
    const b = run({ ...values, 'decoder_skip.weight': randn(rng, P * P, 0.1) }, small);
    for (let l = 0; l < L; l++) {
      const changed = Array.from({ length: P }, (_, j) => b[l * P + j] !== a[l * P + j]).some(Boolean);
      expect(changed).toBe(mask.removed[l] === 0);
    }
  });

  it('counts parameters and FLOPs of the default model', () => {
    expect(countParams(DEFAULT_CONFIG)).toBe(3376192 + 192 * 192);
    const f = forwardFlops(DEFAULT_CONFIG, 64, 16);
    expect(f.total).toBe(f.encoder + f.decoder);
    expect(f.total).toBeGreaterThan(1e8);
  });
});

describe('custom gradients', () => {
  it('equal tfjs default gradients within 1e-5', () => {
    const rng = new Rng(11);
    const L = 16;
    const P = 48;
    const B = 2;
    const values = initValues(small, 9);
    // Non-zero prediction head so that every gradient path is exercised.
    values['decoder_pred.weight'] = randn(rng, values['decoder_pred.weight'].length, 0.1);
    values['decoder_skip.weight'] = randn(rng, values['decoder_skip.weight'].length, 0.1);
    const mask = batchMask([randomMask(L, 0.5, rng), randomMask(L, 0.5, rng)], L);
    const x = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const hint = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const target = tf.tensor3d(randn(rng, B * L * P), [B, L, P]);
    const w = tf.tensor2d(mask.removed, [B, L]);
    const gradsWith = (fast: boolean) => {
      setFastGradients(fast);
      const p = toTensors(small, values);
      const names = Object.keys(p);
      const g = tf.grads((...ts: tf.Tensor[]) => {
        const q: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (q[n] = ts[i]));
        return maskedLoss(small, forward(q, small, x, { rows: 4, cols: 4 }, mask, hint), target, w);
      })(names.map((n) => p[n]));
      return Object.fromEntries(names.map((n, i) => [n, g[i].dataSync() as Float32Array]));
    };
    const a = gradsWith(true);
    const b = gradsWith(false);
    let maxDiff = 0;
    let maxAbs = 0;
    for (const n of Object.keys(a)) {
      for (let i = 0; i < a[n].length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[n][i] - b[n][i]));
        maxAbs = Math.max(maxAbs, Math.abs(b[n][i]));
      }
    }
    expect(maxAbs).toBeGreaterThan(1e-3);
    expect(maxDiff).toBeLessThan(1e-5);
  });
});

describe('weights format', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-w-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('save then load gives bit-identical outputs and a stable id', () => {
    const values = initValues(small, 21);
    const id = saveModel(dir, small, values, { training: { steps: 1 } });
    const m = loadModel(dir);
    expect(m.modelId).toBe(id);
    expect(m.config).toEqual(small);
    const rng = new Rng(2);
    const L = 16;
    const mask = batchMask([randomMask(L, 0.75, rng)], L);
    const x = tf.tensor3d(randn(rng, L * 48), [1, L, 48]);
    const hint = tf.tensor3d(randn(rng, L * 48), [1, L, 48]);
    const y1 = forward(toTensors(small, values), small, x, { rows: 4, cols: 4 }, mask, hint).dataSync();
    const y2 = forward(toTensors(small, m.values), small, x, { rows: 4, cols: 4 }, mask, hint).dataSync();
    expect(Buffer.from(y2.buffer).equals(Buffer.from(y1.buffer))).toBe(true);
    expect(saveModel(path.join(dir, 'again'), small, m.values, { training: { steps: 1 } })).toBe(id);
  });

  it('stores float16 with float32 compute', () => {
    const values = initValues(small, 22);
    const d = path.join(dir, 'half');
    saveModel(d, small, values, { dtype: 'float16' });
    const m = loadModel(d);
    const w = values['blocks.0.attn.qkv.weight'];
    const h = m.values['blocks.0.attn.qkv.weight'];
    let err = 0;
    for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(w[i] - h[i]) / Math.max(Math.abs(w[i]), 1e-3));
    expect(err).toBeLessThan(1e-3);
    expect(fs.statSync(path.join(d, 'weights.bin')).size).toBe(fs.statSync(path.join(dir, 'weights.bin')).size / 2);
  });

  it('reads models saved before the hint key as relaxed, with the ids they had', () => {
    const values = initValues(small, 23);
    const d = path.join(dir, 'nohint');
    const solvedId = saveModel(d, small, values);
    expect(loadModel(d).config.hint).toBe('solved');
    // The same model written before the key existed.
    const json = path.join(d, 'model.json');
    const file = JSON.parse(fs.readFileSync(json, 'utf8'));
    delete file.config.hint;
    delete file.modelId;
    fs.writeFileSync(json, JSON.stringify(file));
    const m = loadModel(d);
    expect(m.config.hint).toBe('relaxed');
    const relaxedId = saveModel(path.join(dir, 'relaxed'), { ...small, hint: 'relaxed' }, values);
    expect(m.modelId).toBe(relaxedId);
    expect(relaxedId).not.toBe(solvedId);
    // A model file with an unknown hint names the key.
    file.config.hint = 'bicubic';
    fs.writeFileSync(json, JSON.stringify(file));
    expect(() => loadModel(d)).toThrow(/config.hint must be one of relaxed, solved, got bicubic/);
    expect(() => validateConfig({ ...small, hint: 'x' as never })).toThrow(/config.hint/);
  });

  it('names the file when a model is missing or damaged', () => {
    expect(() => loadModel(path.join(dir, 'nope'))).toThrow(/model file not found: .*nope\/model.json/);
    const d = path.join(dir, 'broken');
    saveModel(d, small, initValues(small, 1));
    const bin = path.join(d, 'weights.bin');
    const buf = fs.readFileSync(bin);
    fs.writeFileSync(bin, buf.subarray(0, 100));
    expect(() => loadModel(d)).toThrow(ModelError);
    expect(() => loadModel(d)).toThrow(/weights.bin is truncated/);
    buf[10] ^= 0xff;
    fs.writeFileSync(bin, buf);
    expect(() => loadModel(d)).toThrow(/does not match/);
    fs.writeFileSync(path.join(d, 'model.json'), '{not json');
    expect(() => loadModel(d)).toThrow(/model.json is not valid JSON/);
  });
});
