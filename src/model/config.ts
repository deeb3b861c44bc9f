/** Model configuration, defaults and cost accounting. */
import { HINT_KINDS, HintKind } from '../image/fill';

export interface MaeConfig {
  /** Side of a square patch in pixels. */
  patchSize: number;
  /** Image channels (3: RGB). */
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  decoderEmbedDim: number;
  decoderDepth: number;
  decoderNumHeads: number;
  mlpRatio: number;
  /** Normalized-pixel target (reference's norm_pix_loss). Off: the model rebuilds absolute pixels. */
  normPixLoss: boolean;
  /**
   * Extension beyond the reference: each removed patch's decoder token also receives an
   * embedding of a cheap interpolation of that patch from the visible pixels, and every
   * output is a residual on top of a base (the interpolation for removed patches, the
   * input for visible ones), so the network learns only the correction.
   */
  interpHint: boolean;
  /** Side of the square window (pixels) the model was trained on; inference tiles with it. */
  windowSize: number;
  /**
   * Extension: a zero-initialised per-patch linear map from each patch's residual base
   * (input or interpolation) straight to its output, beside the transformer's correction.
   * It learns a linear filter per patch (most of a denoiser) in a few hundred steps.
   * Needs interpHint and pixel targets. Models saved without the key have it off.
   */
  patchSkip: boolean;
  /**
   * How the interpolation hint is computed (src/image/fill.ts): `solved` (converged harmonic
   * fill) or `relaxed` (push-pull and a fixed number of sweeps). Inference must use the hint
   * the model was trained with. Models saved without the key are `relaxed`.
   */
  hint: HintKind;
}

export const DEFAULT_CONFIG: MaeConfig = {
  patchSize: 8,
  inChans: 3,
  embedDim: 192,
  depth: 6,
  numHeads: 3,
  decoderEmbedDim: 128,
  decoderDepth: 3,
  decoderNumHeads: 4,
  mlpRatio: 4,
  normPixLoss: false,
  interpHint: true,
  windowSize: 64,
  patchSkip: true,
  hint: 'solved',
};

export class ConfigError extends Error {}

export function validateConfig(c: MaeConfig): MaeConfig {
  const ints: (keyof MaeConfig)[] = ['patchSize', 'inChans', 'embedDim', 'depth', 'numHeads', 'decoderEmbedDim', 'decoderDepth', 'decoderNumHeads', 'windowSize'];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`config.${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.embedDim % c.numHeads !== 0) throw new ConfigError(`embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.decoderEmbedDim % c.decoderNumHeads !== 0)
    throw new ConfigError(`decoderEmbedDim ${c.decoderEmbedDim} is not divisible by decoderNumHeads ${c.decoderNumHeads}`);
  if (c.embedDim % 4 !== 0 || c.decoderEmbedDim % 4 !== 0) throw new ConfigError('embedding widths must be multiples of 4 (2-D sin-cos positional embedding)');
  if (c.patchSkip && (!c.interpHint || c.normPixLoss)) throw new ConfigError('patchSkip needs interpHint and pixel targets (normPixLoss off)');
  if (!HINT_KINDS.includes(c.hint)) throw new ConfigError(`config.hint must be one of ${HINT_KINDS.join(', ')}, got ${String(c.hint)}`);
  if (c.windowSize % c.patchSize !== 0) throw new ConfigError(`windowSize ${c.windowSize} is not a multiple of patchSize ${c.patchSize}`);
  return c;
}

export function patchDim(c: MaeConfig): number {
  return c.patchSize * c.patchSize * c.inChans;
}

/** Multiply-accumulate counts ×2 (FLOPs) of one forward pass. */
export function forwardFlops(c: MaeConfig, numPatches: number, numVisible: number): { encoder: number; decoder: number; total: number } {
  const P = patchDim(c);
  const block = (d: number, tokens: number) => {
    const lin = 2 * tokens * (3 * d * d + d * d + 2 * c.mlpRatio * d * d);
    const attn = 2 * 2 * tokens * tokens * d;
    return lin + attn;
  };
  const encTokens = numVisible + 1;
  const decTokens = numPatches + 1;
  const encoder = 2 * numPatches * P * c.embedDim + c.depth * block(c.embedDim, encTokens);
  const decoder =
    2 * encTokens * c.embedDim * c.decoderEmbedDim +
    (c.interpHint ? 2 * (numPatches - numVisible) * P * c.decoderEmbedDim : 0) +
    c.decoderDepth * block(c.decoderEmbedDim, decTokens) +
    2 * numPatches * c.decoderEmbedDim * P +
    (c.patchSkip ? 2 * numPatches * P * P : 0);
  return { encoder, decoder, total: encoder + decoder };
}
