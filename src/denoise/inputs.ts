/**
 * Command-line inputs of the batch commands: files, folders (their images) and glob
 * patterns (expanded here when the shell did not), and where each output goes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMAGE_EXTENSIONS, listImages } from '../image/io';

export interface InputEntry {
  /** The file to read (may not exist: reading it then fails with a clear message). */
  file: string;
  /** Set when the argument itself is unusable (a pattern that matches nothing). */
  error?: string;
}

const GLOB_CHARS = /[*?[]/;

/** Regular expression of one path segment's glob (`*`, `?`, `[...]`, `[!...]`). */
function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Paths matching a glob pattern (`**` matches any number of folders), sorted. */
export function expandGlob(pattern: string): string[] {
  const abs = path.isAbsolute(pattern);
  const segs = pattern.split(/[\\/]+/).filter((s) => s !== '');
  let current: string[] = [abs ? path.parse(path.resolve(pattern)).root : ''];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    const next: string[] = [];
    if (seg === '**') {
      // Zero or more folders: every folder below the current ones, themselves included.
      const stack = [...current];
      while (stack.length) {
        const dir = stack.pop()!;
        next.push(dir);
        for (const e of readDir(dir || '.')) if (e.isDirectory() && !e.name.startsWith('.')) stack.push(path.join(dir, e.name));
      }
    } else if (!GLOB_CHARS.test(seg)) {
      for (const dir of current) {
        const p = dir ? path.join(dir, seg) : seg;
        if (fs.existsSync(p)) next.push(p);
      }
    } else {
      const re = segmentRegex(seg);
      for (const dir of current)
        for (const e of readDir(dir || '.')) {
          if (e.name.startsWith('.') && !seg.startsWith('.')) continue;
          if (!re.test(e.name)) continue;
          const p = dir ? path.join(dir, e.name) : e.name;
          if (last || e.isDirectory() || fs.statSync(p).isDirectory()) next.push(p);
        }
    }
    current = [...new Set(next)];
  }
  return current.filter((p) => p !== '' && fs.existsSync(p) && fs.statSync(p).isFile()).sort();
}

/**
 * Turns arguments into input files, in order, without duplicates: a folder gives its
 * images, a pattern its matching files, anything else is taken as a file name.
 */
export function expandInputs(args: string[]): InputEntry[] {
  const out: InputEntry[] = [];
  const seen = new Set<string>();
  const add = (e: InputEntry) => {
    const key = e.error ? `\0${e.file}` : path.resolve(e.file);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(e);
    }
  };
  for (const arg of args) {
    if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) {
      const files = listImages(arg);
      if (files.length === 0) add({ file: arg, error: `no images in folder ${arg}` });
      files.forEach((file) => add({ file }));
    } else if (!fs.existsSync(arg) && GLOB_CHARS.test(arg)) {
      const files = expandGlob(arg);
      if (files.length === 0) add({ file: arg, error: `no files match ${arg}` });
      files.forEach((file) => add({ file }));
    } else add({ file: arg });
  }
  return out;
}

export interface PlannedOutput {
  input: string;
  output: string;
  error?: string;
}

/**
 * Output paths: with one input and an output that names an image file, that file; otherwise
 * the output is a folder and each input becomes <folder>/<base name>.png.
 */
export function planOutputs(inputs: InputEntry[], out: string, format = 'png'): PlannedOutput[] {
  const isDir = fs.existsSync(out) && fs.statSync(out).isDirectory();
  const looksLikeFile = IMAGE_EXTENSIONS.includes(path.extname(out).toLowerCase()) && !/[\\/]$/.test(out);
  let plan: PlannedOutput[];
  if (inputs.length === 1 && !isDir && looksLikeFile) plan = [{ input: inputs[0].file, output: out, error: inputs[0].error }];
  else {
    if (fs.existsSync(out) && !isDir) throw new Error(`output ${out} is a file; with ${inputs.length} inputs it must be a folder`);
    plan = inputs.map((e) => ({ input: e.file, output: path.join(out, `${path.parse(e.file).name}.${format}`), error: e.error }));
  }
  const byOutput = new Map<string, string>();
  for (const p of plan) {
    if (p.error) continue;
    const key = path.resolve(p.output);
    const other = byOutput.get(key);
    if (other) throw new Error(`${other} and ${p.input} would both be written to ${p.output}`);
    byOutput.set(key, p.input);
  }
  for (const p of plan) if (!p.error && path.resolve(p.output) === path.resolve(p.input)) throw new Error(`the output ${p.output} would overwrite its input: choose another output folder`);
  return plan;
}
