import { Flags } from '@oclif/core';
import { backendFlag, MaeCommand } from '../cli/base';
import { HintKind } from '../image/fill';
import { checkpointOptions, DEFAULT_TRAIN, train, TrainResult } from '../train/trainer';
import { ProgressLine } from '../cli/progress';

export default class Train extends MaeCommand {
  static summary = 'Train or fine-tune an MAE on a folder of photos.';
  static description =
    'Trains on random crops of the images in --data (every 20th image is held out for validation), mixing the rebuild and denoise objectives. ' +
    'Work is split over worker threads (one backend each). Writes model.json, weights.bin, train.csv, train-curve.svg and a resumable checkpoint into --out. ' +
    'Ctrl-C saves a checkpoint; --resume continues exactly.';

  static examples = [
    '<%= config.bin %> train --data ../shared/datasets/train --out models/my-model --steps 3000',
    '<%= config.bin %> train --data photos/ --out models/tuned --init models/default --steps 500',
    '<%= config.bin %> train --data ../shared/datasets/train --out models/my-model --resume',
  ];

  static flags = {
    data: Flags.string({ description: 'folder of training images', required: true }),
    out: Flags.string({ description: 'output folder (model and checkpoint)', required: true }),
    steps: Flags.integer({ description: `total optimizer steps (the schedule spans them) [default: ${DEFAULT_TRAIN.steps}; with --resume, the checkpoint's]`, min: 1 }),
    'batch-size': Flags.integer({ description: `crops per step [default: ${DEFAULT_TRAIN.batchSize}; with --resume, the checkpoint's]`, min: 1 }),
    workers: Flags.integer({ description: 'worker threads (default: number of cores)', default: DEFAULT_TRAIN.workers, min: 1 }),
    'base-lr': Flags.string({ description: `base learning rate; lr = base-lr x batch / 256 [default: ${DEFAULT_TRAIN.baseLr}; with --resume, the checkpoint's]` }),
    'warmup-steps': Flags.integer({ description: `linear warm-up steps [default: ${DEFAULT_TRAIN.warmupSteps}; with --resume, the checkpoint's]`, min: 0 }),
    'clip-norm': Flags.string({ description: `clip the global gradient norm (0: off) [default: ${DEFAULT_TRAIN.clipNorm}; with --resume, the checkpoint's]` }),
    'eval-every': Flags.integer({ description: 'validate every N steps', default: DEFAULT_TRAIN.evalEvery, min: 1 }),
    'checkpoint-every': Flags.integer({ description: 'checkpoint every N steps', default: DEFAULT_TRAIN.checkpointEvery, min: 1 }),
    'max-minutes': Flags.string({ description: 'stop (with a checkpoint) after this many minutes' }),
    resume: Flags.boolean({ description: 'continue the checkpoint in --out', default: false }),
    init: Flags.string({ description: 'start from this model folder (fine-tuning)' }),
    seed: Flags.integer({ description: "random seed [default: 0; with --resume, the checkpoint's]" }),
    context: Flags.integer({ description: `pixels of context around each training window for the mask and the interpolation hint, a multiple of the patch size [default: ${DEFAULT_TRAIN.context}; with --resume, the checkpoint's]`, min: 0 }),
    'hole-share': Flags.string({ description: `share of rebuild batches whose holes are cut at the pixel level, so that patches at a hole's edge are partly known as in inpainting, 0 to 1 [default: ${DEFAULT_TRAIN.holeShare}; with --resume, the checkpoint's]` }),
    'patch-skip': Flags.boolean({ description: 'per-patch linear skip path (model extension; default on for new models, --init models keep theirs unless given)', allowNo: true }),
    hint: Flags.string({
      description: "the interpolation hint the model is given: 'solved' (converged harmonic fill) or 'relaxed' (push-pull and 20 to 30 Gauss-Seidel sweeps, as models trained before it) [default: solved for new models; --init models keep theirs unless given]",
      options: ['solved', 'relaxed'],
    }),
    backend: backendFlag,
  };

  async run(): Promise<TrainResult> {
    const { flags } = await this.parse(Train);
    const num = (name: string, v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) this.error(`--${name} must be a non-negative number, got '${v}'`, { exit: 2 });
      return n;
    };
    const share = (v: string) => {
      const n = num('hole-share', v);
      if (n > 1) this.error(`--hole-share must be from 0 to 1, got '${v}'`, { exit: 2 });
      return n;
    };
    const bar = new ProgressLine(!this.jsonEnabled() && !this.quiet, true);
    // --resume keeps the checkpoint's schedule unless a flag changes it.
    const base = { ...DEFAULT_TRAIN, ...(flags.resume ? checkpointOptions(flags.out) : {}) };
    const res = await train({
      ...base,
      data: flags.data,
      out: flags.out,
      steps: flags.steps ?? base.steps,
      batchSize: flags['batch-size'] ?? base.batchSize,
      workers: flags.workers,
      baseLr: flags['base-lr'] === undefined ? base.baseLr : num('base-lr', flags['base-lr']),
      warmupSteps: flags['warmup-steps'] ?? base.warmupSteps,
      clipNorm: flags['clip-norm'] === undefined ? base.clipNorm : num('clip-norm', flags['clip-norm']),
      evalEvery: flags['eval-every'],
      checkpointEvery: flags['checkpoint-every'],
      maxSeconds: flags['max-minutes'] ? num('max-minutes', flags['max-minutes']) * 60 : undefined,
      resume: flags.resume,
      init: flags.init,
      seed: flags.seed ?? base.seed,
      context: flags.context ?? base.context,
      holeShare: flags['hole-share'] === undefined ? base.holeShare : share(flags['hole-share']),
      config: {
        ...(flags['patch-skip'] === undefined ? {} : { patchSkip: flags['patch-skip'] }),
        ...(flags.hint === undefined ? {} : { hint: flags.hint as HintKind }),
      },
      backend: flags.backend,
      onLog: (l) => bar.log(l),
      onProgress: (p) =>
        bar.update(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(5)}  lr ${p.lr.toExponential(2)}  ${p.imagesPerSecond.toFixed(1)} img/s  ETA ${ProgressLine.duration(p.etaSeconds)}`),
    });
    bar.done();
    this.log(`saved ${res.modelId} to ${res.out} after ${res.step} steps (${res.samples} crops, ${(res.wallSeconds / 60).toFixed(1)} min)${res.stoppedEarly ? '; --resume continues' : ''}`);
    return res;
  }
}
