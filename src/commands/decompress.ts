import * as path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { backendFlag, forceFlag, formatFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../cli/base';
import { shown, STDIO } from '../cli/stdio';
import { DecompressResult, decompressFile, Failure, outputFormat, outputPaths, runBatch } from '../codec/files';
import { MaeRunner } from '../model/runner';
import { checkOutputsFree } from '../util/fsx';

export default class Decompress extends MaeCommand {
  static summary = 'Decode .mae files back into images.';
  static description =
    'Decodes the kept patches and lets the MAE rebuild the removed ones. A file with removed patches (quality under 15 by default) needs the model that encoded it (checked by its id); ' +
    'a file whose patches were all kept decodes without loading any model. ' +
    'The output format follows the extension (png, jpg, webp, avif, tif). With several inputs, -o is a folder and one PNG is written per input; ' +
    'a batch goes on past a bad file, reports the failures at the end and exits with 1. Without -o, the image goes beside the .mae as PNG. ' +
    "An existing output is only replaced with --force. '-' reads the .mae file from standard input and -o - writes the image to standard output (PNG, or --format).";

  static examples = ['<%= config.bin %> decompress photo.mae -o photo.png', '<%= config.bin %> decompress out/*.mae -o restored/ --json', '<%= config.bin %> decompress - < photo.mae > photo.png'];

  static strict = false;

  static args = {
    files: Args.string({ description: '.mae file(s) to decode', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'output image, folder for several inputs, or - for standard output (default: beside each input, .png; standard output for input -)' }),
    format: formatFlag,
    force: forceFlag,
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<DecompressResult | { files: DecompressResult[]; failures: Failure[] }> {
    const { argv, flags } = await this.parse(Decompress);
    const inputs = argv as string[];
    const { outputs } = outputPaths(inputs, flags.output, `.${flags.format ?? 'png'}`);
    for (const o of outputs) outputFormat(o, flags.format);
    if (outputs[0] === STDIO) this.claimStdout('the image');
    checkOutputsFree(outputs, flags.force);
    let loading: Promise<MaeRunner> | null = null;
    const threads = threadsFrom(flags.threads);
    const runner = () => (loading ??= MaeRunner.load(flags.model, flags.backend, { threads }));
    const bar = this.progress();
    const many = inputs.length > 1;
    const { files, failures } = await runBatch(
      inputs,
      (i) =>
        decompressFile(inputs[i], outputs[i], runner, {
          overwrite: flags.force,
          format: flags.format,
          onProgress: (d, t) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}decoding ${path.basename(inputs[i])}: window ${d}/${t}`),
        }),
      (i) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}decoding ${path.basename(inputs[i])}`),
    );
    bar.done();
    for (const r of files) this.log(`${shown(r.input, 'input')} (${r.bytes} bytes, ${r.bpp.toFixed(3)} bpp) -> ${shown(r.output, 'output')} (${r.width}x${r.height}) in ${(r.decodeMs / 1000).toFixed(1)} s`);
    this.reportFailures(failures, inputs.length);
    return many ? { files, failures } : files[0];
  }
}
