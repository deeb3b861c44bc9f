/**
 * The denoiser's stages after the model (wiener.ts, collab.ts), on every thread of a runner:
 * each stage computes any range of output rows on its own (its strips carry their margins),
 * so the image is cut into ranges that the runner's helper threads and this one take from
 * one queue (model/pool.ts). The result is the same image as one thread gives.
 */
import type { FloatImage, MaeRunner } from '../model/runner';
import type { RowsTask } from '../model/pool';
import { collaborativeFilter, CollabOptions, CollabSearch, COLLAB_SEARCHES, DENSE_COLLAB } from './collab';
import { wienerRefine, WienerOptions } from './wiener';

/** Options a stage takes for a range of rows (what crosses to a helper: no callbacks). */
export type StageOptions = Omit<WienerOptions, 'onProgress' | 'rows'> | Omit<CollabOptions, 'onProgress' | 'rows'>;

/** Part j of a rows task, computed on this thread. */
export function rowsPart(t: RowsTask, j: number): Float32Array {
  const img = (data: Float32Array): FloatImage => ({ width: t.width, height: t.height, data });
  const rows = t.parts[j];
  if (t.stage === 'wiener') return wienerRefine(img(t.noisy), img(t.pilot!), t.sigma, { ...(t.opts as WienerOptions), rows }).data;
  return collaborativeFilter(img(t.noisy), t.pilot ? img(t.pilot) : null, t.sigma, { ...(t.opts as CollabOptions), rows }).data;
}

/** Rows per part at least (smaller images run on this thread alone). */
const MIN_ROWS = 48;

/**
 * Runs a stage over the whole image, its rows cut into parts over the runner's threads (on
 * this thread alone without a runner or helpers). Progress counts parts.
 */
export function runStage(
  runner: Pick<MaeRunner, 'threads' | 'runRows'> | undefined,
  stage: RowsTask['stage'],
  noisy: FloatImage,
  pilot: FloatImage | null,
  sigma: number,
  opts: StageOptions,
  onProgress?: (done: number, total: number) => void,
): FloatImage {
  const { width: W, height: H } = noisy;
  const threads = runner?.threads ?? 1;
  const n = Math.min(threads, Math.floor(H / MIN_ROWS));
  const task: RowsTask = { kind: 'rows', stage, width: W, height: H, noisy: noisy.data, pilot: pilot?.data ?? null, sigma, opts: opts as Record<string, unknown>, parts: [] };
  if (threads < 2 || n < 2) {
    task.parts = [[0, H]];
    const out = rowsPart(task, 0);
    onProgress?.(1, 1);
    return { width: W, height: H, data: out };
  }
  task.parts = Array.from({ length: n }, (_, i) => [Math.round((i * H) / n), Math.round(((i + 1) * H) / n)] as [number, number]);
  const out = new Float32Array(W * H * 3);
  let done = 0;
  runner!.runRows(
    task,
    (j) => rowsPart(task, j),
    (j, part) => {
      out.set(part, task.parts[j][0] * W * 3);
      onProgress?.(++done, n);
    },
  );
  return { width: W, height: H, data: out };
}

/**
 * The share of the hard-thresholding estimate in the guide of the last pass, by search
 * (bench/collab-tune.js on held-out training images, session 11): the bior1.5 first step
 * guides better than the Haar one did (0.5 before), and the dense search's first step better
 * than the grid's.
 */
export const DEFAULT_FUSE: Record<CollabSearch, number> = { grid: 0.6, dense: 0.7 };

/**
 * The denoiser's collaborative stage: a hard-thresholding pass over the noisy image (BM3D's
 * first step, which owes nothing to the model) gives a second estimate of the clean image;
 * `fuse` x it plus (1 - fuse) x `estimate` guides a collaborative Wiener pass (BM3D's second
 * step). Two estimates with different errors make a better guide than either. With a
 * runner, both passes run on its threads.
 */
export function collaborativeRefine(
  noisy: FloatImage,
  estimate: FloatImage,
  sigma: number,
  opts: {
    fuse?: number;
    /** Grid offsets averaged in each pass: 1 (default) or 2 (plus the grid moved by one pixel: +0.05 to +0.07 dB on CBSD68, twice the time). */
    shifts?: number;
    /** How groups are found: 'grid' (default: DEFAULT_COLLAB) or 'dense' (DENSE_COLLAB: BM3D's search, +0.13 to +0.16 dB on CBSD68 (30.72 dB at sigma 25) for about 5 times the time); `filter` and `basic` override it. */
    search?: CollabSearch;
    filter?: Omit<CollabOptions, 'onProgress' | 'rows' | 'offset'>;
    /** Options of the first (hard-thresholding) pass only, over `filter`. */
    basic?: Omit<CollabOptions, 'onProgress' | 'rows' | 'offset'>;
    runner?: Pick<MaeRunner, 'threads' | 'runRows'>;
    onProgress?: (done: number, total: number) => void;
  } = {},
): FloatImage {
  const search = opts.search ?? 'grid';
  if (!COLLAB_SEARCHES.includes(search)) throw new Error(`collaborative filter: search must be ${COLLAB_SEARCHES.join(' or ')}, got ${String(opts.search)}`);
  const fuse = opts.fuse ?? DEFAULT_FUSE[search];
  if (!(fuse >= 0 && fuse <= 1)) throw new Error(`collaborative filter: fuse must be from 0 to 1, got ${String(opts.fuse)}`);
  const shifts = opts.shifts ?? 1;
  if (shifts !== 1 && shifts !== 2) throw new Error(`collaborative filter: shifts must be 1 or 2, got ${String(opts.shifts)}`);
  const preset = search === 'dense' ? DENSE_COLLAB : null;
  if (preset && shifts === 2) throw new Error('collaborative filter: shifts 2 works with the grid search only (the dense search already takes members at every pixel)');
  const passes = fuse > 0 ? 2 * shifts : shifts;
  let done = 0;
  /** One pass (hard thresholding without a pilot, Wiener with one), averaged over the grid offsets. */
  const pass = (pilot: FloatImage | null): FloatImage => {
    const runs: FloatImage[] = [];
    const filter = pilot ? { ...preset?.wiener, ...opts.filter } : { ...preset?.hard, ...opts.filter, ...opts.basic };
    for (let offset = 0; offset < shifts; offset++) {
      runs.push(runStage(opts.runner, 'collab', noisy, pilot, sigma, { ...filter, offset }, opts.onProgress ? (d, t) => opts.onProgress!(done + d / t, passes) : undefined));
      done++;
    }
    if (shifts === 1) return runs[0];
    const avg = runs[0].data;
    for (let i = 0; i < avg.length; i++) avg[i] = 0.5 * (avg[i] + runs[1].data[i]);
    return runs[0];
  };
  const basic = fuse > 0 ? pass(null) : estimate;
  const guide = new Float32Array(estimate.data.length);
  for (let i = 0; i < guide.length; i++) guide[i] = fuse * basic.data[i] + (1 - fuse) * estimate.data[i];
  return pass({ ...estimate, data: guide });
}
