/**
 * A one-line progress display on stderr, drawn only on a terminal (never into pipes or log
 * files), unless `periodic` asks for a plain line every 10 s there (long jobs such as training).
 */
export class ProgressLine {
  private last = '';
  private lastPrint = 0;
  private readonly tty: boolean;
  constructor(
    private readonly enabled = true,
    private readonly periodic = false,
    stream: { isTTY?: boolean } = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Whether anything is drawn at all. */
  get active(): boolean {
    return this.enabled && (this.tty || this.periodic);
  }

  static duration(s: number): string {
    if (!Number.isFinite(s)) return '?';
    const m = Math.floor(s / 60);
    const h = Math.floor(m / 60);
    return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  }

  update(text: string): void {
    if (!this.active) return;
    this.last = text;
    if (this.tty) process.stderr.write(`\r\x1b[K${text}`);
    else if (!this.lastPrint || Date.now() - this.lastPrint > 10000) {
      this.lastPrint = Date.now();
      process.stderr.write(`${text}\n`);
    }
  }

  /** A line that stays (e.g. a batch's per-file result), above the progress line; printed whenever enabled. */
  log(line: string): void {
    if (!this.enabled) return;
    if (this.tty && this.last) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${line}\n`);
    if (this.tty && this.last) process.stderr.write(this.last);
  }

  done(): void {
    if (this.enabled && this.tty && this.last) process.stderr.write('\n');
    this.last = '';
  }
}
