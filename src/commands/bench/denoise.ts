import { Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../../cli/base';
import { ProgressLine } from '../../cli/progress';
import { formatTable } from '../../cli/table';
import { benchDenoise, DenoiseRow, PUBLISHED_BSD68, PUBLISHED_CBSD68 } from '../../bench/denoise';

export default class BenchDenoise extends MaeCommand {
  static summary = 'How well does the MAE remove Gaussian noise, next to classical filters?';
  static description =
    'Adds seeded Gaussian noise of each sigma (0..255 scale) to every image, unclipped as in the published tables, and denoises it with the MAE (blind), ' +
    'a Gaussian blur and a median filter (through sharp, strength by a fixed rule per sigma). OpenCV non-local means is skipped: the @techstark/opencv-js build has none. ' +
    'Prints PSNR and SSIM on the 8-bit RGB results and seconds per image, then published CBSD68 numbers of CBM3D, DnCNN and DRUNet for context (not measured here).';

  static examples = [
    '<%= config.bin %> bench denoise --data ../shared/datasets/cbsd68',
    '<%= config.bin %> bench denoise --data ../shared/datasets/cbsd68 --sigma 25 --limit 4 --json',
    '<%= config.bin %> bench denoise --data ../shared/datasets/cbsd68 --grey',
  ];

  static flags = {
    data: Flags.string({ description: 'folder of clean test images', required: true }),
    sigma: Flags.string({ description: 'noise sigma(s) on the 0..255 scale, comma-separated', default: '15,25,50' }),
    limit: Flags.integer({ description: 'first N images only', min: 1 }),
    seed: Flags.integer({ description: 'noise seed', default: 0 }),
    grey: Flags.boolean({ description: 'make every image grey (as MATLAB rgb2gray) with the same noise in R, G and B: a grey benchmark (CBSD68 made grey is BSD68)', default: false }),
    stride: Flags.integer({ description: 'MAE window stride in patches (default: a whole window, no overlap)', min: 1 }),
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<{ rows: DenoiseRow[]; notes: string[]; estimatedSigma: Record<number, number>; published: typeof PUBLISHED_CBSD68 }> {
    const { flags } = await this.parse(BenchDenoise);
    const threads = threadsFrom(flags.threads);
    const sigmas = flags.sigma.split(',').map((s) => Number(s.trim()));
    if (sigmas.some((s) => !(s > 0 && s <= 255))) this.error(`--sigma must be numbers from 0 to 255, got '${flags.sigma}'`, { exit: 2 });
    const bar = new ProgressLine(!this.jsonEnabled() && !this.quiet, true);
    const res = await benchDenoise({
      data: flags.data,
      sigmas,
      limit: flags.limit,
      seed: flags.seed,
      stride: flags.stride,
      grey: flags.grey,
      model: flags.model,
      backend: flags.backend,
      threads,
      onProgress: (m) => bar.update(m),
    });
    bar.done();
    this.log(
      formatTable(
        ['sigma', 'method', 'PSNR (dB)', 'SSIM', 's/image'],
        res.rows.map((r) => [String(r.sigma), r.method, r.psnr.toFixed(2), r.ssim.toFixed(4), r.secondsPerImage.toFixed(2)]),
      ),
    );
    this.log(`\n${res.rows[0]?.images ?? 0} image(s) per sigma. MAE estimated sigma (mean): ${Object.entries(res.estimatedSigma).map(([s, e]) => `${e.toFixed(1)} at ${s}`).join(', ')}`);
    for (const n of res.notes) this.log(`note: ${n}`);
    const published = flags.grey ? PUBLISHED_BSD68 : PUBLISHED_CBSD68;
    this.log(`\nPublished ${flags.grey ? 'BSD68 (grey)' : 'CBSD68'} PSNR (dB), from the papers, NOT measured here (all 68 images; context only${flags.grey ? '; their grey files may round differently from rgb2gray here' : ''}):`);
    const levels = [15, 25, 50];
    this.log(formatTable(['method', ...levels.map((s) => `sigma ${s}`), 'source'], published.map((p) => [p.method, ...levels.map((s) => p.psnr[s].toFixed(2)), p.source])));
    this.log(`the MAE ran on ${threads} thread(s) per image (--threads), the peers on one`);
    return { ...res, published };
  }
}
