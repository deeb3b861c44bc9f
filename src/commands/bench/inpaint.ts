import { Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../../cli/base';
import { ProgressLine } from '../../cli/progress';
import { formatTable } from '../../cli/table';
import { benchInpaint, InpaintRow } from '../../bench/inpaint';
import { MASK_KINDS, MaskKind } from '../../inpaint/masks';

export default class BenchInpaint extends MaeCommand {
  static summary = 'How well does the MAE fill holes, next to classical inpainting?';
  static description =
    'For each image and each mask kind (random 16-pixel squares over 25% and 50% of the image, brush strokes over 10-25%, one box of up to a quarter; seeded), ' +
    'fills the holes with the MAE, with OpenCV Telea and Navier-Stokes when @techstark/opencv-js is installed, and with harmonic interpolation. ' +
    'Prints the PSNR over the hole pixels, the SSIM of the whole image and the seconds per image.';

  static examples = ['<%= config.bin %> bench inpaint --data ../shared/datasets/kodak24 --limit 3', '<%= config.bin %> bench inpaint --data ../shared/datasets/kodak24 --masks boxes,strokes --json'];

  static flags = {
    data: Flags.string({ description: 'folder of test images', required: true }),
    limit: Flags.integer({ description: 'first N images only', min: 1 }),
    masks: Flags.string({ description: `mask kinds, comma-separated (${MASK_KINDS.join(', ')})`, default: MASK_KINDS.join(',') }),
    seed: Flags.integer({ description: 'mask seed', default: 0 }),
    stride: Flags.integer({ description: 'window stride in patches (default: half a window)', min: 1 }),
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<{ rows: InpaintRow[]; notes: string[] }> {
    const { flags } = await this.parse(BenchInpaint);
    const threads = threadsFrom(flags.threads);
    const masks = flags.masks.split(',').map((s) => s.trim()) as MaskKind[];
    const bad = masks.filter((m) => !MASK_KINDS.includes(m));
    if (bad.length || masks.length === 0) this.error(`unknown mask kind '${bad[0] ?? ''}' (one of ${MASK_KINDS.join(', ')})`, { exit: 2 });
    const bar = new ProgressLine(!this.jsonEnabled() && !this.quiet, true);
    const notes: string[] = [];
    const rows = await benchInpaint({
      data: flags.data,
      limit: flags.limit,
      seed: flags.seed,
      masks,
      model: flags.model,
      backend: flags.backend,
      threads,
      inpaint: { stride: flags.stride },
      onProgress: (m) => bar.update(m),
      onNote: (m) => {
        notes.push(m);
        bar.log(`note: ${m}`);
      },
    });
    bar.done();
    this.log(
      formatTable(
        ['mask', 'cover', 'method', 'PSNR masked (dB)', 'SSIM', 's/image'],
        rows.map((r) => [r.mask, `${(100 * r.coverage).toFixed(0)}%`, r.method, r.psnrMasked.toFixed(2), r.ssim.toFixed(4), r.secondsPerImage.toFixed(2)]),
      ),
    );
    this.log(`the MAE ran on ${threads} thread(s) per image (--threads), the peers on one`);
    return { rows, notes };
  }
}
