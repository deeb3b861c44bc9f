/**
 * The Masked Autoencoder (He et al., CVPR 2022) in TensorFlow.js, written as functions
 * over a flat dictionary of tensors named as the reference implementation's state dict.
 *
 * Encoder: patch embedding + fixed sin-cos positions, keep the visible patches only,
 * prepend the cls token, pre-norm ViT blocks, final norm.
 * Decoder: decoder_embed, one shared mask token for every removed patch, unshuffle,
 * its own sin-cos positions, blocks, decoder_norm, decoder_pred to patch pixels.
 *
 * Linear weights are stored [in, out] (the transpose of PyTorch's [out, in]); see
 * docs/MODEL.md for the layout of every tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MaeConfig, patchDim } from './config';
import { bmm, bmmTransB, gatherRows, gelu, layerNorm, linear, scatterRows } from './ops';
import { sincos2d } from './posembed';
import { Rng } from '../util/rng';

export type Params = Record<string, tf.Tensor>;

export type InitKind = 'xavier' | 'zeros' | 'ones' | 'normal02';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** Weight decay applies (weights of linear layers only: not biases, norms or tokens). */
  decay: boolean;
  /** Learning-rate multiplier (default 1). */
  lrScale?: number;
}

function blockSpecs(prefix: string, d: number, mlpRatio: number): ParamSpec[] {
  const h = d * mlpRatio;
  return [
    { name: `${prefix}.norm1.weight`, shape: [d], init: 'ones', decay: false },
    { name: `${prefix}.norm1.bias`, shape: [d], init: 'zeros', decay: false },
    { name: `${prefix}.attn.qkv.weight`, shape: [d, 3 * d], init: 'xavier', decay: true },
    { name: `${prefix}.attn.qkv.bias`, shape: [3 * d], init: 'zeros', decay: false },
    { name: `${prefix}.attn.proj.weight`, shape: [d, d], init: 'xavier', decay: true },
    { name: `${prefix}.attn.proj.bias`, shape: [d], init: 'zeros', decay: false },
    { name: `${prefix}.norm2.weight`, shape: [d], init: 'ones', decay: false },
    { name: `${prefix}.norm2.bias`, shape: [d], init: 'zeros', decay: false },
    { name: `${prefix}.mlp.fc1.weight`, shape: [d, h], init: 'xavier', decay: true },
    { name: `${prefix}.mlp.fc1.bias`, shape: [h], init: 'zeros', decay: false },
    { name: `${prefix}.mlp.fc2.weight`, shape: [h, d], init: 'xavier', decay: true },
    { name: `${prefix}.mlp.fc2.bias`, shape: [d], init: 'zeros', decay: false },
  ];
}

/** Every trainable tensor of the model, in a fixed order. */
export function paramSpecs(c: MaeConfig): ParamSpec[] {
  const P = patchDim(c);
  const D = c.embedDim;
  const Dd = c.decoderEmbedDim;
  const specs: ParamSpec[] = [
    { name: 'cls_token', shape: [1, 1, D], init: 'normal02', decay: false },
    { name: 'patch_embed.proj.weight', shape: [P, D], init: 'xavier', decay: true },
    { name: 'patch_embed.proj.bias', shape: [D], init: 'zeros', decay: false },
  ];
  for (let i = 0; i < c.depth; i++) specs.push(...blockSpecs(`blocks.${i}`, D, c.mlpRatio));
  specs.push(
    { name: 'norm.weight', shape: [D], init: 'ones', decay: false },
    { name: 'norm.bias', shape: [D], init: 'zeros', decay: false },
    { name: 'decoder_embed.weight', shape: [D, Dd], init: 'xavier', decay: true },
    { name: 'decoder_embed.bias', shape: [Dd], init: 'zeros', decay: false },
    { name: 'mask_token', shape: [1, 1, Dd], init: 'normal02', decay: false },
  );
  if (c.interpHint) {
    specs.push(
      { name: 'decoder_hint.weight', shape: [P, Dd], init: 'xavier', decay: true },
      { name: 'decoder_hint.bias', shape: [Dd], init: 'zeros', decay: false },
    );
  }
  for (let i = 0; i < c.decoderDepth; i++) specs.push(...blockSpecs(`decoder_blocks.${i}`, Dd, c.mlpRatio));
  specs.push(
    { name: 'decoder_norm.weight', shape: [Dd], init: 'ones', decay: false },
    { name: 'decoder_norm.bias', shape: [Dd], init: 'zeros', decay: false },
    // Residual (interpHint) models start as the identity on their base: zero prediction head.
    { name: 'decoder_pred.weight', shape: [Dd, P], init: c.interpHint ? 'zeros' : 'xavier', decay: true },
    { name: 'decoder_pred.bias', shape: [P], init: 'zeros', decay: false },
  );
  // The skip is a linear least-squares problem of its own: a 5x step reaches a useful
  // filter in tens of steps instead of the thousand a 1x step needs (docs/MODEL.md).
  if (c.patchSkip) specs.push({ name: 'decoder_skip.weight', shape: [P, P], init: 'zeros', decay: false, lrScale: 5 });
  return specs;
}

export function countParams(c: MaeConfig): number {
  return paramSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Initial values as the reference: xavier-uniform linears, zero biases, N(0, 0.02) tokens. */
export function initValues(c: MaeConfig, seed = 0): Record<string, Float32Array> {
  const rng = new Rng(seed);
  const out: Record<string, Float32Array> = {};
  for (const s of paramSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (s.init === 'ones') v.fill(1);
    else if (s.init === 'normal02') for (let i = 0; i < n; i++) v[i] = 0.02 * rng.normal();
    else if (s.init === 'xavier') {
      const [fanIn, fanOut] = s.shape;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) v[i] = (2 * rng.next() - 1) * limit;
    }
    out[s.name] = v;
  }
  return out;
}

export function toTensors(c: MaeConfig, values: Record<string, Float32Array>): Params {
  const p: Params = {};
  for (const s of paramSpecs(c)) p[s.name] = tf.tensor(values[s.name], s.shape, 'float32');
  return p;
}

function block(p: Params, prefix: string, x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [B, T, D] = x.shape;
  const hd = D / heads;
  const h = layerNorm(x, p[`${prefix}.norm1.weight`], p[`${prefix}.norm1.bias`]);
  const qkv = tf.reshape(linear(h, p[`${prefix}.attn.qkv.weight`], p[`${prefix}.attn.qkv.bias`]), [B * T, 3 * D]);
  const split = (i: number) =>
    tf.reshape(tf.transpose(tf.reshape(tf.slice(qkv, [0, i * D], [B * T, D]), [B, T, heads, hd]), [0, 2, 1, 3]), [B * heads, T, hd]) as tf.Tensor3D;
  const q = tf.mul(split(0), 1 / Math.sqrt(hd)) as tf.Tensor3D;
  const k = split(1);
  const v = split(2);
  const attn = tf.softmax(bmmTransB(q, k)) as tf.Tensor3D;
  const o = tf.reshape(tf.transpose(tf.reshape(bmm(attn, v), [B, heads, T, hd]), [0, 2, 1, 3]), [B, T, D]);
  x = tf.add(x, linear(o, p[`${prefix}.attn.proj.weight`], p[`${prefix}.attn.proj.bias`])) as tf.Tensor3D;
  const h2 = layerNorm(x, p[`${prefix}.norm2.weight`], p[`${prefix}.norm2.bias`]);
  const m = linear(gelu(linear(h2, p[`${prefix}.mlp.fc1.weight`], p[`${prefix}.mlp.fc1.bias`])), p[`${prefix}.mlp.fc2.weight`], p[`${prefix}.mlp.fc2.bias`]);
  return tf.add(x, m) as tf.Tensor3D;
}

/** Masks of a batch, flattened: every sample keeps the same number of patches. */
export interface BatchMask {
  batch: number;
  numPatches: number;
  lenKeep: number;
  /** [batch * lenKeep] visible patch indices per sample (grid order indices, shuffle order). */
  keep: Int32Array;
  /** [batch * numPatches] ids_restore per sample. */
  restore: Int32Array;
  /** [batch * numPatches] 1 = removed, 0 = visible. */
  removed: Float32Array;
}

export interface Grid {
  rows: number;
  cols: number;
}

const posCache = new Map<string, Float32Array>();
function posTable(dim: number, g: Grid): Float32Array {
  const key = `${dim}:${g.rows}x${g.cols}`;
  let t = posCache.get(key);
  if (!t) {
    t = sincos2d(dim, g.rows, g.cols, true);
    posCache.set(key, t);
  }
  return t;
}

/** Rows b*T + offset + i for i < n: where sample b's n tokens sit in a [B*T] sequence. */
function seqIndex(B: number, n: number, T: number, offset: number): Int32Array {
  const out = new Int32Array(B * n);
  for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) out[b * n + i] = b * T + offset + i;
  return out;
}

/** [B*T, 1] with 1 at each sample's first (cls) row. */
function clsIndicator(B: number, T: number): tf.Tensor2D {
  const v = new Float32Array(B * T);
  for (let b = 0; b < B; b++) v[b * T] = 1;
  return tf.tensor2d(v, [B * T, 1]);
}

function globalIndex(local: Int32Array, perSample: number, stride: number): Int32Array {
  const out = new Int32Array(local.length);
  for (let i = 0; i < local.length; i++) out[i] = Math.floor(i / perSample) * stride + local[i];
  return out;
}

/**
 * Encoder over the visible patches only. patches: [B, L, P] pixels scaled to [-0.5, 0.5].
 * Returns latents [B, 1 + lenKeep, D] (cls first).
 */
export function encode(p: Params, c: MaeConfig, patches: tf.Tensor3D, grid: Grid, mask: BatchMask): tf.Tensor3D {
  const [B, L] = patches.shape;
  const D = c.embedDim;
  const K = mask.lenKeep;
  if (L !== grid.rows * grid.cols || L !== mask.numPatches || B !== mask.batch) throw new Error(`patch tensor ${patches.shape} does not match grid ${grid.rows}x${grid.cols} and mask`);
  const pos = tf.tensor2d(posTable(D, grid), [L + 1, D]);
  let x = linear(patches, p['patch_embed.proj.weight'], p['patch_embed.proj.bias']);
  x = tf.add(x, tf.slice(pos, [1, 0], [L, D]));
  const vis = gatherRows(tf.reshape(x, [B * L, D]) as tf.Tensor2D, globalIndex(mask.keep, K, L));
  // Sequence [cls, visible...] per sample, built by scattering rows (see ops.scatterRows).
  const T = K + 1;
  const seq = scatterRows(vis, seqIndex(B, K, T, 1), B * T);
  const cls = tf.add(p.cls_token, tf.reshape(tf.slice(pos, [0, 0], [1, D]), [1, 1, D]));
  let h = tf.reshape(tf.add(seq, tf.mul(clsIndicator(B, T), tf.reshape(cls, [1, D]))), [B, T, D]) as tf.Tensor3D;
  for (let i = 0; i < c.depth; i++) h = block(p, `blocks.${i}`, h, c.numHeads);
  return layerNorm(h, p['norm.weight'], p['norm.bias']) as tf.Tensor3D;
}

/**
 * Decoder: rebuilds every patch [B, L, P] from the latents. With interpHint, `hint`
 * [B, L, P] holds an interpolation of each removed patch, `base` [B, L, P] what the
 * output is a residual on (the hint for removed patches, the input for visible ones).
 */
export function decode(p: Params, c: MaeConfig, latent: tf.Tensor3D, grid: Grid, mask: BatchMask, hint?: tf.Tensor3D, base?: tf.Tensor3D): tf.Tensor3D {
  const B = mask.batch;
  const L = mask.numPatches;
  const K = mask.lenKeep;
  const Dd = c.decoderEmbedDim;
  const T = L + 1;
  const y = linear(tf.reshape(latent, [B * (K + 1), -1]), p['decoder_embed.weight'], p['decoder_embed.bias']) as tf.Tensor2D;
  // Row r of the decoder sequence [cls, grid positions...] takes the latent's cls row, the
  // visible token's row, or the shared mask token (scaled by the removed indicator).
  const seqRows = new Int32Array(B * (K + 1));
  for (let b = 0; b < B; b++) {
    seqRows[b * (K + 1)] = b * T;
    for (let k = 0; k < K; k++) seqRows[b * (K + 1) + 1 + k] = b * T + 1 + mask.keep[b * K + k];
  }
  const removedRows = new Float32Array(B * T);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) removedRows[b * T + 1 + l] = mask.removed[b * L + l];
  const removed = tf.tensor2d(removedRows, [B * T, 1]);
  let full: tf.Tensor = scatterRows(y, seqRows, B * T);
  full = tf.add(full, tf.mul(removed, tf.reshape(p.mask_token, [1, Dd])));
  if (c.interpHint) {
    if (!hint) throw new Error('this model needs the interpolation hint of the removed patches');
    const hintRows = scatterRows(tf.reshape(hint, [B * L, patchDim(c)]) as tf.Tensor2D, seqIndex(B, L, T, 1), B * T);
    full = tf.add(full, tf.mul(removed, linear(hintRows, p['decoder_hint.weight'], p['decoder_hint.bias'])));
  }
  const pos = tf.tensor2d(posTable(Dd, grid), [T, Dd]);
  let h = tf.add(tf.reshape(full, [B, T, Dd]), pos) as tf.Tensor3D;
  for (let i = 0; i < c.decoderDepth; i++) h = block(p, `decoder_blocks.${i}`, h, c.decoderNumHeads);
  h = layerNorm(h, p['decoder_norm.weight'], p['decoder_norm.bias']) as tf.Tensor3D;
  const P = patchDim(c);
  const tokens = gatherRows(tf.reshape(h, [B * T, Dd]) as tf.Tensor2D, seqIndex(B, L, T, 1));
  let pred = tf.reshape(linear(tokens, p['decoder_pred.weight'], p['decoder_pred.bias']), [B, L, P]) as tf.Tensor3D;
  if (base) {
    pred = tf.add(pred, base);
    // Visible patches only: a removed patch's base is the (already smooth) interpolation, and
    // sharing one filter between the two pulled the rebuilds off in the probes (docs/MODEL.md).
    if (c.patchSkip) {
      const visible = tf.tensor3d(mask.removed.map((r) => 1 - r), [B, L, 1]);
      pred = tf.add(pred, tf.mul(visible, linear(base, p['decoder_skip.weight']))) as tf.Tensor3D;
    }
  }
  return pred;
}

/** The residual base: the hint where removed, the input where visible (interpHint models). */
export function residualBase(c: MaeConfig, patches: tf.Tensor3D, hint: tf.Tensor3D | undefined, mask: BatchMask): tf.Tensor3D | undefined {
  if (!c.interpHint || c.normPixLoss || !hint) return undefined;
  const removed = tf.tensor3d(mask.removed, [mask.batch, mask.numPatches, 1]);
  return tf.add(tf.mul(removed, hint), tf.mul(tf.sub(1, removed), patches)) as tf.Tensor3D;
}

/** Encoder then decoder: the rebuilt patches [B, L, P]. */
export function forward(p: Params, c: MaeConfig, patches: tf.Tensor3D, grid: Grid, mask: BatchMask, hint?: tf.Tensor3D): tf.Tensor3D {
  const latent = encode(p, c, patches, grid, mask);
  return decode(p, c, latent, grid, mask, hint, residualBase(c, patches, hint, mask));
}

/** Per-patch normalized target (reference norm_pix_loss: own mean and unbiased variance + 1e-6). */
export function normalizeTarget(target: tf.Tensor3D): tf.Tensor3D {
  const P = target.shape[2];
  const { mean, variance } = tf.moments(target, -1, true);
  const unbiased = tf.mul(variance, P / (P - 1));
  return tf.div(tf.sub(target, mean), tf.sqrt(tf.add(unbiased, 1e-6))) as tf.Tensor3D;
}

/**
 * Mean squared error per patch, averaged with `weights` [B, L]. With weights = the removed
 * mask this is the reference loss (removed patches only).
 */
export function maskedLoss(c: MaeConfig, pred: tf.Tensor3D, target: tf.Tensor3D, weights: tf.Tensor2D): tf.Scalar {
  const t = c.normPixLoss ? normalizeTarget(target) : target;
  const perPatch = tf.mean(tf.square(tf.sub(pred, t)), -1);
  return tf.div(tf.sum(tf.mul(perPatch, weights)), tf.maximum(tf.sum(weights), 1e-8)) as tf.Scalar;
}
