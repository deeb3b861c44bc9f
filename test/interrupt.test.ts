/**
 * Ctrl-C (SIGINT) leaves only complete outputs: no temporary files, no partial files, and
 * the process ends promptly by the signal. Runs the compiled dist/ (build first).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { unpackContainer } from '../src/codec/container';
import { saveTinyModel } from './helpers/tiny-model';

const ROOT = path.resolve(__dirname, '..');
const RUN = path.join(ROOT, 'bin', 'run.js');

let tmp: string;
let model: string;

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'util', 'interrupt.js'))) throw new Error('dist/ is missing: run `npx tsc -p .` first');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mae-int-'));
  model = path.join(tmp, 'model');
  saveTinyModel(model);
  fs.mkdirSync(path.join(tmp, 'in'));
  for (let k = 0; k < 10; k++) {
    const W = 160;
    const H = 120;
    const data = Buffer.alloc(W * H * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * (k + 3) + ((i / 480) | 0) * 7) % 256;
    await sharp(data, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(tmp, 'in', `img${k}.png`));
  }
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 15));
  }
  return cond();
}

/**
 * Runs `mae args` as a batch writing into `out`, sends SIGINT once its first output ending in
 * `ext` exists, checks it stopped at once and left no temporary file; returns what it wrote.
 */
async function interruptBatch(args: string[], out: string, ext: string, waitMs: number): Promise<string[]> {
  const child = spawn(process.execPath, [RUN, ...args], { env: { ...process.env, MAE_BACKEND: 'cpu' }, stdio: 'ignore' });
  const done = exited(child);
  expect(await waitFor(() => fs.existsSync(out) && fs.readdirSync(out).some((f) => f.endsWith(ext)), waitMs)).toBe(true);
  const t0 = Date.now();
  child.kill('SIGINT');
  const { signal, code } = await done;
  expect(signal === 'SIGINT' || code === 130).toBe(true);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(temps(out)).toEqual([]);
  return fs.readdirSync(out);
}

const temps = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.startsWith('.')) : []);

describe('interruption', () => {
  it('a signal during atomic writes leaves whole files and no temporary file', async () => {
    const script = `
      const { writeFileAtomic } = require(${JSON.stringify(path.join(ROOT, 'dist', 'util', 'fsx.js'))});
      const data = Buffer.alloc(24 * 1024 * 1024, 7);
      let n = 0;
      const loop = () => { writeFileAtomic(process.argv[1] + '/out' + (n++ % 3) + '.bin', data); if (n === 1) process.stdout.write('ready\\n'); setImmediate(loop); };
      loop();`;
    for (const delay of [0, 7, 23, 41]) {
      const dir = path.join(tmp, `w${delay}`);
      fs.mkdirSync(dir);
      const child = spawn(process.execPath, ['-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const done = exited(child);
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGINT');
      const { signal } = await done;
      expect(signal).toBe('SIGINT');
      expect(temps(dir)).toEqual([]);
      for (const f of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, f)).size).toBe(24 * 1024 * 1024);
    }
  });

  it('leaves the signal to a program that handles it itself (training stops gracefully)', async () => {
    const dir = path.join(tmp, 'own');
    fs.mkdirSync(dir);
    const script = `
      const { writeFileAtomic } = require(${JSON.stringify(path.join(ROOT, 'dist', 'util', 'fsx.js'))});
      let stop = false;
      process.on('SIGINT', () => { stop = true; });
      const data = Buffer.alloc(8 * 1024 * 1024, 1);
      let n = 0;
      const loop = () => {
        if (stop) { writeFileAtomic(process.argv[1] + '/final.bin', 'checkpoint'); console.log('graceful'); return; }
        writeFileAtomic(process.argv[1] + '/step.bin', data);
        if (++n === 1) console.log('ready');
        setImmediate(loop);
      };
      loop();`;
    const child = spawn(process.execPath, ['-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const done = exited(child);
    expect(await waitFor(() => out.includes('ready'), 20000)).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    child.kill('SIGINT');
    const { code, signal } = await done;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(out).toContain('graceful');
    expect(fs.readFileSync(path.join(dir, 'final.bin'), 'utf8')).toBe('checkpoint');
    expect(temps(dir)).toEqual([]);
  });

  it('Ctrl-C in a compress batch stops it at once, leaving only complete .mae files', async () => {
    const out = path.join(tmp, 'mae-out');
    const inputs = fs.readdirSync(path.join(tmp, 'in')).map((f) => path.join(tmp, 'in', f));
    const written = await interruptBatch(['compress', ...inputs, '-o', out + '/', '-q', '10', '--model', model], out, '.mae', 60000);
    expect(written.length).toBeLessThan(inputs.length); // it really was interrupted
    for (const f of written) expect(() => unpackContainer(new Uint8Array(fs.readFileSync(path.join(out, f))), f)).not.toThrow();
  });

  it('Ctrl-C in a denoise batch on worker threads stops the workers and leaves only complete images', async () => {
    const out = path.join(tmp, 'dn-out');
    const written = await interruptBatch(['denoise', path.join(tmp, 'in'), '-o', out, '--jobs', '2', '--sigma', '10', '--model', model], out, '.png', 90000);
    expect(written.length).toBeLessThan(10);
    for (const f of written) expect((await sharp(path.join(out, f)).metadata()).width).toBe(160);
  });
});
