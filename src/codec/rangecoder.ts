/**
 * A binary adaptive range coder, LZMA's (Igor Pavlov, public domain): 32-bit range,
 * 11-bit probabilities of a 0 bit, adapted by 1/32 of the error after every bit, carry
 * propagation through a cached byte. Integer arithmetic only, so bit-exact everywhere.
 */

export const PROB_BITS = 11;
export const PROB_ONE = 1 << PROB_BITS;
export const PROB_INIT = PROB_ONE >> 1;
export const MOVE_BITS = 5;
const TOP = 1 << 24;
const TWO32 = 0x100000000;

/** A set of adaptive bit models (probability of a 0 bit, in 1/2048). */
export function probs(n: number): Uint16Array {
  return new Uint16Array(n).fill(PROB_INIT);
}

export class RangeEncoder {
  private low = 0; // up to 33 bits, kept in a double
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private buf = new Uint8Array(1024);
  private len = 0;

  private byte(b: number): void {
    if (this.len === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.len++] = b;
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.byte((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor((this.low % TWO32) / TOP);
    }
    this.cacheSize++;
    this.low = (this.low % TOP) * 256;
  }

  /** Codes `bit` with the adaptive model p[i]. */
  bit(p: Uint16Array, i: number, bit: number): void {
    const pr = p[i];
    const bound = (this.range >>> PROB_BITS) * pr;
    if (bit === 0) {
      this.range = bound;
      p[i] = pr + ((PROB_ONE - pr) >>> MOVE_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      p[i] = pr - (pr >>> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return this.buf.slice(0, this.len);
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos = 0;

  constructor(private readonly src: Uint8Array) {
    if (src.length < 5 || src[0] !== 0) throw new Error('range-coded stream is corrupt');
    for (let i = 0; i < 5; i++) this.code = (this.code * 256 + this.next()) % TWO32;
  }

  private next(): number {
    // Reading past the end yields zeros; callers bound their loops, and the container checksum catches damage.
    return this.pos < this.src.length ? this.src[this.pos++] : (this.pos++, 0);
  }

  /** Bytes of the stream not yet read (negative once reading past its end). */
  get unread(): number {
    return this.src.length - this.pos;
  }

  /** True once the decoder has read more than the 4 bytes of look-ahead past the stream. */
  get overrun(): boolean {
    return this.pos > this.src.length + 4;
  }

  bit(p: Uint16Array, i: number): number {
    const pr = p[i];
    const bound = (this.range >>> PROB_BITS) * pr;
    let b: number;
    if (this.code < bound) {
      this.range = bound;
      p[i] = pr + ((PROB_ONE - pr) >>> MOVE_BITS);
      b = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      p[i] = pr - (pr >>> MOVE_BITS);
      b = 1;
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.code = this.code * 256 + this.next();
    }
    return b;
  }
}
