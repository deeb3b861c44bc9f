import { Args, Flags } from '@oclif/core';
import { forceFlag, MaeCommand } from '../cli/base';
import { formatTable } from '../cli/table';
import { metrics } from '../api';
import { STDIO } from '../cli/stdio';
import { checkNotInputs, outputFormat, readImageArg, writeImageArg } from '../codec/files';
import { CompareResult } from '../metrics';
import { UsageError } from '../util/errors';
import { checkOutputsFree } from '../util/fsx';

export default class Metrics extends MaeCommand {
  static summary = 'Compare a candidate image with a reference: PSNR, SSIM and mismatched pixels.';
  static description =
    'PSNR (dB, over all RGB values) and SSIM (Gaussian window sigma 1.5, per channel then averaged, as scikit-image) of the candidate against the reference, ' +
    'plus the number of pixels pixelmatch considers different (threshold 0.1). Both images must have the same size. ' +
    '--diff writes pixelmatch\'s diff image (an existing file only with --force). With --json, psnr is null when the images are identical (infinite PSNR). ' +
    "Either image can be '-' for standard input.";

  static examples = [
    '<%= config.bin %> metrics photo.png restored.png',
    '<%= config.bin %> metrics photo.png restored.png --diff diff.png',
    '<%= config.bin %> metrics photo.png restored.png --json',
  ];

  static args = {
    reference: Args.string({ description: 'reference image', required: true }),
    candidate: Args.string({ description: 'image to evaluate', required: true }),
  };

  static flags = {
    diff: Flags.string({ description: 'write a diff image (mismatched pixels in red) to this file' }),
    force: forceFlag,
  };

  async run(): Promise<CompareResult> {
    const { args, flags } = await this.parse(Metrics);
    if (args.reference === STDIO && args.candidate === STDIO) throw new UsageError("only one of the two images can be '-' (standard input)");
    if (flags.diff !== undefined) {
      if (flags.diff === STDIO) throw new UsageError('--diff needs a file name');
      outputFormat(flags.diff);
      checkNotInputs([flags.diff], [args.reference, args.candidate]);
      checkOutputsFree([flags.diff], flags.force);
    }
    const [ref, cand] = await Promise.all([readImageArg(args.reference), readImageArg(args.candidate)]);
    const { diff, ...res } = await metrics(ref, cand, { diff: flags.diff !== undefined });
    if (diff && flags.diff) await writeImageArg(flags.diff, diff, { overwrite: flags.force });
    const rows = [
      ['width x height', `${res.width}x${res.height}`],
      ['PSNR (dB)', Number.isFinite(res.psnr) ? res.psnr.toFixed(2) : 'Infinity'],
      ['SSIM', res.ssim.toFixed(4)],
      ['mismatched pixels', String(res.mismatchedPixels)],
      ['mismatched share (%)', (100 * res.mismatchedShare).toFixed(2)],
    ];
    if (flags.diff) rows.push(['diff image', flags.diff]);
    this.log(formatTable(['metric', 'value'], rows));
    return res;
  }
}
