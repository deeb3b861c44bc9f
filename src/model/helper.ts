/**
 * A helper thread of MaeRunner (see pool.ts): loads its own runner, then, for each run it
 * is sent, takes parts (batches of windows, or ranges of rows of a denoising stage) from the
 * shared counter until none is left, posting each output on its port before counting it as
 * posted.
 */
import { MessagePort, parentPort } from 'node:worker_threads';
import { MaeRunner } from './runner';
import type { HelperOutput, HelperTask } from './pool';
import { rowsPart } from '../denoise/stages';

let loading: Promise<MaeRunner | null> = Promise.resolve(null);
let port: MessagePort | null = null;

interface RunMsg {
  run: number;
  id: number;
  task: HelperTask;
  queue: Int32Array;
  owner: Int32Array;
}

parentPort!.on('message', async (msg: { type: string; [k: string]: unknown }) => {
  if (msg.type === 'init') {
    port = msg.port as MessagePort;
    const state = msg.state as Int32Array;
    loading = MaeRunner.load(msg.dir as string, msg.backend as string).then(
      (r) => (Atomics.store(state, 0, 1), r),
      () => (Atomics.store(state, 0, -1), null),
    );
  } else if (msg.type === 'run') {
    const runner = await loading;
    const m = msg as unknown as RunMsg;
    if (!runner || !port) return;
    const t = m.task;
    const img = (data: Float32Array) => ({ width: t.width, height: t.height, data });
    const n = t.kind === 'windows' ? t.batches.length : t.parts.length;
    for (let j = Atomics.add(m.queue, 0, 1); j < n; j = Atomics.add(m.queue, 0, 1)) {
      Atomics.store(m.owner, j, m.id);
      let o: HelperOutput;
      try {
        const out = t.kind === 'windows' ? runner.forwardBatch(img(t.input), img(t.hint), t.removed, t.batches[j]) : rowsPart(t, j);
        o = { run: m.run, batch: j, out };
        port.postMessage(o, [out.buffer as ArrayBuffer]);
      } catch (error) {
        o = { run: m.run, batch: j, error: String(error) };
        port.postMessage(o);
      }
      Atomics.add(m.queue, 1, 1);
      Atomics.notify(m.queue, 1);
    }
  }
});
