import * as path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { backendFlag, forceFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../cli/base';
import { shown, STDIO } from '../cli/stdio';
import { DEFAULT_QUALITY, qualityParams } from '../codec';
import { CompressResult, compressFile, Failure, outputPaths, runBatch } from '../codec/files';
import { MaeRunner } from '../model/runner';
import { checkOutputsFree } from '../util/fsx';

export default class Compress extends MaeCommand {
  static summary = 'Compress photos into .mae files (MAE codec).';
  static description =
    'The encoder removes the 8x8 patches the decoder rebuilds best from their surroundings for the bytes they would cost, codes the others with a DCT transform coder, and the decoder lets the MAE rebuild the removed ones. ' +
    '--quality (1..100) sets both the share of removed patches and the DCT quality (table in docs/FORMAT.md); --ratio overrides the removed share. ' +
    'Decoding needs the same model (its id is stored in the file). With several inputs, -o is a folder and one .mae is written per input; a batch goes on past a bad file, reports the failures at the end and exits with 1. ' +
    'Files are written atomically and an existing output is only replaced with --force. ' +
    "'-' reads the image from standard input; -o - writes the .mae file to standard output (messages then go to stderr).";

  static examples = [
    '<%= config.bin %> compress photo.png -o photo.mae',
    '<%= config.bin %> compress photo.png -o photo.mae --quality 30 --verify',
    '<%= config.bin %> compress a.png b.png -o out/ --json',
    '<%= config.bin %> compress - -o - < photo.png > photo.mae',
  ];

  static strict = false;

  static args = {
    images: Args.string({ description: 'image(s) to compress', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: "output .mae file, folder for several inputs, or - for standard output (default: beside each input; standard output for input -)" }),
    quality: Flags.integer({ char: 'q', description: 'quality 1..100 (sets the removed share and the DCT quality)', default: DEFAULT_QUALITY, min: 1, max: 100 }),
    ratio: Flags.string({ description: 'share of patches to remove, 0 <= R < 1 (overrides the quality table)' }),
    verify: Flags.boolean({ description: 'decode each file after writing it and report PSNR and SSIM against the input', default: false }),
    force: forceFlag,
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<CompressResult | { files: CompressResult[]; failures: Failure[] }> {
    const { argv, flags } = await this.parse(Compress);
    const inputs = argv as string[];
    let ratio: number | undefined;
    if (flags.ratio !== undefined) {
      ratio = Number(flags.ratio);
      if (!(flags.ratio.trim() !== '' && ratio >= 0 && ratio < 1)) this.error(`--ratio must be a number with 0 <= R < 1, got '${flags.ratio}'`, { exit: 2 });
    }
    const params = qualityParams(flags.quality, ratio);
    const { outputs } = outputPaths(inputs, flags.output, '.mae');
    if (outputs[0] === STDIO) this.claimStdout('the .mae file');
    checkOutputsFree(outputs, flags.force);
    let loading: Promise<MaeRunner> | null = null;
    const threads = threadsFrom(flags.threads);
    const runner = () => (loading ??= MaeRunner.load(flags.model, flags.backend, { threads }));
    const bar = this.progress();
    const many = inputs.length > 1;
    const { files, failures } = await runBatch(
      inputs,
      (i) =>
        compressFile(inputs[i], outputs[i], runner, {
          quality: params.quality,
          ratio: params.ratio,
          verify: flags.verify,
          overwrite: flags.force,
          onProgress: (d, t) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}verifying ${path.basename(inputs[i])}: window ${d}/${t}`),
        }),
      (i) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}compressing ${path.basename(inputs[i])}`),
    );
    bar.done();
    for (const r of files) {
      const v = r.psnr !== undefined ? `, PSNR ${Number.isFinite(r.psnr) ? r.psnr.toFixed(2) : 'inf'} dB, SSIM ${r.ssim!.toFixed(4)}` : '';
      this.log(`${shown(r.input, 'input')} (${r.width}x${r.height}) -> ${shown(r.output, 'output')}: ${r.bytes} bytes, ${r.bpp.toFixed(3)} bpp (quality ${r.quality}: ratio ${r.ratio}, DCT quality ${r.dctQuality})${v}`);
    }
    this.reportFailures(failures, inputs.length);
    return many ? { files, failures } : files[0];
  }
}
