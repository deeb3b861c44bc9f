import { backendFlag, MaeCommand, modelFlag } from '../cli/base';
import { getInfo, Info } from '../info';

export default class InfoCommand extends MaeCommand {
  static summary = 'Show the version, the TensorFlow.js backend in use (and why), and the model.';
  static examples = ['<%= config.bin %> info', '<%= config.bin %> info --backend cpu --json', 'MAE_BACKEND=cpu <%= config.bin %> info'];
  static flags = { backend: backendFlag, model: modelFlag };

  async run(): Promise<Info> {
    const { flags } = await this.parse(InfoCommand);
    const info = await getInfo({ backend: flags.backend, model: flags.model });
    this.log(`mae-cli ${info.version} (node ${info.node})`);
    this.log(`backend: ${info.backend} (${info.backendPackage}): ${info.backendReason}`);
    if (info.simdBatchMatMul !== undefined) this.log(`kernels: ${info.simdBatchMatMul ? "mae's WebAssembly SIMD batched matMul and GELU, and the denoiser's block kernels" : "tfjs's own (MAE_WASM_KERNELS=0)"}`);
    if (info.fmaMatMul !== undefined && info.simdBatchMatMul) this.log(`products: ${info.fmaMatMul ? "all on mae's fused multiply-add kernel (relaxed SIMD)" : "2-D and linear layers on tfjs's XNNPACK (relaxed SIMD off or missing)"}`);
    this.log(`threads: ${info.threads} per image (${info.cores} cores; --threads or MAE_THREADS changes it)`);
    if (info.model) {
      const c = info.model.config;
      this.log(`model:   ${info.model.id} from ${info.model.dir}`);
      this.log(`         ${info.model.parameters.toLocaleString('en-US')} parameters; patch ${c.patchSize}, window ${c.windowSize}; encoder ${c.embedDim}x${c.depth} (${c.numHeads} heads), decoder ${c.decoderEmbedDim}x${c.decoderDepth} (${c.decoderNumHeads} heads)`);
      if (c.interpHint) this.log(`         interpolation hint: ${c.hint === 'solved' ? 'solved harmonic fill (conjugate gradients)' : 'relaxed harmonic fill (push-pull and sweeps)'}`);
      this.log(`         ${info.model.gflopsPerMegapixel.toFixed(1)} GFLOP per megapixel (every patch visible, non-overlapping windows)`);
      if (info.model.training.steps) this.log(`         trained ${info.model.training.steps} steps on ${String(info.model.training.samples ?? '?')} crops`);
    } else {
      this.log('model:   none found (the default model is missing: pass --model DIR)');
    }
    return info;
  }
}
