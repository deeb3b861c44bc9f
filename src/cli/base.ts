/** Shared flags and error handling of every `mae` command. */
import { format } from 'node:util';
import { Command, Flags } from '@oclif/core';
import { BACKEND_CHOICES } from '../runtime/backend';
import { defaultThreads } from '../runtime/threads';
import { UsageError } from '../util/errors';
import { checkStdoutForData } from './stdio';
import { ProgressLine } from './progress';

/** True when `flag` is on the command line before any `--`. */
function hasFlag(argv: string[], flag: string): boolean {
  const end = argv.indexOf('--');
  const i = argv.indexOf(flag);
  return i !== -1 && (end === -1 || i < end);
}

export abstract class MaeCommand extends Command {
  static enableJsonFlag = true;

  static baseFlags = {
    quiet: Flags.boolean({ description: 'print nothing but errors (and the --json result)', default: false, helpGroup: 'GLOBAL' }),
  };

  /** --quiet: no progress, no report lines; errors still go to stderr. */
  protected quiet = false;
  /** Set once the command's data goes to standard output: messages then go to stderr. */
  private dataOnStdout = false;

  async init(): Promise<void> {
    await super.init();
    this.quiet = hasFlag(this.argv, '--quiet');
  }

  /** Human-readable output: stdout, or stderr when stdout carries data; nothing with --quiet or --json. */
  log(message = '', ...args: unknown[]): void {
    if (this.quiet || this.jsonEnabled()) return;
    if (this.dataOnStdout) process.stderr.write(format(message, ...args) + '\n');
    else super.log(message, ...args);
  }

  /** A progress line on stderr: only on a terminal, never with --quiet or --json. */
  protected progress(): ProgressLine {
    return new ProgressLine(!this.quiet && !this.jsonEnabled());
  }

  /** Declares that `what` is written to standard output (`-o -`); refused with --json or onto a terminal. */
  protected claimStdout(what: string): void {
    if (this.jsonEnabled()) throw new UsageError(`--json cannot be combined with writing ${what} to standard output (-o -): use -o FILE`);
    checkStdoutForData();
    this.dataOnStdout = true;
  }

  /** Errors become one line on stderr and exit code 1 (2 for usage errors), never a stack trace. */
  async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    const code = err.oclif?.exit ?? err.exitCode ?? 1;
    if (code === 0) return;
    // oclif's parse errors span lines ("Missing 1 required arg:\nfile ...\nSee more help with --help"): fold them into one.
    const msg = (err.message || String(err))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ')
      .replace(/^Error: /, '');
    if (process.env.MAE_DEBUG) process.stderr.write(`${err.stack}\n`);
    if (this.jsonEnabled() && !this.dataOnStdout) process.stdout.write(JSON.stringify({ error: msg }) + '\n');
    process.stderr.write(`mae: ${msg}\n`);
    process.exit(typeof code === 'number' ? code : 1);
  }

  /** Ends a batch: lists the files that failed on stderr (even with --quiet) and sets exit code 1. */
  protected reportFailures(failures: { input: string; error: string }[], total: number): void {
    if (!failures.length) return;
    for (const f of failures) process.stderr.write(`mae: ${f.error.includes(f.input) ? f.error : `${f.input}: ${f.error}`}\n`);
    process.stderr.write(`mae: ${failures.length} of ${total} files failed\n`);
    process.exitCode = 1;
  }
}

export const backendFlag = Flags.string({
  description: 'TensorFlow.js backend (default: MAE_BACKEND, else auto: tfjs-node-gpu, tfjs-node, wasm, cpu)',
  options: BACKEND_CHOICES as string[],
});

export const modelFlag = Flags.string({
  description: 'model folder (default: the shipped models/default)',
});

export const forceFlag = Flags.boolean({
  description: 'overwrite existing output files (an input is never overwritten)',
  default: false,
});

export const formatFlag = Flags.string({
  description: 'image format of outputs named by mae (standard output, folders); a file name given to -o sets its own by extension',
  options: ['png', 'jpg', 'webp', 'avif', 'tif'],
});

export const threadsFlag = Flags.integer({
  description: 'threads that run the model on one image (worker threads, one core each; default: MAE_THREADS, else the number of cores)',
  min: 1,
});

/** --threads, else MAE_THREADS, else the number of cores (a bad MAE_THREADS is a usage error). */
export function threadsFrom(flag: number | undefined): number {
  if (flag !== undefined) return flag;
  try {
    return defaultThreads();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
