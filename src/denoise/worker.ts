/**
 * A denoising worker thread: loads its own runner (and TensorFlow.js backend), then
 * denoises the files it is sent one at a time, reporting progress, results and failures.
 */
import { parentPort } from 'node:worker_threads';
import { MaeRunner } from '../model/runner';
import { denoiseFile, FileJob, FileOptions, oneLine } from './file';

let runner: MaeRunner | null = null;

parentPort!.on('message', async (msg: { type: string; [k: string]: unknown }) => {
  if (msg.type === 'init') {
    try {
      runner = await MaeRunner.load(msg.model as string | undefined, msg.backend as string | undefined);
      parentPort!.postMessage({ type: 'ready', backend: runner.backend.name, modelId: runner.modelId });
    } catch (error) {
      parentPort!.postMessage({ type: 'init-failed', error: oneLine(error) });
    }
  } else if (msg.type === 'job') {
    const id = msg.id as number;
    try {
      if (!runner) throw new Error('worker used before init');
      const opts: FileOptions = { ...(msg.opts as FileOptions), onProgress: (done, total) => parentPort!.postMessage({ type: 'progress', id, done, total }) };
      const result = await denoiseFile(runner, msg.job as FileJob, opts);
      parentPort!.postMessage({ type: 'done', id, result });
    } catch (error) {
      parentPort!.postMessage({ type: 'failed', id, error: oneLine(error) });
    }
  }
});
