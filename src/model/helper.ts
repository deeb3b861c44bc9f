/**
 * A helper thread of MaeRunner (see pool.ts): loads its own runner, then runs the bands of
 * windows it is sent, counting finished windows in shared memory and posting each band back
 * on its port before flagging the run done.
 */
import { MessagePort, parentPort } from 'node:worker_threads';
import { MaeRunner, WindowPos } from './runner';

let runner: MaeRunner | null = null;
let port: MessagePort | null = null;

interface RunMsg {
  width: number;
  height: number;
  input: Float32Array;
  hint: Float32Array;
  removed: Uint8Array;
  task: { windows: WindowPos[]; y0: number; rows: number };
  batchSize?: number;
  ctrl: Int32Array;
}

parentPort!.on('message', async (msg: { type: string; [k: string]: unknown }) => {
  if (msg.type === 'init') {
    port = msg.port as MessagePort;
    const ctrl = msg.ctrl as Int32Array;
    try {
      runner = await MaeRunner.load(msg.dir as string, msg.backend as string);
      Atomics.store(ctrl, 2, 1);
    } catch {
      Atomics.store(ctrl, 2, -1);
    }
    Atomics.notify(ctrl, 2);
  } else if (msg.type === 'run') {
    const m = msg as unknown as RunMsg;
    try {
      if (!runner || !port) throw new Error('helper used before init');
      const img = (data: Float32Array) => ({ width: m.width, height: m.height, data });
      const band = runner.runBand(img(m.input), img(m.hint), m.removed, m.task.windows, m.task.y0, m.task.rows, m.batchSize, (n) => Atomics.add(m.ctrl, 1, n));
      port.postMessage({ band }, [band.acc.buffer as ArrayBuffer, band.wsum.buffer as ArrayBuffer]);
      Atomics.store(m.ctrl, 0, 1);
    } catch (error) {
      port?.postMessage({ error: String(error) });
      Atomics.store(m.ctrl, 0, 2);
    }
    Atomics.notify(m.ctrl, 0);
  }
});
