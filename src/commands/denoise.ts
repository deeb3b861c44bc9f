import * as os from 'node:os';
import { Args, Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag } from '../cli/base';
import { ProgressLine } from '../cli/progress';
import { BatchOutcome, denoiseBatch } from '../denoise/batch';
import { FileResult } from '../denoise/file';
import { expandInputs, planOutputs } from '../denoise/inputs';

interface DenoiseJson {
  files: FileResult[];
  failed: { input: string; output: string; error: string }[];
  model: string;
  backend: string;
  jobs: number;
}

export default class Denoise extends MaeCommand {
  static summary = 'Remove Gaussian-like noise from photographs with the MAE.';
  static description =
    'Each image goes through the MAE with no patch removed, over overlapping windows blended together; the model returns its clean estimate of every patch. ' +
    'The model is blind to the noise level: --sigma (0..255 scale, default: estimated from each image) only sets how much of the noisy input is kept. ' +
    'Inputs are files, folders (their images) or glob patterns. The output is a folder (one PNG per input, same base name) or, for a single input, a file. ' +
    'Images run in parallel in --jobs worker threads; a file that fails is reported at the end and the others still run (exit code 1 if any failed).';

  static examples = [
    '<%= config.bin %> denoise noisy/*.png -o clean/',
    '<%= config.bin %> denoise photo.jpg -o photo-clean.png --sigma 25',
    '<%= config.bin %> denoise noisy/ -o clean/ --jobs 2 --json',
  ];

  static strict = false;

  static args = {
    inputs: Args.string({ description: 'image files, folders or glob patterns', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'output folder, or output file for a single input', required: true }),
    sigma: Flags.string({ description: "noise sigma on the 0..255 scale, or 'auto' to estimate it per image", default: 'auto' }),
    jobs: Flags.integer({ char: 'j', description: 'images processed in parallel (worker threads; default: number of cores)', min: 1 }),
    stride: Flags.integer({ description: 'window stride in patches (default: half a window)', min: 1 }),
    model: modelFlag,
    backend: backendFlag,
  };

  async run(): Promise<DenoiseJson> {
    const { argv, flags } = await this.parse(Denoise);
    const sigma = parseSigma(flags.sigma);
    if (sigma === null) this.error(`--sigma must be a number from 0 to 255 or 'auto', got '${flags.sigma}'`, { exit: 2 });
    const plan = planOutputs(expandInputs(argv as string[]), flags.output);
    const jobs = flags.jobs ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    const bar = new ProgressLine(!this.jsonEnabled());
    const t0 = Date.now();
    const res = await denoiseBatch(plan, {
      jobs,
      sigma,
      stride: flags.stride,
      model: flags.model,
      backend: flags.backend,
      onProgress: (finished, running, total) => {
        const frac = running.reduce((a, b) => a + b, 0);
        const done = finished + frac;
        const elapsed = (Date.now() - t0) / 1000;
        const eta = done > 0 ? (elapsed * (total - done)) / done : NaN;
        bar.update(`denoise ${finished}/${total} done${running.length ? `, ${running.length} running` : ''}  ${Math.round((100 * done) / total)}%  ETA ${ProgressLine.duration(eta)}`);
      },
      onResult: (r) =>
        bar.log(r.ok ? `${r.input} -> ${r.output}  ${r.width}x${r.height}  sigma ${r.sigma.toFixed(1)}${r.sigmaEstimated ? ' (estimated)' : ''}  ${r.seconds.toFixed(1)} s` : `${r.input}: FAILED: ${r.error}`),
    });
    bar.done();
    const files = res.outcomes.filter((r): r is Extract<BatchOutcome, { ok: true }> => r.ok).map(({ ok: _ok, ...r }) => r);
    const failed = res.outcomes.filter((r): r is Extract<BatchOutcome, { ok: false }> => !r.ok).map(({ input, output, error }) => ({ input, output, error }));
    if (failed.length) {
      process.stderr.write(`mae: ${failed.length} of ${res.outcomes.length} image(s) failed:\n`);
      for (const f of failed) process.stderr.write(`  ${f.input}: ${f.error}\n`);
      process.exitCode = 1;
    } else if (!this.jsonEnabled()) {
      this.log(`${files.length} image(s) denoised in ${((Date.now() - t0) / 1000).toFixed(1)} s (${res.jobs} job(s), backend ${res.backend})`);
    }
    return { files, failed, model: res.modelId, backend: res.backend, jobs: res.jobs };
  }
}

function parseSigma(s: string): number | 'auto' | null {
  if (s.trim().toLowerCase() === 'auto') return 'auto';
  const v = Number(s);
  return s.trim() !== '' && Number.isFinite(v) && v >= 0 && v <= 255 ? v : null;
}
