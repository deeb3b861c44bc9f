/**
 * Fuzzing of the .mae reader: every truncation of small valid files, random byte flips,
 * insertions and deletions, well-formed containers (valid checksum) with damaged streams or
 * fields of the wrong type. Each case must either fail with a one-line CodecError that names
 * the file and the problem, leaving no output file, or (when the damage still passes every
 * check) decode to an image of the size the file declares.
 *
 * MAE_FUZZ_CASES=N runs N random cases per kind (default: enough for a few thousand in all).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeImage, modelInfo } from '../src/codec';
import { CodecError, sealUnchecked, unpackContainer, VERSION } from '../src/codec/container';
import { decompressFile } from '../src/codec/files';
import { RgbImage } from '../src/image/io';
import { MaeRunner } from '../src/model/runner';
import { Rng } from '../src/util/rng';
import { saveTinyModel } from './helpers/tiny-model';

const CASES = Number(process.env.MAE_FUZZ_CASES) > 0 ? Number(process.env.MAE_FUZZ_CASES) : 0;
/** Random cases per kind: byte damage is cheap (rejected by the checksum); resealed cases may run the model. */
const BYTE_CASES = CASES || 2500;
const STREAM_CASES = CASES ? Math.ceil(CASES / 4) : 120;
const FIELD_CASES = CASES || 600;

let tmp: string;
let runner: MaeRunner;
const files: { name: string; bytes: Uint8Array; width: number; height: number }[] = [];

function picture(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, Math.round(100 + 60 * Math.sin(i * 0.07) + 20 * rng.normal())));
  return { width, height, data };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-fuzz-'));
  saveTinyModel(path.join(tmp, 'model'));
  runner = await MaeRunner.load(path.join(tmp, 'model'), 'cpu');
  // Small files: removed patches (both streams busy) and none; range-coded and deflated streams.
  for (const [w, h, quality, seed] of [
    [20, 12, 10, 1],
    [9, 9, 80, 2],
    [33, 17, 5, 3],
  ] as const) {
    const enc = encodeImage(picture(w, h, seed), modelInfo(runner), { quality });
    files.push({ name: `q${quality}-${w}x${h}`, bytes: enc.bytes, width: w, height: h });
  }
  const forced = encodeImage(picture(24, 16, 4), modelInfo(runner), { quality: 5, method: 0 });
  files.push({ name: 'deflate-24x16', bytes: forced.bytes, width: 24, height: 16 });
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The problems a damaged file may be reported with (each message names the file first). */
const PROBLEM = /^(\S+) (was encoded with model \S+, but the loaded model is|is truncated|is damaged: .+|is not an \.mae file|uses \.mae format version \d+; .*upgrade|is truncated or its end is damaged: .+)/;

interface Tally {
  rejected: number;
  decoded: number;
  reasons: Map<string, number>;
}

function newTally(): Tally {
  return { rejected: 0, decoded: 0, reasons: new Map() };
}

let caseNo = 0;

/** Runs one damaged file through decompressFile (file in, PNG out) and checks the outcome. */
async function check(bytes: Uint8Array, expectSize: { width: number; height: number } | null, t: Tally): Promise<void> {
  const n = caseNo++;
  const input = path.join(tmp, 'cases', `c${n}.mae`);
  const output = path.join(tmp, 'out', `c${n}.png`);
  fs.writeFileSync(input, bytes);
  try {
    const r = await decompressFile(input, output, runner);
    // Passed every check: the image has the declared size.
    const f = unpackContainer(bytes, input);
    expect([r.width, r.height]).toEqual([f.width, f.height]);
    if (expectSize) expect([r.width, r.height]).toEqual([expectSize.width, expectSize.height]);
    expect(fs.existsSync(output)).toBe(true);
    fs.rmSync(output);
    t.decoded++;
  } catch (error) {
    if (!(error instanceof CodecError)) throw new Error(`case ${n}: not a CodecError: ${String((error as Error)?.stack ?? error)}`);
    const msg = error.message;
    if (msg.includes('\n') || !msg.startsWith(input) || !PROBLEM.test(msg)) throw new Error(`case ${n}: unclear message: ${msg}`);
    if (fs.existsSync(output)) throw new Error(`case ${n}: output left behind after: ${msg}`);
    const reason = msg
      .slice(input.length + 1)
      .replace(/\d+/g, 'N')
      .replace(/\(.*$/, '')
      .trim();
    t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1);
    t.rejected++;
  } finally {
    fs.rmSync(input, { force: true });
  }
}

beforeEach(() => {
  fs.rmSync(path.join(tmp, 'cases'), { recursive: true, force: true });
  fs.rmSync(path.join(tmp, 'out'), { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'cases'));
  fs.mkdirSync(path.join(tmp, 'out'));
});

afterEach(() => {
  // Nothing at all may be left in the output folder: no images from failures, no temporary files.
  expect(fs.readdirSync(path.join(tmp, 'out'))).toEqual([]);
});

describe('.mae fuzzing', () => {
  it('the valid files decode', async () => {
    const t = newTally();
    for (const f of files) await check(f.bytes, f, t);
    expect(t.decoded).toBe(files.length);
  });

  it('refuses every truncation of every file, at every byte offset', async () => {
    const t = newTally();
    let cases = 0;
    for (const f of files)
      for (let n = 0; n < f.bytes.length; n++) {
        await check(f.bytes.slice(0, n), null, t);
        cases++;
      }
    expect(t.decoded).toBe(0);
    expect(t.rejected).toBe(cases);
    expect(cases).toBeGreaterThan(1000);
    expect([...t.reasons.keys()].some((r) => r.startsWith('is truncated'))).toBe(true);
  });

  it(`refuses random byte damage (${BYTE_CASES} cases: flips, overwrites, insertions, deletions, garbage)`, async () => {
    const rng = new Rng(20240611);
    const t = newTally();
    for (let k = 0; k < BYTE_CASES; k++) {
      const f = files[rng.int(files.length)];
      let b = Array.from(f.bytes);
      const kind = rng.int(5);
      const times = 1 + rng.int(3);
      for (let j = 0; j < times; j++) {
        const at = rng.int(b.length);
        if (kind === 0) b[at] ^= 1 << rng.int(8);
        else if (kind === 1) b[at] = rng.int(256);
        else if (kind === 2) b.splice(at, 0, rng.int(256));
        else if (kind === 3) b.splice(at, 1);
        else b = b.concat(Array.from({ length: 1 + rng.int(40) }, () => rng.int(256)));
      }
      const bytes = Uint8Array.from(b);
      if (Buffer.from(bytes).equals(Buffer.from(f.bytes))) continue; // a flip undone by another
      await check(bytes, f, t);
    }
    // The checksum catches all of it.
    expect(t.decoded).toBe(0);
    expect(t.rejected).toBeGreaterThan(BYTE_CASES * 0.99);
    expect(t.reasons.get('is damaged: checksum mismatch')).toBeGreaterThan(BYTE_CASES / 3);
  });

  it(`refuses or decodes correctly resealed files with damaged mask and coefficient streams (${STREAM_CASES} cases)`, async () => {
    const rng = new Rng(7);
    const t = newTally();
    for (let k = 0; k < STREAM_CASES; k++) {
      const f = files[rng.int(files.length)];
      const fields = unpackContainer(f.bytes, 'x') as unknown as Record<string, unknown>;
      const key = rng.int(2) ? 'mask' : 'coeffs';
      const s = Array.from(fields[key] as Uint8Array);
      const kind = rng.int(4);
      if (kind === 0) s[rng.int(s.length)] ^= 1 << rng.int(8);
      else if (kind === 1) s.splice(1 + rng.int(Math.max(1, s.length - 1)));
      else if (kind === 2) s.push(...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)));
      else s[0] = rng.int(4); // the method byte
      const { checksum: _c, magic: _m, version: _v, ...rest } = fields;
      await check(sealUnchecked({ ...rest, [key]: Uint8Array.from(s) }), f, t);
    }
    if (process.env.MAE_FUZZ_VERBOSE) console.log(t.decoded, [...t.reasons]);
    expect(t.rejected + t.decoded).toBe(STREAM_CASES);
    expect(t.rejected).toBeGreaterThan(STREAM_CASES / 2);
    expect([...t.reasons.keys()].some((r) => /stream/.test(r))).toBe(true);
  });

  it(`refuses resealed files with fields of the wrong type, size or value (${FIELD_CASES} cases)`, async () => {
    const rng = new Rng(99);
    const t = newTally();
    const weird: (() => unknown)[] = [
      () => null,
      () => true,
      () => -1 - rng.int(1000),
      () => 0,
      () => rng.uniform(0, 2),
      () => 2 ** 40,
      () => Number.MAX_SAFE_INTEGER,
      () => 'x'.repeat(rng.int(300)),
      () => String(rng.int(100)),
      () => [1, 2, 3],
      () => ({ a: 1 }),
      () => new Uint8Array(rng.int(20)),
      () => 65536 + rng.int(100),
      () => 1 + rng.int(70000),
    ];
    const keys = ['width', 'height', 'channels', 'colorSpace', 'modelId', 'patchSize', 'windowSize', 'quality', 'ratio', 'dctQuality', 'mask', 'coeffs', 'latents'];
    for (let k = 0; k < FIELD_CASES; k++) {
      const f = files[rng.int(files.length)];
      const fields = unpackContainer(f.bytes, 'x') as unknown as Record<string, unknown>;
      const { checksum: _c, magic: _m, version: _v, ...rest } = fields;
      const key = keys[rng.int(keys.length)];
      const roll = rng.int(10);
      let sealed: Uint8Array;
      if (roll === 0) {
        // A field missing, or renamed.
        const { [key]: _gone, ...fewer } = rest;
        sealed = sealUnchecked(rng.int(2) ? fewer : { ...fewer, [`${key}X`]: 1 });
      } else sealed = sealUnchecked({ ...rest, [key]: weird[rng.int(weird.length)]() });
      await check(sealed, null, t);
    }
    expect(t.rejected + t.decoded).toBe(FIELD_CASES);
    // Only a size that happens to fit its streams can decode (then at its declared size, checked above).
    expect(t.rejected).toBeGreaterThan(FIELD_CASES * 0.9);
    const reasons = [...t.reasons.keys()].join('\n');
    for (const re of [/bad image size/, /quality must be/, /is missing/, /unexpected field/, /bad model id/, /must be binary/, /latents must be null/]) expect(reasons).toMatch(re);
  });

  it('names a newer format version, a foreign file and a model that is not available', async () => {
    const f = files[0];
    const fields = unpackContainer(f.bytes, 'x') as unknown as Record<string, unknown>;
    const { checksum: _c, magic: _m, ...rest } = fields;
    const dir = path.join(tmp, 'cases');
    const newer = path.join(dir, 'newer.mae');
    fs.writeFileSync(newer, sealUnchecked({ ...rest, version: VERSION + 1 }));
    await expect(decompressFile(newer, path.join(tmp, 'out', 'n.png'), runner)).rejects.toThrow(`${newer} uses .mae format version ${VERSION + 1}; this mae reads version ${VERSION}: upgrade mae-cli`);
    const png = path.join(dir, 'photo.mae');
    fs.writeFileSync(png, Buffer.from('\x89PNG\r\n\x1a\n0000000000000000'));
    await expect(decompressFile(png, path.join(tmp, 'out', 'p.png'), runner)).rejects.toThrow(`${png} is not an .mae file (wrong magic)`);
    const other = path.join(dir, 'other.mae');
    const { version: _v, ...noVersion } = rest;
    fs.writeFileSync(other, sealUnchecked({ ...noVersion, modelId: 'mae-0123456789abcdef' }));
    await expect(decompressFile(other, path.join(tmp, 'out', 'o.png'), runner)).rejects.toThrow(
      new RegExp(`^${other.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} was encoded with model mae-0123456789abcdef, but the loaded model is ${runner.modelId}: pass --model`),
    );
    // A mask stream of a bigger or smaller image than the header says.
    for (const [w, h] of [
      [f.width * 3, f.height * 3],
      [1, 1],
    ]) {
      const wrong = path.join(dir, `wrong-${w}.mae`);
      fs.writeFileSync(wrong, sealUnchecked({ ...noVersion, width: w, height: h }));
      await expect(decompressFile(wrong, path.join(tmp, 'out', 'w.png'), runner)).rejects.toThrow(/wrong-\d+\.mae is damaged: (mask|coefficient) stream/);
    }
  });

  it('rejects a deflate bomb in a resealed stream without inflating it', async () => {
    const f = files[3]; // deflated streams
    const fields = unpackContainer(f.bytes, 'x') as unknown as Record<string, unknown>;
    const { checksum: _c, magic: _m, version: _v, ...rest } = fields;
    const zlib = await import('node:zlib');
    const bomb = zlib.deflateRawSync(Buffer.alloc(20 * 1024 * 1024));
    const t = newTally();
    await check(sealUnchecked({ ...rest, coeffs: Uint8Array.from([0, ...bomb]) }), null, t);
    expect(t.rejected).toBe(1);
    expect([...t.reasons.keys()][0]).toBe('is damaged: coefficient stream is corrupt');
    expect(t.reasons.size).toBe(1);
  });
});
