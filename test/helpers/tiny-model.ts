/** A tiny untrained model for the command tests: fast, and independent of the shipped one. */
import { DEFAULT_CONFIG, MaeConfig, validateConfig } from '../../src/model/config';
import { initValues } from '../../src/model/mae';
import { saveModel } from '../../src/model/weights';

export const TINY_CONFIG: MaeConfig = validateConfig({
  ...DEFAULT_CONFIG,
  patchSize: 8,
  embedDim: 16,
  depth: 1,
  numHeads: 2,
  decoderEmbedDim: 16,
  decoderDepth: 1,
  decoderNumHeads: 2,
  windowSize: 64,
  interpHint: true,
});

/** Writes the tiny model (initialised with `seed`) into `dir`; returns its id. */
export function saveTinyModel(dir: string, seed = 1): string {
  return saveModel(dir, TINY_CONFIG, initValues(TINY_CONFIG, seed));
}
