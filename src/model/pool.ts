/**
 * Helper threads for MaeRunner.run: each is a worker with its own TensorFlow.js backend and
 * copy of the weights (the wasm backend runs one thread per worker), so an image's windows
 * run on every core. run() stays synchronous: the image goes to the helpers in shared
 * memory, and every thread, this one included, takes the next batch of windows from one
 * shared counter until none is left. Helpers post their outputs back (read here with
 * receiveMessageOnPort between batches, or while sleeping on Atomics.wait at the end), and
 * this thread blends them in batch order, so the image is the same bit for bit on any
 * number of threads. Helpers load in the background and join a run when ready, so
 * loading a model with threads costs no time even when it never runs. A helper that fails
 * or stops answering is dropped and its batches run here: a run never fails because of one.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { FloatImage, WindowBatch } from './runner';

/** With batches outstanding and none arriving for this long, their helpers are taken as dead. */
const STALL_MS = 120_000;

export function helperScript(): string {
  const here = __filename.endsWith('.ts') ? path.resolve(__dirname, '../../dist/model') : __dirname;
  return path.join(here, 'helper.js');
}

interface Helper {
  id: number;
  worker: Worker;
  port: MessagePort;
  /** [0 loading / 1 ready / -1 failed to load]. */
  state: Int32Array;
}

/** The parts of a run: batches of windows of the model, or ranges of output rows of a denoising stage (src/denoise/stages.ts). */
export type HelperTask =
  | { kind: 'windows'; width: number; height: number; input: Float32Array; hint: Float32Array; removed: Uint8Array; batches: WindowBatch[] }
  | RowsTask;

/** Rows [from, to) of a stage of the denoiser that works on whole images (no model): each part is one range. */
export interface RowsTask {
  kind: 'rows';
  stage: 'wiener' | 'collab';
  width: number;
  height: number;
  noisy: Float32Array;
  pilot: Float32Array | null;
  sigma: number;
  opts: Record<string, unknown>;
  parts: [number, number][];
}

/** What a helper posts for each part (batch) it ran. */
export interface HelperOutput {
  run: number;
  batch: number;
  out?: Float32Array;
  error?: string;
}

/** A zeroed array of `src` elements in shared memory, or a shared copy of `src` (`src` itself when it is already shared). */
function shared<T extends Float32Array | Uint8Array | Int32Array>(Kind: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, src: T | number): T {
  if (typeof src !== 'number' && src.buffer instanceof SharedArrayBuffer) return src;
  const n = typeof src === 'number' ? src : src.length;
  const out = new Kind(new SharedArrayBuffer(n * Kind.BYTES_PER_ELEMENT) as unknown as ArrayBuffer);
  if (typeof src !== 'number') out.set(src);
  return out;
}

export class HelperPool {
  private helpers: Helper[];
  private runs = 0;
  /** Parts (batches of windows, ranges of rows) the helpers ran in the last run. */
  lastHelperParts = 0;

  private constructor(helpers: Helper[]) {
    this.helpers = helpers;
  }

  get size(): number {
    return this.helpers.length;
  }

  /** Starts `n` helpers that load the model in `dir` on `backend` (in the background). */
  static start(n: number, dir: string, backend: string): HelperPool {
    const script = helperScript();
    if (!fs.existsSync(script)) return new HelperPool([]);
    const helpers = Array.from({ length: n }, (_, i) => {
      const worker = new Worker(script);
      worker.unref();
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      const state = shared(Int32Array, 1);
      // A helper that dies is marked failed (then left out of later runs).
      const fail = () => Atomics.store(state, 0, -1);
      worker.once('error', fail);
      worker.once('exit', fail);
      worker.postMessage({ type: 'init', dir, backend, port: port2, state }, [port2]);
      return { id: i + 1, worker, port: port1, state };
    });
    return new HelperPool(helpers);
  }

  /**
   * Runs `batches` of windows: `compute(j)` runs batch j here, the helpers run the others;
   * `blend(j, out)` is called here once for every batch, in batch order.
   */
  run(input: FloatImage, hint: Float32Array, removed: Uint8Array, batches: WindowBatch[], compute: (j: number) => Float32Array, blend: (j: number, out: Float32Array) => void): void {
    const task = (): HelperTask => {
      const inputS = shared(Float32Array, input.data);
      return { kind: 'windows', width: input.width, height: input.height, input: inputS, hint: hint === input.data ? inputS : shared(Float32Array, hint), removed: shared(Uint8Array, removed), batches };
    };
    this.distribute(task, batches.length, compute, blend);
  }

  /** Runs the parts of a rows task the same way: `compute(j)` runs part j here, `blend(j, out)` is called once per part, in order. */
  rows(task: RowsTask, compute: (j: number) => Float32Array, blend: (j: number, out: Float32Array) => void): void {
    this.distribute(() => ({ ...task, noisy: shared(Float32Array, task.noisy), pilot: task.pilot && shared(Float32Array, task.pilot) }), task.parts.length, compute, blend);
  }

  /** Runs n parts on this thread and the helpers; `task()` makes what the helpers are sent (its images in shared memory), only when there are helpers. */
  private distribute(task: () => HelperTask, n: number, compute: (j: number) => Float32Array, blend: (j: number, out: Float32Array) => void): void {
    this.drop(this.helpers.filter((h) => Atomics.load(h.state, 0) === -1));
    const run = ++this.runs;
    // queue: [next part to take, outputs posted]; owner[j]: the helper that took part j.
    const queue = shared(Int32Array, 2);
    const owner = shared(Int32Array, n);
    if (this.helpers.length) {
      const t = task();
      for (const h of this.helpers) h.worker.postMessage({ type: 'run', run, id: h.id, task: t, queue, owner });
    }
    // Outputs are blended in batch order, as one thread would: the sums then come out the
    // same bit for bit whatever the number of threads (outputs that arrive early wait here;
    // every thread takes batches in order, so only a few ever wait).
    const merged = new Uint8Array(n);
    const waiting = new Map<number, Float32Array>();
    let next = 0;
    let left = n;
    this.lastHelperParts = 0;
    const take = (j: number, out: Float32Array, helper = false) => {
      if (merged[j]) return;
      if (helper) this.lastHelperParts++;
      merged[j] = 1;
      left--;
      waiting.set(j, out);
      for (let o = waiting.get(next); o; o = waiting.get(next)) {
        waiting.delete(next);
        blend(next++, o);
      }
    };
    const failed: number[] = [];
    const drain = () => {
      for (const h of this.helpers)
        for (let m = receiveMessageOnPort(h.port); m; m = receiveMessageOnPort(h.port)) {
          const o = m.message as HelperOutput;
          if (o.run !== run) continue;
          if (o.out) take(o.batch, o.out, true);
          else failed.push(o.batch);
        }
    };
    for (let j = Atomics.add(queue, 0, 1); j < n; j = Atomics.add(queue, 0, 1)) {
      take(j, compute(j));
      drain();
    }
    let since = Date.now();
    while (left > 0) {
      const posted = Atomics.load(queue, 1);
      const before = left;
      drain();
      // Batches a helper failed run here; so do all that are missing once the helpers stall
      // (a helper that died cannot say so while this thread waits).
      const redo = failed.splice(0);
      if (left > 0 && Date.now() - since > STALL_MS) {
        const missing = [...Array(n).keys()].filter((j) => !merged[j]);
        this.drop(this.helpers.filter((h) => missing.some((j) => owner[j] === h.id)));
        redo.push(...missing);
      }
      for (const j of redo) take(j, compute(j));
      if (left === 0) break;
      if (left < before) since = Date.now();
      else if (Atomics.wait(queue, 1, posted, 250) !== 'timed-out') since = Date.now();
    }
  }

  /** Resolves when every helper has loaded or failed; returns how many are ready. */
  async whenReady(): Promise<number> {
    while (this.helpers.some((h) => Atomics.load(h.state, 0) === 0)) await new Promise((r) => setTimeout(r, 20));
    return this.helpers.filter((h) => Atomics.load(h.state, 0) === 1).length;
  }

  private drop(hs: Helper[]): void {
    for (const h of hs) void h.worker.terminate();
    this.helpers = this.helpers.filter((h) => !hs.includes(h));
  }

  async close(): Promise<void> {
    const hs = this.helpers;
    this.helpers = [];
    await Promise.all(hs.map((h) => h.worker.terminate()));
  }
}
