/** What `mae info` reports: version, backend and why, model id, size and cost. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forwardFlops, MaeConfig } from './model/config';
import { countParams } from './model/mae';
import { defaultModelDir } from './model/runner';
import { loadModel } from './model/weights';
import { initBackend } from './runtime/backend';
import { coreCount, defaultThreads } from './runtime/threads';

export interface Info {
  version: string;
  node: string;
  backend: string;
  backendPackage: string;
  backendReason: string;
  /** wasm only: whether batched matMuls (attention) and GELU run mae's SIMD kernels (MAE_WASM_KERNELS=0 turns them off). */
  simdBatchMatMul?: boolean;
  /** wasm only: whether all products, the linear layers' too, run mae's fused multiply-add kernel (relaxed SIMD; MAE_WASM_RELAXED=0 turns it off). */
  fmaMatMul?: boolean;
  /** Threads a model command runs one image on by default (MAE_THREADS, else the cores), and the cores. */
  threads: number;
  cores: number;
  model: { dir: string; id: string; parameters: number; config: MaeConfig; training: Record<string, unknown>; gflopsPerWindow: number; gflopsPerMegapixel: number } | null;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function getInfo(opts: { backend?: string; model?: string }): Promise<Info> {
  const b = await initBackend(opts.backend);
  const dir = opts.model ?? defaultModelDir();
  let model: Info['model'] = null;
  if (opts.model || fs.existsSync(path.join(dir, 'model.json'))) {
    const m = loadModel(dir);
    const c = m.config;
    const L = (c.windowSize / c.patchSize) ** 2;
    // Denoising pass (every patch visible) over one training window, then per megapixel
    // for non-overlapping windows.
    const f = forwardFlops(c, L, L).total;
    model = {
      dir,
      id: m.modelId,
      parameters: countParams(c),
      config: c,
      training: m.training,
      gflopsPerWindow: f / 1e9,
      gflopsPerMegapixel: (f / (c.windowSize * c.windowSize)) * 1e6 / 1e9,
    };
  }
  return { version: packageVersion(), node: process.version, backend: b.name, backendPackage: b.package, backendReason: b.reason, simdBatchMatMul: b.simdBatchMatMul, fmaMatMul: b.fmaMatMul, threads: defaultThreads(), cores: coreCount(), model };
}
