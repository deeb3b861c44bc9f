/** A one-line progress display on stderr (only on a terminal or when forced). */
export class ProgressLine {
  private last = '';
  private readonly tty: boolean;
  constructor(private readonly enabled = true) {
    this.tty = Boolean(process.stderr.isTTY);
  }

  static duration(s: number): string {
    if (!Number.isFinite(s)) return '?';
    const m = Math.floor(s / 60);
    const h = Math.floor(m / 60);
    return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  }

  update(text: string): void {
    if (!this.enabled) return;
    this.last = text;
    if (this.tty) process.stderr.write(`\r\x1b[K${text}`);
    else if (!this.lastPrint || Date.now() - this.lastPrint > 10000) {
      this.lastPrint = Date.now();
      process.stderr.write(`${text}\n`);
    }
  }

  private lastPrint = 0;

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
