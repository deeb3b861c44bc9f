/** File helpers: atomic writes (temporary file in the same folder, then rename). */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { holdInterrupts, trackTemp } from './interrupt';

/** Outputs exist and overwriting them was not allowed (a usage error: exit code 2). */
export class OutputExistsError extends Error {
  readonly exitCode = 2;
  readonly files: string[];
  constructor(files: string | string[]) {
    const list = Array.isArray(files) ? files : [files];
    const shown = list.slice(0, 5).join(', ') + (list.length > 5 ? ` and ${list.length - 5} more` : '');
    super(`${list.length === 1 ? `${shown} already exists` : `${list.length} outputs already exist: ${shown}`}: pass --force to overwrite`);
    this.files = list;
  }
}

/** Throws an OutputExistsError listing the outputs that exist (unless `force`). */
export function checkOutputsFree(outputs: string[], force: boolean | undefined): void {
  if (force) return;
  const taken = outputs.filter((o) => o !== '-' && fs.existsSync(o));
  if (taken.length) throw new OutputExistsError(taken);
}

export interface WriteOptions {
  /** Replace an existing file (default true). When false, an existing file is an OutputExistsError, checked atomically. */
  overwrite?: boolean;
}

/** Temporary files of this process start with `.<name>.<pid>.` and end with `.tmp` (see sweepTemps). */
export function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/** Deletes the temporary files this process (or any of its threads) left in `dir`. */
export function sweepTemps(dir: string, pid = process.pid): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const re = new RegExp(`^\\..+\\.${pid}\\.[0-9a-f]+\\.tmp$`);
  for (const n of names) if (re.test(n)) fs.rmSync(path.join(dir, n), { force: true });
}

/**
 * Writes `data` to a temporary file beside `file`, then moves it into place, so `file` is
 * either absent, its old self or complete. A signal during the write removes the temporary file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  if (opts.overwrite === false && fs.existsSync(file)) throw new OutputExistsError(file);
  const tmp = tempPath(file);
  const release = holdInterrupts();
  const untrack = trackTemp(tmp);
  try {
    fs.writeFileSync(tmp, data);
    if (opts.overwrite === false) placeNew(tmp, file);
    else fs.renameSync(tmp, file);
  } finally {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    untrack();
    release();
  }
}

/** Moves `tmp` to `file` unless `file` exists (a hard link fails atomically if it does). */
function placeNew(tmp: string, file: string): void {
  try {
    fs.linkSync(tmp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutputExistsError(file);
    // File systems without hard links: check, then rename.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EMLINK') {
      if (fs.existsSync(file)) throw new OutputExistsError(file);
      fs.renameSync(tmp, file);
      return;
    }
    throw error;
  }
}

/** True when `a` and `b` name the same file (same path, or both exist and are the same inode: links). */
export function sameFile(a: string, b: string): boolean {
  if (a === '-' || b === '-') return false;
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
