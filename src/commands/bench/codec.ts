import { Flags } from '@oclif/core';
import { backendFlag, MaeCommand, modelFlag, threadsFlag, threadsFrom } from '../../cli/base';
import { ProgressLine } from '../../cli/progress';
import { formatTable } from '../../cli/table';
import { benchCodec, CodecBenchResult, DEFAULT_MAE_QUALITIES, DEFAULT_PEER_QUALITIES, MAE_CODEC, Peer, PEERS } from '../../bench/codec';

function qualityList(s: string, flag: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.some((q) => !Number.isInteger(q) || q < 1 || q > 100)) throw new Error(`${flag} must be integers from 1 to 100, comma-separated; got '${s}'`);
  return v;
}

export default class BenchCodec extends MaeCommand {
  static summary = 'Rate-distortion of the MAE codec against mozjpeg, WebP and AVIF.';
  static description =
    'Compresses every image with the MAE codec at several --quality values and with sharp\'s mozjpeg, WebP and AVIF at several qualities, in one run on the same images. ' +
    'Per codec and quality: average bpp (file bytes x 8 / pixels), average PSNR (mean of per-image RGB PSNRs), average SSIM, encode and decode milliseconds per image. ' +
    'Then the Bjontegaard delta rate of the MAE codec against each peer over their common PSNR range (piecewise cubic interpolation of log rate; negative = the MAE codec needs fewer bytes). ' +
    '--plot writes the RD curves (bpp vs PSNR) as SVG.';

  static examples = [
    '<%= config.bin %> bench codec --data ../shared/datasets/kodak24 --limit 2 --plot rd.svg',
    '<%= config.bin %> bench codec --data ../shared/datasets/kodak24 --qualities 10,50,90 --peers mozjpeg --json',
  ];

  static flags = {
    data: Flags.string({ description: 'folder of test images', required: true }),
    limit: Flags.integer({ description: 'first N images only', min: 1 }),
    plot: Flags.string({ description: 'write the rate-distortion plot (SVG) to this file' }),
    qualities: Flags.string({ description: 'MAE codec --quality values, comma-separated', default: DEFAULT_MAE_QUALITIES.join(',') }),
    'peer-qualities': Flags.string({ description: 'mozjpeg/WebP/AVIF quality values, comma-separated', default: DEFAULT_PEER_QUALITIES.join(',') }),
    peers: Flags.string({ description: `peer codecs, comma-separated (${PEERS.join(', ')})`, default: PEERS.join(',') }),
    model: modelFlag,
    backend: backendFlag,
    threads: threadsFlag,
  };

  async run(): Promise<CodecBenchResult> {
    const { flags } = await this.parse(BenchCodec);
    const threads = threadsFrom(flags.threads);
    let qualities: number[];
    let peerQualities: number[];
    const peers = flags.peers.split(',').map((s) => s.trim()) as Peer[];
    try {
      qualities = qualityList(flags.qualities, '--qualities');
      peerQualities = qualityList(flags['peer-qualities'], '--peer-qualities');
      const bad = peers.find((p) => !PEERS.includes(p));
      if (bad) throw new Error(`unknown peer '${bad}': use ${PEERS.join(', ')}`);
    } catch (error) {
      this.error((error as Error).message, { exit: 2 });
    }
    const bar = new ProgressLine(!this.jsonEnabled() && !this.quiet, true);
    const res = await benchCodec({ data: flags.data, limit: flags.limit, model: flags.model, backend: flags.backend, threads, qualities, peerQualities, peers, plot: flags.plot, onProgress: (m) => bar.update(m) });
    bar.done();
    this.log(`${res.images.length} image(s) from ${flags.data}; model ${res.modelId}`);
    for (const codec of [MAE_CODEC, ...peers]) {
      this.log('');
      this.log(codec === MAE_CODEC ? 'mae (this codec)' : codec);
      this.log(
        formatTable(
          ['quality', 'bpp', 'PSNR (dB)', 'SSIM', 'encode ms', 'decode ms'],
          res.rows.filter((r) => r.codec === codec).map((r) => [String(r.quality), r.bpp.toFixed(3), r.psnr.toFixed(2), r.ssim.toFixed(4), r.encodeMs.toFixed(0), r.decodeMs.toFixed(0)]),
        ),
      );
    }
    this.log('');
    this.log('Bjontegaard delta rate of mae against each peer (negative = mae needs fewer bytes for the same PSNR):');
    this.log(
      formatTable(
        ['peer', 'BD-rate (%)', 'PSNR range (dB)'],
        res.bd.map((b) => [b.peer, Number.isFinite(b.rate) ? b.rate.toFixed(1) : 'n/a (no overlap)', Number.isFinite(b.lo) && b.hi > b.lo ? `${b.lo.toFixed(2)}-${b.hi.toFixed(2)}` : '-']),
      ),
    );
    if (flags.plot) this.log(`\nRD plot: ${flags.plot}`);
    this.log(`the MAE ran on ${threads} thread(s) per image (--threads), the peers on one`);
    return res;
  }
}
