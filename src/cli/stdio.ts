/** `-` as a file name: the input from standard input, the output to standard output (binary, never to a terminal). */
import { UsageError } from '../util/errors';

export const STDIO = '-';

/** A file argument as shown in messages. */
export function shown(file: string, io: 'input' | 'output'): string {
  return file === STDIO ? `(standard ${io})` : file;
}

/** Standard input holds at most this much (the largest compressed photo is far smaller). */
export const MAX_STDIN_BYTES = 1 << 30;

export async function readStdin(stream: NodeJS.ReadStream = process.stdin): Promise<Buffer> {
  if (stream.isTTY) throw new UsageError("'-' reads standard input, which is a terminal: pipe or redirect a file into mae");
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    n += b.length;
    if (n > MAX_STDIN_BYTES) throw new UsageError(`standard input is larger than ${MAX_STDIN_BYTES >> 20} MB`);
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/** Checks before any work that binary data may go to standard output. */
export function checkStdoutForData(stream: NodeJS.WriteStream = process.stdout): void {
  if (stream.isTTY) throw new UsageError('standard output is a terminal: redirect it to a file (> out) or pipe it, or pass -o FILE');
}

export async function writeStdout(data: Uint8Array, stream: NodeJS.WriteStream = process.stdout): Promise<void> {
  checkStdoutForData(stream);
  await new Promise<void>((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}
