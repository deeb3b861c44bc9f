/**
 * Denoises a list of files: in this thread for one job, otherwise over worker threads that
 * each load their own runner. A file that fails is recorded and the batch goes on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MaeRunner } from '../model/runner';
import { sweepTemps } from '../util/fsx';
import { onInterrupt } from '../util/interrupt';
import { denoiseFile, FileJob, FileOptions, FileResult, oneLine } from './file';

export interface BatchJob extends FileJob {
  /** Known before starting (e.g. a pattern that matched nothing): the job fails with it. */
  error?: string;
}

export interface BatchOptions extends Omit<FileOptions, 'onProgress'> {
  jobs: number;
  model?: string;
  backend?: string;
  /** Files finished (done or failed), the running files' progress (0..1 each) and the total. */
  onProgress?: (finished: number, running: number[], total: number) => void;
  onResult?: (r: BatchOutcome) => void;
}

export type BatchOutcome = ({ ok: true } & FileResult) | { ok: false; input: string; output: string; error: string };

export interface BatchResult {
  outcomes: BatchOutcome[];
  backend: string;
  modelId: string;
  jobs: number;
}

export function workerScript(): string {
  const here = __filename.endsWith('.ts') ? path.resolve(__dirname, '../../dist/denoise') : __dirname;
  return path.join(here, 'worker.js');
}

export async function denoiseBatch(jobs: BatchJob[], o: BatchOptions): Promise<BatchResult> {
  const outcomes: BatchOutcome[] = new Array(jobs.length);
  const todo: number[] = [];
  let finished = 0;
  const settle = (i: number, r: BatchOutcome) => {
    outcomes[i] = r;
    finished++;
    o.onResult?.(r);
  };
  jobs.forEach((j, i) => (j.error ? settle(i, { ok: false, input: j.input, output: j.output, error: j.error }) : todo.push(i)));
  const fileOpts: FileOptions = { sigma: o.sigma, stride: o.stride, shifts: o.shifts, ensemble: o.ensemble, wiener: o.wiener, wienerStride: o.wienerStride, collab: o.collab, collabShifts: o.collabShifts, collabSearch: o.collabSearch, overwrite: o.overwrite };
  const n = Math.max(1, Math.min(o.jobs, todo.length));
  if (n === 1) {
    // Fewer images than jobs (one): the spare jobs become threads that share its windows.
    const runner = await MaeRunner.load(o.model, o.backend, { threads: o.jobs });
    for (const i of todo) {
      try {
        const r = await denoiseFile(runner, jobs[i], { ...fileOpts, onProgress: (d, t) => o.onProgress?.(finished, [d / t], jobs.length) });
        settle(i, { ok: true, ...r });
      } catch (error) {
        settle(i, { ok: false, input: jobs[i].input, output: jobs[i].output, error: oneLine(error) });
      }
      o.onProgress?.(finished, [], jobs.length);
    }
    await runner.close();
    return { outcomes, backend: runner.backend.name, modelId: runner.modelId, jobs: 1 };
  }
  const info = await runInWorkers(jobs, todo, n, fileOpts, o, settle, () => finished);
  return { outcomes, ...info, jobs: n };
}

async function runInWorkers(
  jobs: BatchJob[],
  todo: number[],
  n: number,
  fileOpts: FileOptions,
  o: BatchOptions,
  settle: (i: number, r: BatchOutcome) => void,
  finished: () => number,
): Promise<{ backend: string; modelId: string }> {
  const script = workerScript();
  if (!fs.existsSync(script)) throw new Error(`denoising worker not built: ${script} (run npm run build)`);
  const workers: Worker[] = [];
  const running = new Map<number, number>(); // job index -> progress 0..1
  const report = () => o.onProgress?.(finished(), [...running.values()], jobs.length);
  const queue = [...todo];
  let backend = '';
  let modelId = '';
  // Ctrl-C: stop the workers, then delete the temporary files they may have left (they share this process id).
  const dirs = [...new Set(todo.map((i) => path.dirname(path.resolve(jobs[i].output))))];
  const stopOnInterrupt = onInterrupt(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const d of dirs) sweepTemps(d);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let live = n;
      let ready = 0;
      let lastError = '';
      const maybeDone = () => {
        if (queue.length === 0 && running.size === 0) resolve();
        else if (live === 0) {
          // No worker ever loaded the model: the same model and backend fail everywhere.
          if (ready === 0) return reject(new Error(lastError));
          for (const i of queue.splice(0)) settle(i, { ok: false, input: jobs[i].input, output: jobs[i].output, error: 'no worker left to run it' });
          resolve();
        }
      };
      for (let k = 0; k < n; k++) {
        const w = new Worker(script);
        workers.push(w);
        let current: number | null = null;
        let alive = true;
        const next = () => {
          const i = queue.shift();
          if (i === undefined) return maybeDone();
          current = i;
          running.set(i, 0);
          report();
          w.postMessage({ type: 'job', id: i, job: { input: jobs[i].input, output: jobs[i].output }, opts: fileOpts });
        };
        const finish = (r: BatchOutcome) => {
          if (current === null) return;
          running.delete(current);
          settle(current, r);
          current = null;
          report();
        };
        const die = (msg: string) => {
          if (!alive) return;
          alive = false;
          lastError = msg;
          live--;
          if (current !== null) finish({ ok: false, input: jobs[current].input, output: jobs[current].output, error: `worker stopped: ${msg}` });
          maybeDone();
        };
        w.on('message', (m: { type: string; [k: string]: unknown }) => {
          if (m.type === 'ready') {
            backend = m.backend as string;
            modelId = m.modelId as string;
            ready++;
            next();
          } else if (m.type === 'init-failed') {
            void w.terminate();
            die(m.error as string);
          } else if (m.type === 'progress' && current !== null && current === m.id) {
            running.set(current, (m.done as number) / (m.total as number));
            report();
          } else if (m.type === 'done') {
            finish({ ok: true, ...(m.result as FileResult) });
            next();
          } else if (m.type === 'failed') {
            const i = current!;
            finish({ ok: false, input: jobs[i].input, output: jobs[i].output, error: m.error as string });
            next();
          }
        });
        w.on('error', (e) => die(oneLine(e)));
        w.on('exit', (code) => die(`exit code ${code}`));
        w.postMessage({ type: 'init', model: o.model, backend: o.backend });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    stopOnInterrupt();
  }
  return { backend, modelId };
}
