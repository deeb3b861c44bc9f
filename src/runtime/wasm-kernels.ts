/**
 * A faster batched matMul for tfjs's wasm backend, registered under tfjs's own kernel
 * name, so the model keeps calling `tf.matMul` and runs the same code on every backend.
 *
 * tfjs-backend-wasm hands a 2-D matMul to XNNPACK (13 to 19 GFLOP/s here) but runs a
 * batched one ([B, m, k] @ [B, k, n], the attention products) in a plain C loop at about
 * 1.7 GFLOP/s, which made attention about 45% of a forward pass though it is a few percent
 * of its FLOPs. The kernel here (scripts/gen-wasm-kernels.js, `wasm-kernels.wat`) is
 * register-tiled WebAssembly SIMD at 11 to 18 GFLOP/s on those shapes. It imports the
 * backend's own memory, so it reads and writes the tensors where they are: no copy.
 *
 * Taken: float32, no transpose flags, the same batch size on both sides (or no batch),
 * batch > 1. Everything else (2-D products, broadcast batches, transposes) goes to the
 * backend's kernel as before.
 *
 * Where the engine has relaxed SIMD (Node 20 behind V8's --experimental-wasm-relaxed-simd,
 * which instantiateRelaxed sets for the process), a second module's `bmmb` takes every such
 * product, 2-D ones included, and the model's linear layers (`_FusedMatMul` with a bias row
 * and no activation): the same 4 x 8 tiles by f32x4.relaxed_madd, a fused multiply-add on CPUs
 * with FMA, its accumulators starting from the bias. On the model's shapes (1032 rows, inner
 * and outer sizes 128 to 768) it ran 27 to 33 GFLOP/s against 17 to 24 for XNNPACK; the
 * denoiser's model pass is 12 to 15% faster for it (docs/MODEL.md). Its results differ from
 * separate multiplies and adds in the last bits only. `MAE_WASM_RELAXED=0` leaves XNNPACK
 * and the plain kernel.
 *
 * A second kernel, `MaeGelu` (a name of ours; `GELU_KERNEL`), computes the exact GELU in one
 * SIMD pass where tfjs needs five (Erf, which runs scalar libm code, and four elementwise
 * ops): ops.ts calls it when the active backend has it and registers its gradient.
 *
 * The same module also holds the denoiser's block kernels (8x8 DCTs, BM3D-style grouped
 * filtering: src/denoise/collab.ts and wiener.ts), which `blockKernels()` instantiates on a
 * memory of their own, whatever the tfjs backend.
 * `MAE_WASM_KERNELS=0` turns them all off (the tfjs and JavaScript paths remain).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as v8 from 'node:v8';
import { WASM_KERNELS_BASE64, WASM_RELAXED_BASE64 } from './wasm-kernels-binary';

/** The part of the WebAssembly global used here (Node's type definitions leave it out). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (desc: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Bmm = (a: number, b: number, c: number, batch: number, m: number, k: number, n: number) => void;
type Bmmb = (a: number, b: number, bias: number, hasBias: number, c: number, batch: number, m: number, k: number, n: number) => void;
type Gelu = (x: number, out: number, n: number) => void;
type Dct8 = (planes: number, planeBytes: number, W: number, H: number, xs: number, nx: number, ys: number, ny: number, rows: number, out: number) => void;
type Idct8Add = (coef: number, wsum: number, W: number, xs: number, nx: number, ys: number, ny: number, num: number, den: number, planeBytes: number, win: number) => void;
type Collab = (oN: number, oP: number, oA: number, oW: number, oS: number, nx: number, ny: number, reach: number, group: number, hard: number, tau: number, thr0: number, s2: number, y0: number, y1: number, refCols: number) => void;
type Collab1 = (oN: number, oP: number, oY: number, oA: number, oW: number, oS: number, planeWidth: number, nx: number, ny: number, reach: number, group: number, hard: number, tau: number, thr0: number, s2: number, rows: number, nRows: number, refs: number, nRefs: number) => void;

/** Kernel name of the fused GELU (registered for wasm only). */
export const GELU_KERNEL = 'MaeGelu';

interface WasmBackendLike {
  wasm: { asm?: { memory?: unknown } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap?(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let installed: boolean | null = null;

/** True when the replacement batched matMul is registered for the wasm backend. */
export function wasmKernelsActive(): boolean {
  return installed === true;
}

function disabledByEnv(): boolean {
  const v = (process.env.MAE_WASM_KERNELS ?? '').trim().toLowerCase();
  return v === '0' || v === 'off' || v === 'false' || v === 'no';
}

/** Compiles the kernels against `memory` (throws if the module does not instantiate). */
export function instantiateKernels(memory: object): { bmm: Bmm; gelu: Gelu; collab: Collab; collab1: Collab1; dct8: Dct8; idct8add: Idct8Add; haar8: Dct8; ihaar8add: Idct8Add; bior8: Dct8; ibior8add: Idct8Add } {
  const bytes = Buffer.from(WASM_KERNELS_BASE64, 'base64');
  const e = new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports;
  return { bmm: e.bmm as Bmm, gelu: e.gelu as Gelu, collab: e.collab as Collab, collab1: e.collab1 as Collab1, dct8: e.dct8 as Dct8, idct8add: e.idct8add as Idct8Add, haar8: e.haar8 as Dct8, ihaar8add: e.ihaar8add as Idct8Add, bior8: e.bior8 as Dct8, ibior8add: e.ibior8add as Idct8Add };
}

let relaxedActive = false;

/** True when products run on the relaxed-SIMD kernel (fused multiply-adds; see installWasmKernels). */
export function wasmRelaxedActive(): boolean {
  return relaxedActive;
}

/**
 * The relaxed-SIMD product kernel against `memory`, or null: when MAE_WASM_RELAXED turns it
 * off, or the engine cannot compile relaxed SIMD even with V8's flag for it (Node 20 has the
 * instructions behind --experimental-wasm-relaxed-simd; set here before compiling, for this
 * process and its workers; engines that ship them need no flag).
 */
export function instantiateRelaxed(memory: object): Bmmb | null {
  const v = (process.env.MAE_WASM_RELAXED ?? '').trim().toLowerCase();
  if (v === '0' || v === 'off' || v === 'false' || v === 'no') return null;
  const bytes = Buffer.from(WASM_RELAXED_BASE64, 'base64');
  try {
    // The flag exists in V8 9 to 11 (Node 16 to 21); later V8s ship relaxed SIMD without it,
    // and would print an unknown flag's error.
    if (!WA.validate(bytes) && Number(process.versions.v8.split('.')[0]) <= 11) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (!WA.validate(bytes)) return null;
    return new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports.bmmb as Bmmb;
  } catch {
    return null;
  }
}

/**
 * Inner sizes beyond which products stay with tfjs's kernel: with K = 2080 (the decoder's
 * weight gradients at batch 32) and 4160, and for 1024 x 1024 x 1024, XNNPACK ran 19 to 27
 * GFLOP/s against 18 to 24 for ours, whose tiles walk all of k without blocking.
 */
export const RELAXED_MAX_K = 1024;

/** The block-transform kernels of the denoiser (src/denoise/collab.ts and wiener.ts) on a memory of their own, which `reserve` grows. */
export interface BlockKernels {
  /** The memory's bytes, at least `bytes` long (a new buffer after growth: take views after calling it). */
  reserve(bytes: number): ArrayBuffer;
  run: Collab;
  /** `run` for some reference rows of a stride-1 grid, matching offset by offset on a luma plane (scripts/gen-wasm-kernels.js). */
  runDense: Collab1;
  dct8: Dct8;
  idct8add: Idct8Add;
  /** dct8 and idct8add with the 3-level Haar wavelet in place of the DCT. */
  haar8: Dct8;
  ihaar8add: Idct8Add;
  /** dct8 and idct8add with the bior1.5 wavelet (2-D, 3 levels) in place of the DCT. */
  bior8: Dct8;
  ibior8add: Idct8Add;
}

let blockKernelsCache: BlockKernels | null | undefined;

/** The block-transform kernels, or null where WebAssembly SIMD is unavailable or MAE_WASM_KERNELS turns them off. */
export function blockKernels(): BlockKernels | null {
  if (blockKernelsCache !== undefined) return blockKernelsCache;
  blockKernelsCache = null;
  if (disabledByEnv()) return null;
  try {
    const memory = new WA.Memory({ initial: 1 });
    const { collab, collab1, dct8, idct8add, haar8, ihaar8add, bior8, ibior8add } = instantiateKernels(memory);
    blockKernelsCache = {
      reserve(bytes: number): ArrayBuffer {
        const have = memory.buffer.byteLength;
        if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
        return memory.buffer;
      },
      run: collab,
      runDense: collab1,
      dct8,
      idct8add,
      haar8,
      ihaar8add,
      bior8,
      ibior8add,
    };
  } catch {
    blockKernelsCache = null;
  }
  return blockKernelsCache;
}


/** The byte offset of a tensor in the backend's memory (`what` names the kernel in the error). */
function memoryOffset(be: WasmBackendLike, t: tf.TensorInfo, what: string): number {
  const d = be.dataIdMap.get(t.dataId);
  if (!d) throw new Error(`${what}: tensor memory not found`);
  return d.memoryOffset;
}

/**
 * Registers the replacement for the active wasm backend (call after it is set). Returns
 * whether it is in use; any surprise in the backend's internals leaves tfjs's kernel.
 */
export function installWasmKernels(): boolean {
  if (installed !== null) return installed;
  installed = false;
  if (disabledByEnv() || tf.getBackend() !== 'wasm') return false;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const memory = backend.wasm?.asm?.memory;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!(memory instanceof (WA.Memory as unknown as abstract new (...a: never[]) => object)) || !original || typeof backend.makeOutput !== 'function') return false;
  let bmm: Bmm;
  let gelu: Gelu;
  try {
    ({ bmm, gelu } = instantiateKernels(memory));
  } catch {
    return false;
  }
  const bmmb = instantiateRelaxed(memory);
  relaxedActive = bmmb !== null;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const batch = batchA.reduce((p, q) => p * q, 1);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    // 2-D products (batch 1) too when the fused multiply-add kernel runs: it beats XNNPACK's.
    const fma = bmmb !== null && k <= RELAXED_MAX_K;
    const simple =
      !transposeA && !transposeB && a.dtype === 'float32' && b.dtype === 'float32' && ra >= 3 && ra === rb &&
      batchA.every((d, i) => d === batchB[i]) && (batch > 1 || fma) && k === k2 && m > 0 && n > 0 && k > 0;
    if (!simple) return original.kernelFunc(args);
    const be = args.backend as unknown as WasmBackendLike;
    const out = be.makeOutput([...batchA, m, n], 'float32');
    const what = 'wasm batched matMul';
    const [pa, pb, pc] = [a, b, out].map((t) => memoryOffset(be, t, what));
    if (fma) bmmb(pa, pb, 0, 0, pc, batch, m, k, n);
    else bmm(pa, pb, pc, batch, m, k, n);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: original.setupFunc, disposeFunc: original.disposeFunc, kernelFunc });
  const geluFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') throw new Error(`${GELU_KERNEL}: float32 input expected, got ${x.dtype}`);
    const be = args.backend as unknown as WasmBackendLike;
    const out = be.makeOutput(x.shape, 'float32');
    const n = x.shape.reduce((p, q) => p * q, 1);
    if (n > 0) gelu(memoryOffset(be, x, GELU_KERNEL), memoryOffset(be, out, GELU_KERNEL), n);
    return out;
  };
  if (!tf.getKernel(GELU_KERNEL, 'wasm')) tf.registerKernel({ kernelName: GELU_KERNEL, backendName: 'wasm', kernelFunc: geluFunc });
  const fused = tf.getKernel('_FusedMatMul', 'wasm');
  if (bmmb && fused) {
    // The model's linear layers (a product plus a bias row, no activation): the same kernel,
    // its accumulators starting from the bias. Anything else goes to tfjs's kernel.
    const fusedFunc: tf.KernelFunc = (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
      const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
      const [batch, m, k] = a.shape;
      const [batchB, k2, n] = b.shape;
      const plain =
        !transposeA && !transposeB && (activation === undefined || activation === 'linear') && !preluActivationWeights && a.dtype === 'float32' && b.dtype === 'float32' &&
        a.shape.length === 3 && b.shape.length === 3 && batch === batchB && k === k2 && m > 0 && n > 0 && k > 0 && k <= RELAXED_MAX_K &&
        (!bias || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === n));
      if (!plain) return fused.kernelFunc(args);
      const be = args.backend as unknown as WasmBackendLike;
      const out = be.makeOutput([batch, m, n], 'float32');
      const what = 'wasm fused matMul';
      const [pa, pb, pc] = [a, b, out].map((t) => memoryOffset(be, t, what));
      bmmb(pa, pb, bias ? memoryOffset(be, bias, what) : 0, bias ? 1 : 0, pc, batch, m, k, n);
      return out;
    };
    tf.unregisterKernel('_FusedMatMul', 'wasm');
    tf.registerKernel({ kernelName: '_FusedMatMul', backendName: 'wasm', setupFunc: fused.setupFunc, disposeFunc: fused.disposeFunc, kernelFunc: fusedFunc });
  }
  const slice = tf.getKernel('Slice', 'wasm');
  if (slice && typeof backend.typedArrayFromHeap === 'function') {
    tf.unregisterKernel('Slice', 'wasm');
    tf.registerKernel({ kernelName: 'Slice', backendName: 'wasm', setupFunc: slice.setupFunc, disposeFunc: slice.disposeFunc, kernelFunc: (args) => sliceNoCopy(args, slice.kernelFunc) });
  }
  installed = true;
  return true;
}

/**
 * tfjs's wasm Slice reads its whole input out of the heap (a copy) before taking the slice;
 * the attention's split of q, k and v (src/model/mae.ts) paid that copy three times per layer.
 * This one copies the slice's rows straight from a view of the heap: the same values. Strings
 * and ranks over 4 go to tfjs's kernel.
 */
function sliceNoCopy(args: Parameters<tf.KernelFunc>[0], original: tf.KernelFunc): ReturnType<tf.KernelFunc> {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
  const rank = x.shape.length;
  if (x.dtype === 'string' || rank < 1 || rank > 4) return original(args);
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.TensorInfo & { rank: number }, begin, size);
  const be = args.backend as unknown as Required<WasmBackendLike>;
  const out = be.makeOutput(s, x.dtype);
  const n = s.reduce((p, q) => p * q, 1);
  if (n === 0) return out;
  // Views after makeOutput (it may grow the heap).
  const xv = be.typedArrayFromHeap(x);
  const ov = be.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  const last = s[rank - 1];
  // Leading indices of each row of the output, odometer-style.
  const lead = s.slice(0, -1);
  const idx = lead.map(() => 0);
  for (let o = 0; o < n; o += last) {
    let at = b[rank - 1];
    for (let d = 0; d < lead.length; d++) at += (b[d] + idx[d]) * strides[d];
    ov.set(xv.subarray(at, at + last), o);
    for (let d = lead.length - 1; d >= 0; d--) {
      if (++idx[d] < lead[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
