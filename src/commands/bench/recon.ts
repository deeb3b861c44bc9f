import { Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../../cli/base';
import { ProgressLine } from '../../cli/progress';
import { benchRecon, ReconRow } from '../../bench/recon';
import { formatTable } from '../../cli/table';

export default class BenchRecon extends MaeCommand {
  static summary = 'Does the MAE rebuild removed patches better than interpolation?';
  static description =
    'Removes random patches (seeded) at each ratio and rebuilds them with the MAE, with harmonic interpolation from the visible pixels, and with OpenCV Telea and Navier-Stokes inpainting when @techstark/opencv-js is installed. ' +
    'Prints PSNR over the removed pixels, PSNR and SSIM of the whole composite, and seconds per image.';

  static examples = ['<%= config.bin %> bench recon --data ../shared/datasets/kodak24', '<%= config.bin %> bench recon --data ../shared/datasets/kodak24 --ratio 0.5,0.75 --limit 4 --json'];

  static flags = {
    data: Flags.string({ description: 'folder of test images', required: true }),
    ratio: Flags.string({ description: 'mask ratio(s), comma-separated', default: '0.75' }),
    limit: Flags.integer({ description: 'first N images only', min: 1 }),
    seed: Flags.integer({ description: 'mask seed', default: 0 }),
    stride: Flags.integer({ description: 'window stride in patches (default: half a window)', min: 1 }),
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<{ rows: ReconRow[] }> {
    const { flags } = await this.parse(BenchRecon);
    const threads = threadsFrom(flags.threads);
    const ratios = flags.ratio.split(',').map((s) => Number(s.trim()));
    if (ratios.some((r) => !(r > 0 && r < 1))) this.error(`--ratio must be numbers between 0 and 1, got '${flags.ratio}'`, { exit: 2 });
    const bar = new ProgressLine(!this.jsonEnabled() && !this.quiet, true);
    const rows = await benchRecon({ data: flags.data, ratios, limit: flags.limit, seed: flags.seed, stride: flags.stride, model: flags.model, backend: flags.backend, threads, onProgress: (m) => bar.update(m) });
    bar.done();
    this.log(
      formatTable(
        ['ratio', 'method', 'PSNR removed (dB)', 'PSNR (dB)', 'SSIM', 's/image'],
        rows.map((r) => [r.ratio.toFixed(2), r.method, r.psnrRemoved.toFixed(2), r.psnr.toFixed(2), r.ssim.toFixed(4), r.secondsPerImage.toFixed(2)]),
      ),
    );
    this.log(`the MAE ran on ${threads} thread(s) per image (--threads), the peers on one`);
    return { rows };
  }
}
