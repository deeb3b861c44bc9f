import { Args, Flags } from '@oclif/core';
import { denoise } from '../api';
import { backendFlag, forceFlag, formatFlag, MaeCommand, modelFlag, threadsFrom } from '../cli/base';
import { ProgressLine } from '../cli/progress';
import { STDIO } from '../cli/stdio';
import { checkNotInputs, outputFormat, readImageArgKeepingAlpha, writeImageArg } from '../codec/files';
import { fillTransparent } from '../image/alpha';
import { MaeRunner } from '../model/runner';
import { UsageError } from '../util/errors';
import { checkOutputsFree } from '../util/fsx';
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
    'Each image goes through the MAE with no patch removed, over non-overlapping windows; the model returns its clean estimate of every patch, and a filter smooths the small steps it leaves along patch borders. ' +
    "That estimate then guides two passes of Wiener filtering in a sliding 8x8 DCT: each coefficient of the noisy image is kept where the estimate shows signal and removed where it shows only noise, which brings back texture the MAE smoothed away. " +
    "Last, a collaborative stage filters groups of similar blocks together, as BM3D does: a hard-thresholding pass over the noisy image gives a second estimate that owes nothing to the model, and the two estimates, averaged, guide a collaborative Wiener pass (--no-collab leaves it out). " +
    'The model is blind to the noise level: --sigma (0..255 scale, default: estimated from each image) sets how much of the noisy input is kept and the Wiener gains. ' +
    'A grey photo (R = G = B at every pixel, whatever its file stores) has the same noise in its three channels: it is denoised as grey and written in one grey channel. Transparency is kept (not in JPEG outputs), and a 16-bit file written as PNG or TIFF stays 16-bit. ' +
    'Inputs are files, folders (their images) or glob patterns. The output is a folder (one PNG per input, same base name) or, for a single input, a file. ' +
    'Images run in parallel in --jobs worker threads (a single image shares its windows among them); a file that fails is reported at the end and the others still run (exit code 1 if any failed). ' +
    "An existing output is only replaced with --force. A single input can be '-' (standard input) and -o - writes to standard output.";

  static examples = [
    '<%= config.bin %> denoise noisy/*.png -o clean/',
    '<%= config.bin %> denoise photo.jpg -o photo-clean.png --sigma 25',
    '<%= config.bin %> denoise noisy/ -o clean/ --jobs 2 --json',
    '<%= config.bin %> denoise - -o - < noisy.png > clean.png',
    '<%= config.bin %> denoise photo.png -o fast.png --no-collab   # without the collaborative stage: faster, less clean',
    '<%= config.bin %> denoise photo.png -o best.png --collab-search dense   # BM3D\'s dense block search: about +0.13 dB, 2 times the time',
    '<%= config.bin %> denoise photo.png -o better.png --collab-shifts 2   # about +0.07 dB, slower',
    '<%= config.bin %> denoise photo.png -o mae-only.png --wiener 0 --no-collab   # the MAE estimate alone',
  ];

  static strict = false;

  static args = {
    inputs: Args.string({ description: 'image files, folders or glob patterns', required: true }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'output folder, output file for a single input, or - for standard output', required: true }),
    format: formatFlag,
    sigma: Flags.string({ description: "noise sigma on the 0..255 scale, or 'auto' to estimate it per image", default: 'auto' }),
    jobs: Flags.integer({ char: 'j', description: 'images processed in parallel (worker threads; default: MAE_THREADS, else the number of cores); with fewer images than jobs, the spare threads share the windows of each image', min: 1 }),
    stride: Flags.integer({ description: 'window stride in patches (default: a whole window, no overlap)', min: 1 }),
    shifts: Flags.integer({ description: 'patch-grid offsets averaged: 1 (default, fastest), 2 (a few hundredths of a dB after the Wiener passes, twice the time) or 4', min: 1, max: 4 }),
    wiener: Flags.integer({ description: "Wiener passes in a sliding 8x8 DCT guided by the MAE's estimate (default 2; 0: the MAE's estimate alone)", min: 0, max: 8 }),
    'wiener-stride': Flags.integer({ description: 'block stride of the Wiener passes in pixels (default 3; 2: about +0.1 dB, slower)', min: 1, max: 8 }),
    'collab-shifts': Flags.integer({ description: 'grid offsets averaged in each pass of the collaborative stage: 1 (default) or 2 (+0.05 to +0.07 dB on CBSD68, twice the time of that stage)', min: 1, max: 2 }),
    'collab-search': Flags.string({ description: "how the collaborative stage finds similar blocks: 'grid' (default: blocks 3 and 2 pixels apart) or 'dense' (BM3D's search: members at any pixel within 16 of references 3 and 2 pixels apart; +0.13 to +0.16 dB on CBSD68 (30.72 dB at sigma 25), about 5 times that stage's time, about 280 MB more memory per job)", options: ['grid', 'dense'] }),
    collab: Flags.boolean({ description: 'the collaborative stage: groups of similar blocks filtered together, as BM3D does (default on; --no-collab is faster and less clean)', default: true, allowNo: true }),
    force: forceFlag,
    model: modelFlag,
    backend: backendFlag,
  };

  async run(): Promise<DenoiseJson> {
    const { argv, flags } = await this.parse(Denoise);
    const sigma = parseSigma(flags.sigma);
    if (sigma === null) this.error(`--sigma must be a number from 0 to 255 or 'auto', got '${flags.sigma}'`, { exit: 2 });
    if (flags['collab-search'] === 'dense' && flags['collab-shifts'] === 2) this.error('--collab-shifts 2 works with --collab-search grid only (the dense search already takes members at every pixel)', { exit: 2 });
    const args = argv as string[];
    if (args.includes(STDIO) || flags.output === STDIO) return this.runStdio(args, flags, sigma);
    const plan = planOutputs(expandInputs(args), flags.output, flags.format);
    checkNotInputs(
      plan.map((p) => p.output),
      plan.map((p) => p.input),
    );
    checkOutputsFree(
      plan.filter((p) => !p.error).map((p) => p.output),
      flags.force,
    );
    const jobs = threadsFrom(flags.jobs);
    const bar = this.progress();
    const t0 = Date.now();
    const res = await denoiseBatch(plan, {
      jobs,
      sigma,
      stride: flags.stride,
      shifts: flags.shifts,
      wiener: flags.wiener,
      wienerStride: flags['wiener-stride'],
      collab: flags.collab,
      collabShifts: flags['collab-shifts'],
      collabSearch: flags['collab-search'] as 'grid' | 'dense' | undefined,
      overwrite: flags.force,
      model: flags.model,
      backend: flags.backend,
      onProgress: (finished, running, total) => {
        const frac = running.reduce((a, b) => a + b, 0);
        const done = finished + frac;
        const elapsed = (Date.now() - t0) / 1000;
        const eta = done > 0 ? (elapsed * (total - done)) / done : NaN;
        bar.update(`denoise ${finished}/${total} done${running.length ? `, ${running.length} running` : ''}  ${Math.round((100 * done) / total)}%  ETA ${ProgressLine.duration(eta)}`);
      },
      onResult: (r) => {
        if (r.ok && !this.quiet && !this.jsonEnabled()) bar.log(`${r.input} -> ${r.output}  ${r.width}x${r.height}  sigma ${r.sigma.toFixed(1)}${r.sigmaEstimated ? ' (estimated)' : ''}${r.grey ? '  grey' : ''}${r.bits === 16 ? '  16-bit' : ''}  ${r.seconds.toFixed(1)} s`);
      },
    });
    bar.done();
    const files = res.outcomes.filter((r): r is Extract<BatchOutcome, { ok: true }> => r.ok).map(({ ok: _ok, ...r }) => r);
    const failed = res.outcomes.filter((r): r is Extract<BatchOutcome, { ok: false }> => !r.ok).map(({ input, output, error }) => ({ input, output, error }));
    if (failed.length === 1 && res.outcomes.length === 1) throw new Error(failed[0].error.includes(failed[0].input) ? failed[0].error : `${failed[0].input}: ${failed[0].error}`);
    this.reportFailures(failed, res.outcomes.length);
    if (!failed.length) this.log(`${files.length} image(s) denoised in ${((Date.now() - t0) / 1000).toFixed(1)} s (${res.jobs} job(s), backend ${res.backend})`);
    return { files, failed, model: res.modelId, backend: res.backend, jobs: res.jobs };
  }

  /** One image from standard input and/or to standard output, in this thread. */
  private async runStdio(args: string[], flags: { output: string; format?: string; stride?: number; shifts?: number; wiener?: number; 'wiener-stride'?: number; collab?: boolean; 'collab-shifts'?: number; 'collab-search'?: string; force: boolean; model?: string; backend?: string; jobs?: number }, sigma: number | 'auto'): Promise<DenoiseJson> {
    if (args.length !== 1) throw new UsageError(`'-' (standard input or output) takes exactly one input, got ${args.length}`);
    const [input] = args;
    const output = flags.output;
    outputFormat(output, flags.format);
    checkNotInputs([output], [input]);
    if (output === STDIO) this.claimStdout('the image');
    checkOutputsFree([output], flags.force);
    const t0 = process.hrtime.bigint();
    const { image: read, alpha } = await readImageArgKeepingAlpha(input);
    const img = alpha ? fillTransparent(read, alpha) : read;
    const runner = await MaeRunner.load(flags.model, flags.backend, { threads: threadsFrom(flags.jobs) });
    const bar = this.progress();
    const r = await denoise(img, { model: runner, sigma, stride: flags.stride, shifts: flags.shifts, wiener: flags.wiener, wienerStride: flags['wiener-stride'], collab: flags.collab, collabShifts: flags['collab-shifts'], collabSearch: flags['collab-search'] as 'grid' | 'dense' | undefined, onProgress: (d, t) => bar.update(`denoising: ${Math.floor((100 * d) / t)}%`) });
    bar.done();
    await writeImageArg(output, r, { overwrite: flags.force, format: flags.format, grey: r.grey, alpha });
    const seconds = Math.round(Number(process.hrtime.bigint() - t0) / 1e7) / 100;
    this.log(`${input} -> ${output}  ${r.width}x${r.height}  sigma ${r.sigma.toFixed(1)}${r.sigmaEstimated ? ' (estimated)' : ''}${r.grey ? '  grey' : ''}  ${seconds.toFixed(1)} s`);
    const file: FileResult = { input, output, width: r.width, height: r.height, sigma: Math.round(r.sigma * 100) / 100, sigmaEstimated: r.sigmaEstimated, grey: r.grey, alpha: alpha !== null, bits: 8, seconds };
    return { files: [file], failed: [], model: runner.modelId, backend: runner.backend.name, jobs: 1 };
  }
}

function parseSigma(s: string): number | 'auto' | null {
  if (s.trim().toLowerCase() === 'auto') return 'auto';
  const v = Number(s);
  return s.trim() !== '' && Number.isFinite(v) && v >= 0 && v <= 255 ? v : null;
}
