/**
 * Picks the TensorFlow.js backend at run time.
 *
 * Order for `auto`: tfjs-node-gpu, then tfjs-node (native libtensorflow, optional
 * dependencies), then the embedded WebAssembly backend (SIMD, one thread in Node),
 * then the plain JavaScript `cpu` backend. `--backend` or `MAE_BACKEND` overrides it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { installWasmKernels, wasmKernelsActive, wasmRelaxedActive } from './wasm-kernels';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name in use: tensorflow, wasm or cpu. */
  name: string;
  /** The package that provides it. */
  package: string;
  /** Why this one was chosen. */
  reason: string;
  /** What was asked for (flag, environment or auto). */
  requested: BackendChoice;
  /** wasm only: whether the batched matMul runs mae's SIMD kernel (src/runtime/wasm-kernels.ts). */
  simdBatchMatMul?: boolean;
  /** wasm only: whether every product (2-D, batched, the linear layers) runs mae's fused multiply-add kernel (relaxed SIMD; MAE_WASM_RELAXED=0 turns it off). */
  fmaMatMul?: boolean;
}

export class BackendError extends Error {}

let active: BackendInfo | null = null;

function tryRequire(name: string): { ok: true } | { ok: false; error: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(name);
    return { ok: true };
  } catch (error) {
    const msg = (error as Error).message.split('\n')[0];
    return { ok: false, error: msg };
  }
}

const INSTALL_HINT: Record<string, string> = {
  tensorflow:
    'install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu) with `npm install @tensorflow/tfjs-node`; its install downloads libtensorflow, so it needs network access to storage.googleapis.com',
  wasm: 'reinstall the package: `npm install @tensorflow/tfjs-backend-wasm`',
  cpu: 'reinstall the package: `npm install @tensorflow/tfjs-backend-cpu`',
};

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === 'node' || v === 'tfjs-node') return 'tensorflow';
  if ((BACKEND_CHOICES as string[]).includes(v)) return v as BackendChoice;
  throw new BackendError(`unknown backend '${value}': use one of ${BACKEND_CHOICES.join(', ')}`);
}

async function activate(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    return true;
  } catch {
    return false;
  }
}

async function tryNative(): Promise<{ pkg: string; errors: string[] } | { pkg: null; errors: string[] }> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const r = tryRequire(pkg);
    if (r.ok && (await activate('tensorflow'))) return { pkg, errors };
    errors.push(`${pkg}: ${r.ok ? 'loaded but the tensorflow backend did not start' : 'not installed'}`);
  }
  return { pkg: null, errors };
}

async function tryWasm(): Promise<boolean> {
  const r = tryRequire('@tensorflow/tfjs-backend-wasm');
  if (!(r.ok && (await activate('wasm')))) return false;
  installWasmKernels();
  return true;
}

async function tryCpu(): Promise<boolean> {
  const r = tryRequire('@tensorflow/tfjs-backend-cpu');
  return r.ok && (await activate('cpu'));
}

/**
 * Activates a backend and returns what was chosen and why. `choice` defaults to
 * MAE_BACKEND, then auto. Calling it again with the same request is free.
 */
export async function initBackend(choice?: string): Promise<BackendInfo> {
  const fromEnv = choice === undefined || choice === '' ? process.env.MAE_BACKEND : undefined;
  const requested = parseBackendChoice(choice || fromEnv || 'auto');
  const source = choice ? 'the --backend flag' : fromEnv ? 'MAE_BACKEND' : 'auto';
  if (active && active.requested === requested && tf.getBackend() === active.name) return active;
  silenceTfjsNotices();

  let info: BackendInfo;
  if (requested === 'tensorflow') {
    const r = await tryNative();
    if (!r.pkg) throw new BackendError(`backend 'tensorflow' is not available (${r.errors.join('; ')}): ${INSTALL_HINT.tensorflow}`);
    info = { name: 'tensorflow', package: r.pkg, reason: `asked for by ${source}`, requested };
  } else if (requested === 'wasm') {
    if (!(await tryWasm())) throw new BackendError(`backend 'wasm' could not start: ${INSTALL_HINT.wasm}`);
    info = { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', reason: `asked for by ${source}`, requested };
  } else if (requested === 'cpu') {
    if (!(await tryCpu())) throw new BackendError(`backend 'cpu' could not start: ${INSTALL_HINT.cpu}`);
    info = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', reason: `asked for by ${source}`, requested };
  } else {
    const native = await tryNative();
    if (native.pkg) {
      info = { name: 'tensorflow', package: native.pkg, reason: `auto: ${native.pkg} is installed`, requested };
    } else if (await tryWasm()) {
      info = {
        name: 'wasm',
        package: '@tensorflow/tfjs-backend-wasm',
        reason: 'auto: no native TensorFlow package is installed (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node), so the embedded WebAssembly backend runs',
        requested,
      };
    } else if (await tryCpu()) {
      info = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', reason: 'auto: neither a native package nor the wasm backend could start', requested };
    } else {
      throw new BackendError('no TensorFlow.js backend could start: reinstall the package with `npm ci`');
    }
  }
  if (info.name === 'wasm') {
    info.simdBatchMatMul = wasmKernelsActive();
    info.fmaMatMul = wasmRelaxedActive();
  }
  active = info;
  return info;
}

export function activeBackend(): BackendInfo | null {
  return active;
}

let silenced = false;
/** tfjs prints advice about tfjs-node and kernel re-registration on load; the CLI's output stays clean. */
function silenceTfjsNotices(): void {
  if (silenced) return;
  silenced = true;
  tf.env().set('PROD', true);
  const origWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    const first = String(args[0] ?? '');
    if (first.includes('already registered') || first.includes('Platform node has already been set')) return;
    origWarn(...args);
  };
}
