/**
 * mae-cli as a library: compress, denoise and inpaint photos with a Masked Autoencoder.
 *
 *   import { loadModel, compress, decompress } from 'mae-cli';
 *   const model = await loadModel();                       // the shipped model, once
 *   const mae = await compress(pngBytes, { model, quality: 30 });
 *   const img = await decompress(mae, { model });          // { width, height, data: RGB bytes }
 *
 * Images are encoded bytes (PNG, JPEG, ...) or raw 8-bit RGB pixels (RawImage). Every
 * function validates its input and throws an Error subclass with a one-line message.
 */
export {
  compress,
  compressParams,
  decompress,
  denoise,
  denoiseFile,
  inpaint,
  inspect,
  loadModel,
  metrics,
  toImageBytes,
  toRawImage,
} from './api';
export type {
  CompressOptions,
  DecompressOptions,
  DenoisedImage,
  DenoiseFileOptions,
  DenoiseFileResult,
  DenoiseOptions,
  HoleMask,
  ImageFormat,
  ImageInput,
  InpaintOptions,
  MaeHeader,
  MetricsOptions,
  MetricsResult,
  Model,
  ModelOptions,
  ProgressOptions,
  RawImage,
} from './api';
export { CodecError } from './codec/container';
export { ImageError } from './image/io';
export { InpaintError } from './inpaint';
export { SizeMismatchError } from './metrics';
export { ModelError } from './model/weights';
export { UsageError } from './util/errors';
export { OutputExistsError } from './util/fsx';
export { DEFAULT_MAX_PIXELS } from './util/limits';
