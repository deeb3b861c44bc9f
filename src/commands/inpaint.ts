import { Args, Flags } from '@oclif/core';
import { inpaint } from '../api';
import { backendFlag, forceFlag, formatFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../cli/base';
import { STDIO } from '../cli/stdio';
import { checkNotInputs, outputFormat, readImageArgKeepingAlpha, writeBytesArg, writeImageArg } from '../codec/files';
import { decodeDeep, DEEP_FORMATS, DeepImage, encodeDeep, probeImage, RgbImage } from '../image/io';
import { fillTransparent } from '../image/alpha';
import { checkHoles, holesFromMask, InpaintError } from '../inpaint';
import { MaeRunner } from '../model/runner';
import { UsageError } from '../util/errors';
import { checkOutputsFree } from '../util/fsx';

export interface InpaintResult {
  input: string;
  mask: string;
  output: string;
  width: number;
  height: number;
  /** Pixels filled (set in the mask). */
  filled: number;
  /** Bits per sample of the output: 16 for a 16-bit PNG or TIFF written as PNG or TIFF, else 8. */
  bits: 8 | 16;
  seconds: number;
}

export default class Inpaint extends MaeCommand {
  static summary = 'Fill the masked parts of a photo with the MAE.';
  static description =
    'The mask is an image of the same size as the photo; pixels with any non-zero colour channel are filled (a fully transparent mask pixel never is), all others are kept exactly. ' +
    'The masked pixels of the photo are never read. A grey photo (R = G = B at every known pixel) is filled with grey and written in one grey channel; transparency is kept (not in JPEG outputs), and a 16-bit file written as PNG or TIFF stays 16-bit (its known pixels exactly). The output format follows its extension (png, jpg, webp, avif, tif) and is written atomically; ' +
    "an existing output is only replaced with --force. The photo (or the mask) can be '-' for standard input, and -o - writes to standard output.";

  static examples = ['<%= config.bin %> inpaint photo.png --mask mask.png -o filled.png', '<%= config.bin %> inpaint photo.jpg --mask scratches.png -o fixed.png --json', '<%= config.bin %> inpaint - --mask mask.png -o - < photo.png > filled.png', '<%= config.bin %> inpaint photo.png --mask mask.png -o smoother.png --tension 1'];

  static args = {
    image: Args.string({ description: 'photo to repair', required: true }),
  };

  static flags = {
    mask: Flags.string({ description: 'mask image (non-zero = fill), same size as the photo', required: true }),
    output: Flags.string({ char: 'o', description: 'output image, or - for standard output (PNG, or --format)', required: true }),
    format: formatFlag,
    stride: Flags.integer({ description: 'window stride in patches (default: half a window)', min: 1 }),
    tension: Flags.string({ description: 'tension of the spline fill whose correction of the harmonic fill is added to the model output (default 0: off; try 1)' }),
    force: forceFlag,
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<InpaintResult> {
    const { args, flags } = await this.parse(Inpaint);
    const t0 = process.hrtime.bigint();
    const format = outputFormat(flags.output, flags.format);
    const tension = flags.tension === undefined ? undefined : parseTension(flags.tension);
    if (args.image === STDIO && flags.mask === STDIO) throw new UsageError("only one of the image and the mask can be '-' (standard input)");
    checkNotInputs([flags.output], [args.image, flags.mask]);
    if (flags.output === STDIO) this.claimStdout('the image');
    checkOutputsFree([flags.output], flags.force);
    // A 16-bit PNG or TIFF written as PNG or TIFF stays 16-bit: the model fills the holes from the photo at 8 bits, the known pixels keep their 16.
    const deep = args.image !== STDIO && DEEP_FORMATS.includes(format) && (await probeImage(args.image)).bits === 16 ? await decodeDeep(args.image) : null;
    const [{ image: read, alpha }, { image: maskImg, alpha: maskAlpha }] = await Promise.all([deep ? deepTo8(deep) : readImageArgKeepingAlpha(args.image), readImageArgKeepingAlpha(flags.mask)]);
    // Checked before the model loads.
    if (maskImg.width !== read.width || maskImg.height !== read.height) throw new InpaintError(`mask is ${maskImg.width}x${maskImg.height}, the image is ${read.width}x${read.height}`);
    const holes = holesFromMask(maskImg, maskAlpha);
    const filled = checkHoles(holes, `mask ${flags.mask}`);
    // Transparent pixels' colour, which nobody sees, takes the fill of the visible known ones (never the masked ones).
    const img = alpha ? fillTransparent(read, alpha, holes) : read;
    const runner = await MaeRunner.load(flags.model, flags.backend, { threads: threadsFrom(flags.threads) });
    const bar = this.progress();
    const out = await inpaint(img, { width: img.width, height: img.height, holes }, {
      model: runner,
      stride: flags.stride,
      tension,
      onProgress: (d, t, pass, passes) => bar.update(`inpainting${passes > 1 ? ` (pass ${pass}/${passes})` : ''}: window ${d}/${t}`),
    });
    bar.done();
    // A grey photo (R = G = B at every known pixel, and so at every filled one) is written grey; transparency is kept.
    if (deep) {
      const data = Float32Array.from(deep.data);
      for (let i = 0; i < holes.length; i++) if (holes[i]) for (let c = 0; c < 3; c++) data[i * 3 + c] = out.data[i * 3 + c];
      await writeBytesArg(flags.output, await encodeDeep({ ...deep, data }, format, { grey: true }), flags.force);
    } else await writeImageArg(flags.output, out, { overwrite: flags.force, format: flags.format, grey: true, alpha });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.log(`filled ${filled} pixels (${((100 * filled) / (img.width * img.height)).toFixed(1)}%) of ${args.image} (${img.width}x${img.height}) -> ${flags.output} in ${seconds.toFixed(1)} s`);
    return { input: args.image, mask: flags.mask, output: flags.output, width: img.width, height: img.height, filled, bits: deep ? 16 : 8, seconds };
  }
}

/** A 16-bit image at 8 bits (colour and alpha rounded), as the model reads it. */
async function deepTo8(d: DeepImage): Promise<{ image: RgbImage; alpha: Uint8Array | null }> {
  const image = { width: d.width, height: d.height, data: Uint8Array.from(d.data, (v) => Math.max(0, Math.min(255, Math.round(v)))) };
  return { image, alpha: d.alpha ? Uint8Array.from(d.alpha, (a) => Math.round(a / 257)) : null };
}

/** The --tension flag's value: a number from 0 up. */
function parseTension(v: string): number {
  const t = Number(v);
  if (v.trim() === '' || !Number.isFinite(t) || t < 0) throw new UsageError(`--tension must be a number from 0 up, got ${v}`);
  return t;
}
