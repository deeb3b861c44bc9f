/**
 * `mae bench codec`: the MAE codec at several qualities against sharp's mozjpeg, WebP and
 * AVIF on the same images: average bpp (file bytes x 8 / pixels), PSNR (mean of per-image
 * RGB PSNRs), SSIM, encode and decode milliseconds per image; the rate-distortion plot;
 * the Bjontegaard delta rate of the MAE codec against each peer.
 */
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, encodeImage, modelInfo } from '../codec';
import { decodeRgb, listImages, readRgb, RgbImage } from '../image/io';
import { psnr } from '../metrics/psnr';
import { ssim } from '../metrics/ssim';
import { MaeRunner } from '../model/runner';
import { writeFileAtomic } from '../util/fsx';
import { linePlotSvg } from '../util/svgplot';
import { bdRate, BdResult, RdPoint } from './bdrate';
import { BenchOptions } from './options';

export const MAE_CODEC = 'mae';
export const PEERS = ['mozjpeg', 'webp', 'avif'] as const;
export type Peer = (typeof PEERS)[number];

export const DEFAULT_MAE_QUALITIES = [5, 10, 20, 30, 40, 50, 70, 90];
export const DEFAULT_PEER_QUALITIES = [5, 10, 20, 30, 45, 60, 75, 90];

export interface CodecRow {
  codec: string;
  quality: number;
  images: number;
  bpp: number;
  psnr: number;
  ssim: number;
  encodeMs: number;
  decodeMs: number;
}

export interface BdRow extends BdResult {
  peer: string;
}

export interface CodecBenchOptions extends BenchOptions {
  qualities?: number[];
  peerQualities?: number[];
  peers?: readonly Peer[];
  /** Write the RD plot (SVG) here. */
  plot?: string;
}

export interface CodecBenchResult {
  images: string[];
  modelId: string;
  rows: CodecRow[];
  bd: BdRow[];
}

async function peerEncode(img: RgbImage, peer: Peer, quality: number): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } });
  if (peer === 'mozjpeg') return s.jpeg({ quality, mozjpeg: true }).toBuffer();
  if (peer === 'webp') return s.webp({ quality }).toBuffer();
  return s.avif({ quality }).toBuffer();
}

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

interface Acc {
  bpp: number[];
  psnr: number[];
  ssim: number[];
  enc: number;
  dec: number;
}

export async function benchCodec(o: CodecBenchOptions): Promise<CodecBenchResult> {
  const files = listImages(o.data).slice(0, o.limit ?? Infinity);
  if (files.length === 0) throw new Error(`no images in ${o.data}`);
  const runner = await MaeRunner.load(o.model, o.backend, { threads: o.threads });
  const qualities = o.qualities ?? DEFAULT_MAE_QUALITIES;
  const peerQualities = o.peerQualities ?? DEFAULT_PEER_QUALITIES;
  const peers = o.peers ?? PEERS;
  const acc = new Map<string, Acc>();
  const add = (codec: string, q: number, img: RgbImage, bytes: number, out: RgbImage, enc: number, dec: number) => {
    const key = `${codec}\t${q}`;
    const a = acc.get(key) ?? { bpp: [], psnr: [], ssim: [], enc: 0, dec: 0 };
    a.bpp.push((bytes * 8) / (img.width * img.height));
    a.psnr.push(psnr(out.data, img.data));
    a.ssim.push(ssim(out.data, img.data, img.width, img.height));
    a.enc += enc;
    a.dec += dec;
    acc.set(key, a);
  };
  for (let fi = 0; fi < files.length; fi++) {
    const img = await readRgb(files[fi]);
    const name = path.basename(files[fi]);
    for (const q of qualities) {
      o.onProgress?.(`${fi + 1}/${files.length} ${name}: mae quality ${q}`);
      let t = process.hrtime.bigint();
      const enc = encodeImage(img, modelInfo(runner), { quality: q });
      const te = ms(t);
      t = process.hrtime.bigint();
      const dec = decodeImage(enc.bytes, runner, name, { onProgress: (d, n) => o.onProgress?.(`${fi + 1}/${files.length} ${name}: mae quality ${q}, window ${d}/${n}`) });
      add(MAE_CODEC, q, img, enc.bytes.length, dec.image, te, ms(t));
    }
    for (const peer of peers)
      for (const q of peerQualities) {
        o.onProgress?.(`${fi + 1}/${files.length} ${name}: ${peer} quality ${q}`);
        let t = process.hrtime.bigint();
        const buf = await peerEncode(img, peer, q);
        const te = ms(t);
        t = process.hrtime.bigint();
        const out = await decodeRgb(buf);
        add(peer, q, img, buf.length, out, te, ms(t));
      }
  }
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const rows: CodecRow[] = [];
  for (const [key, a] of acc) {
    const [codec, q] = key.split('\t');
    rows.push({ codec, quality: Number(q), images: a.bpp.length, bpp: mean(a.bpp), psnr: mean(a.psnr), ssim: mean(a.ssim), encodeMs: a.enc / a.bpp.length, decodeMs: a.dec / a.bpp.length });
  }
  const curve = (codec: string): RdPoint[] => rows.filter((r) => r.codec === codec).map((r) => ({ rate: r.bpp, psnr: r.psnr }));
  const bd = peers.map((peer) => ({ peer, ...bdRate(curve(peer), curve(MAE_CODEC)) }));
  if (o.plot) {
    const series = [MAE_CODEC, ...peers].map((c) => ({ name: c, points: curve(c).map((p) => [p.rate, p.psnr] as [number, number]).sort((a, b) => a[0] - b[0]) }));
    writeFileAtomic(o.plot, linePlotSvg(series, { title: `Rate-distortion, ${files.length} image(s) of ${path.basename(path.resolve(o.data))}, mae model ${runner.modelId}`, xLabel: 'bits per pixel', yLabel: 'PSNR (dB, RGB)' }));
  }
  return { images: files, modelId: runner.modelId, rows, bd };
}
