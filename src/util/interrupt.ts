/**
 * Clean interruption (Ctrl-C, SIGTERM, SIGHUP): no temporary or partial output is left behind.
 *
 * Outputs are written by writeFileAtomic (a temporary file, then a rename), synchronously.
 * Without a handler, a signal ends the process at once, which is what the user wants while
 * the CLI computes; the only moment it would leave something behind is inside a write. So
 * handlers are installed only while a write is under way or while the caller holds a guard
 * (a batch whose worker threads write), and they are removed a moment after (a signal that
 * arrived during a synchronous write is delivered on the next turn of the event loop). On a
 * signal the registered temporary files are deleted, the cleanup hooks run (e.g. stopping
 * worker threads and sweeping their temporary files), and the process ends by the same
 * signal, so the shell sees an interrupted command. When the program has its own handler for
 * the signal (training stops after its current step), that handler decides, not this one.
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
/** How long handlers stay after the last guard is released (lets a pending signal arrive). */
const LINGER_MS = 250;

const temps = new Set<string>();
const hooks = new Set<() => void | Promise<void>>();
let holds = 0;
let installed = false;
let lingerTimer: NodeJS.Timeout | null = null;
let stopping = false;

function removeTemps(): void {
  for (const t of temps) {
    try {
      fs.rmSync(t, { force: true });
    } catch {
      /* best effort */
    }
  }
  temps.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  if (stopping) return;
  // Someone else handles this signal (training stops gracefully after its step): leave it to them.
  // A write's temporary file is gone by the time a handler runs (writes are synchronous).
  if (hooks.size === 0 && process.listenerCount(sig) > 1) {
    removeTemps();
    return;
  }
  stopping = true;
  uninstall();
  removeTemps();
  const settle = Promise.allSettled([...hooks].map(async (h) => h()));
  void settle.then(() => {
    removeTemps();
    // End by the same signal (default disposition now that our handlers are gone), unless someone else listens.
    if (SIGNALS.every((s) => process.listenerCount(s) === 0)) process.kill(process.pid, sig);
    process.exit(128 + (SIGNAL_NUMBERS[sig] ?? 2));
  });
}

function install(): void {
  if (lingerTimer) {
    clearTimeout(lingerTimer);
    lingerTimer = null;
  }
  if (installed || !isMainThread) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Keeps the signal handlers installed until the returned function is called. */
export function holdInterrupts(): () => void {
  holds++;
  install();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    if (holds === 0 && installed && !lingerTimer) {
      lingerTimer = setTimeout(() => {
        lingerTimer = null;
        if (holds === 0) uninstall();
      }, LINGER_MS);
      lingerTimer.unref();
    }
  };
}

/** Registers a temporary file to delete on a signal; returns its unregistration. */
export function trackTemp(file: string): () => void {
  temps.add(file);
  return () => temps.delete(file);
}

/** Runs `hook` on a signal (before the process ends) while registered; keeps handlers installed. */
export function onInterrupt(hook: () => void | Promise<void>): () => void {
  hooks.add(hook);
  const release = holdInterrupts();
  return () => {
    hooks.delete(hook);
    release();
  };
}
