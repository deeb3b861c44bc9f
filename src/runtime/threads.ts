/** How many threads run the model by default: MAE_THREADS, else the number of cores. */
import * as os from 'node:os';

export function coreCount(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** MAE_THREADS when set (a positive integer), else the number of cores. */
export function defaultThreads(): number {
  const env = process.env.MAE_THREADS;
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`MAE_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return coreCount();
}
