/**
 * Helper threads for MaeRunner.run: each is a worker with its own TensorFlow.js backend and
 * copy of the weights (the wasm backend runs one thread per worker), so an image's windows
 * run on every core. run() stays synchronous: the image goes to the helpers in shared memory,
 * this thread runs its own band, then sleeps on Atomics.wait until each helper has posted
 * its band (read with receiveMessageOnPort). A helper that fails or stops answering is
 * dropped and its band runs here, so a run never fails because of a helper. Helpers load
 * in the background: a run uses those that are ready (waiting a few seconds for them at
 * most), so loading a model with threads costs nothing when it never runs.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Band, FloatImage, WindowPos } from './runner';

/** A helper that has run no batch for this long is taken as dead (a batch takes about a second). */
const STALL_MS = 120_000;
/** How long a run waits for helpers that are still loading. */
const READY_WAIT_MS = 5_000;

export function helperScript(): string {
  const here = __filename.endsWith('.ts') ? path.resolve(__dirname, '../../dist/model') : __dirname;
  return path.join(here, 'helper.js');
}

interface Helper {
  worker: Worker;
  port: MessagePort;
  /** [run state: 0 running / 1 done / 2 failed, windows done, 0 loading / 1 ready / -1 failed to load]. */
  ctrl: Int32Array;
}

export interface HelperTask {
  windows: WindowPos[];
  y0: number;
  rows: number;
}

function shared(src: ArrayLike<number>, Kind: Float32ArrayConstructor | Uint8ArrayConstructor): Float32Array | Uint8Array {
  const out = new Kind(new SharedArrayBuffer(src.length * Kind.BYTES_PER_ELEMENT) as unknown as ArrayBuffer);
  out.set(src);
  return out;
}

export class HelperPool {
  private helpers: Helper[];
  private active: Helper[] = [];

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
    const helpers = Array.from({ length: n }, () => {
      const worker = new Worker(script);
      worker.unref();
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      const ctrl = new Int32Array(new SharedArrayBuffer(12) as unknown as ArrayBuffer);
      // A helper that dies while loading is marked failed (it is then left out).
      worker.once('error', () => Atomics.compareExchange(ctrl, 2, 0, -1));
      worker.once('exit', () => Atomics.compareExchange(ctrl, 2, 0, -1));
      worker.postMessage({ type: 'init', dir, backend, port: port2, ctrl }, [port2]);
      return { worker, port: port1, ctrl };
    });
    return new HelperPool(helpers);
  }

  /** The helpers ready to run, after waiting up to `waitMs` for those still loading. */
  private ready(waitMs: number): Helper[] {
    const deadline = Date.now() + waitMs;
    for (const h of this.helpers) {
      while (Atomics.load(h.ctrl, 2) === 0) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        Atomics.wait(h.ctrl, 2, 0, left);
      }
    }
    const failed = this.helpers.filter((h) => Atomics.load(h.ctrl, 2) === -1);
    for (const h of failed) void h.worker.terminate();
    this.helpers = this.helpers.filter((h) => !failed.includes(h));
    return this.helpers.filter((h) => Atomics.load(h.ctrl, 2) === 1);
  }

  /** How many helpers a run can use now (waiting a few seconds for those still loading). */
  available(): number {
    return this.ready(READY_WAIT_MS).length;
  }

  /** Windows the helpers of the current run have done. */
  progress(): number {
    return this.active.reduce((s, h) => s + Atomics.load(h.ctrl, 1), 0);
  }

  /**
   * Sends task i to helper i, runs `own` (this thread's share, returning its window count),
   * then waits for each helper and hands its band to `onResult` (null: the helper failed,
   * the caller runs that task itself).
   */
  run(input: FloatImage, hint: Float32Array, removed: Uint8Array, tasks: HelperTask[], batchSize: number | undefined, own: () => number, onWait: (done: number) => void, onResult: (i: number, band: Band | null) => void): void {
    const inputS = shared(input.data, Float32Array);
    const hintS = hint === input.data ? inputS : shared(hint, Float32Array);
    const removedS = shared(removed, Uint8Array);
    this.active = this.ready(0).slice(0, tasks.length);
    if (this.active.length < tasks.length) throw new Error(`internal: ${tasks.length} helper tasks, ${this.active.length} helpers ready`);
    tasks.forEach((t, i) => {
      const h = this.active[i];
      Atomics.store(h.ctrl, 0, 0);
      Atomics.store(h.ctrl, 1, 0);
      h.worker.postMessage({ type: 'run', width: input.width, height: input.height, input: inputS, hint: hintS, removed: removedS, task: t, batchSize, ctrl: h.ctrl });
    });
    const failed: Helper[] = [];
    let ownDone = 0;
    try {
      ownDone = own();
      tasks.forEach((_, i) => {
        const h = this.active[i];
        let last = -1;
        let since = Date.now();
        while (Atomics.load(h.ctrl, 0) === 0) {
          Atomics.wait(h.ctrl, 0, 0, 250);
          onWait(ownDone + this.progress());
          const d = Atomics.load(h.ctrl, 1);
          if (d !== last) [last, since] = [d, Date.now()];
          else if (Date.now() - since > STALL_MS) break;
        }
        const band = Atomics.load(h.ctrl, 0) === 1 ? this.receive(h) : null;
        if (!band) failed.push(h);
        onResult(i, band);
      });
    } finally {
      this.active = [];
      for (const h of failed) {
        void h.worker.terminate();
        this.helpers = this.helpers.filter((x) => x !== h);
      }
    }
  }

  private receive(h: Helper): Band | null {
    // The helper posts its band before it flags the run done, so the message is queued by now.
    const m = receiveMessageOnPort(h.port)?.message as { band?: Band } | undefined;
    return m?.band ?? null;
  }

  async close(): Promise<void> {
    const hs = this.helpers;
    this.helpers = [];
    await Promise.all(hs.map((h) => h.worker.terminate()));
  }
}
