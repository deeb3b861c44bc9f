import * as fs from 'node:fs';
import * as path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag } from '../cli/base';
import { ProgressLine } from '../cli/progress';
import { DECODE_EXTENSIONS, DecompressResult, decompressFile, Failure, outputPaths, runBatch, UsageError } from '../codec/files';
import { MaeRunner } from '../model/runner';

export default class Decompress extends MaeCommand {
  static summary = 'Decode .mae files back into images.';
  static description =
    'Decodes the kept patches and lets the MAE rebuild the removed ones. The model must be the one that encoded the file (checked by its id). ' +
    'The output format follows the extension (png, jpg, webp, avif, tif). With several inputs, -o is a folder and one PNG is written per input; ' +
    'a batch goes on past a bad file, reports the failures at the end and exits with 1. Without -o, the image goes beside the .mae as PNG (never over an existing file).';

  static examples = ['<%= config.bin %> decompress photo.mae -o photo.png', '<%= config.bin %> decompress out/*.mae -o restored/ --json'];

  static strict = false;

  static args = {
    files: Args.string({ description: '.mae file(s) to decode', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'output image, or folder for several inputs (default: beside each input, .png)' }),
    model: modelFlag,
    backend: backendFlag,
  };

  async run(): Promise<DecompressResult | { files: DecompressResult[]; failures: Failure[] }> {
    const { argv, flags } = await this.parse(Decompress);
    const inputs = argv as string[];
    const { outputs } = outputPaths(inputs, flags.output, '.png');
    const bad = outputs.find((o) => !DECODE_EXTENSIONS.includes(path.extname(o).toLowerCase()));
    if (bad) throw new UsageError(`unsupported output format '${path.extname(bad) || bad}' (use ${DECODE_EXTENSIONS.join(', ')})`);
    const runner = await MaeRunner.load(flags.model, flags.backend);
    const bar = new ProgressLine(!this.jsonEnabled());
    const many = inputs.length > 1;
    const { files, failures } = await runBatch(
      inputs,
      async (i) => {
        if (flags.output === undefined && fs.existsSync(outputs[i])) throw new Error(`${outputs[i]} exists: pass -o to choose the output`);
        return decompressFile(inputs[i], outputs[i], runner, (d, t) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}decoding ${path.basename(inputs[i])}: window ${d}/${t}`));
      },
      (i) => bar.update(`${many ? `${i + 1}/${inputs.length} ` : ''}decoding ${path.basename(inputs[i])}`),
    );
    bar.done();
    for (const r of files) this.log(`${r.input} (${r.bytes} bytes, ${r.bpp.toFixed(3)} bpp) -> ${r.output} (${r.width}x${r.height}) in ${(r.decodeMs / 1000).toFixed(1)} s`);
    this.reportFailures(failures, inputs.length);
    return many ? { files, failures } : files[0];
  }
}
