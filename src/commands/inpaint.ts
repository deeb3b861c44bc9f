import * as path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag } from '../cli/base';
import { ProgressLine } from '../cli/progress';
import { readRgb, writeRgb } from '../image/io';
import { countHoles, holesFromMask, inpaint } from '../inpaint';
import { MaeRunner } from '../model/runner';

const OUTPUT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff'];

export interface InpaintResult {
  input: string;
  mask: string;
  output: string;
  width: number;
  height: number;
  /** Pixels filled (set in the mask). */
  filled: number;
  seconds: number;
}

export default class Inpaint extends MaeCommand {
  static summary = 'Fill the masked parts of a photo with the MAE.';
  static description =
    'The mask is an image of the same size as the photo; pixels with any non-zero colour channel are filled, all others are kept exactly. ' +
    'The masked pixels of the photo are never read. The output format follows its extension (png, jpg, webp, avif, tif) and is written atomically.';

  static examples = ['<%= config.bin %> inpaint photo.png --mask mask.png -o filled.png', '<%= config.bin %> inpaint photo.jpg --mask scratches.png -o fixed.png --json'];

  static args = {
    image: Args.string({ description: 'photo to repair', required: true }),
  };

  static flags = {
    mask: Flags.string({ description: 'mask image (non-zero = fill), same size as the photo', required: true }),
    output: Flags.string({ char: 'o', description: 'output image', required: true }),
    stride: Flags.integer({ description: 'window stride in patches (default: half a window)', min: 1 }),
    model: modelFlag,
    backend: backendFlag,
  };

  async run(): Promise<InpaintResult> {
    const { args, flags } = await this.parse(Inpaint);
    const t0 = process.hrtime.bigint();
    const ext = path.extname(flags.output).toLowerCase();
    if (!OUTPUT_EXTENSIONS.includes(ext)) this.error(`unsupported output format '${ext || flags.output}' (use ${OUTPUT_EXTENSIONS.join(', ')})`, { exit: 2 });
    const [img, maskImg] = await Promise.all([readRgb(args.image), readRgb(flags.mask)]);
    if (maskImg.width !== img.width || maskImg.height !== img.height)
      this.error(`mask is ${maskImg.width}x${maskImg.height}, the image is ${img.width}x${img.height}`, { exit: 1 });
    const holes = holesFromMask(maskImg);
    const filled = countHoles(holes);
    if (filled === 0) this.error(`mask ${flags.mask} is empty: no non-zero pixel marks anything to fill`, { exit: 1 });
    const runner = await MaeRunner.load(flags.model, flags.backend);
    const bar = new ProgressLine(!this.jsonEnabled());
    const out = inpaint(runner, img, holes, {
      stride: flags.stride,
      onProgress: (d, t, pass, passes) => bar.update(`inpainting${passes > 1 ? ` (pass ${pass}/${passes})` : ''}: window ${d}/${t}`),
    });
    bar.done();
    await writeRgb(flags.output, out);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.log(`filled ${filled} pixels (${((100 * filled) / (img.width * img.height)).toFixed(1)}%) of ${args.image} (${img.width}x${img.height}) -> ${flags.output} in ${seconds.toFixed(1)} s`);
    return { input: args.image, mask: flags.mask, output: flags.output, width: img.width, height: img.height, filled, seconds };
  }
}
