/** Shared flags and error handling of every `mae` command. */
import { Command, Flags } from '@oclif/core';
import { BACKEND_CHOICES } from '../runtime/backend';

export abstract class MaeCommand extends Command {
  static enableJsonFlag = true;

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
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify({ error: msg }) + '\n');
    process.stderr.write(`mae: ${msg}\n`);
    process.exit(typeof code === 'number' ? code : 1);
  }

  /** Ends a batch: lists the files that failed on stderr and sets exit code 1. */
  protected reportFailures(failures: { input: string; error: string }[], total: number): void {
    if (!failures.length) return;
    for (const f of failures) process.stderr.write(`mae: ${f.error.startsWith(f.input) ? f.error : `${f.input}: ${f.error}`}\n`);
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
