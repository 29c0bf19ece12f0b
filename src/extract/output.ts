/**
 * Text forms of extracted rows, written into a reusable byte buffer so that printing keeps
 * up with decoding: `INAME<TAB>KEY<TAB>VALUE` lines with the printer's BYTESTRING escaping
 * (toku_print_bytes, the same text as `escapeBytes` in src/format/json.ts and as
 * `tokusim replay --dump`), and the JSON byte-string form `{len,text,hex}` of logprint --json.
 *
 * Invariants:
 *  - `escaped(b)` produces exactly the bytes of `escapeBytes(b)` for every input (tested on
 *    every byte value and on random strings); `uint(n)` those of `String(n)`.
 *  - The buffer is handed to `flush` only when full or when asked; a chunk handed over is not
 *    reused until `flush` has returned (its promise settled). After that it is reused: the
 *    consumer must be done with the chunk when its promise settles (copy it to keep it), so
 *    two buffers serve a whole extraction instead of a new one per chunk.
 */

/** The longest escape of one byte (`\ooo`); `c << 2` in OutputBuffer.escaped relies on it being 4. */
const MAX_ESCAPE = 4;

/** How each byte value is printed: `plain[c]` is 1 where c is printed as itself, else `escapes[c]` (ASCII). */
export interface ByteEscapes {
  readonly plain: Uint8Array;
  readonly escapes: readonly Uint8Array[];
  readonly text: readonly string[];
  /** The escape of byte c at [4c, 4c + lengths[c]) (one table lookup per byte when writing). */
  readonly flat: Uint8Array;
  readonly lengths: Uint8Array;
}

/** The table for an escaping given as the text of each byte value (at most 4 characters each). */
export function byteEscapes(textOf: (c: number) => string): ByteEscapes {
  const text = Array.from({ length: 256 }, (_, c) => textOf(c));
  const escapes = text.map((t) => Buffer.from(t, 'latin1'));
  const flat = new Uint8Array(256 * MAX_ESCAPE);
  escapes.forEach((e, c) => {
    if (e.length < 1 || e.length > MAX_ESCAPE) throw new RangeError(`byte ${c}: an escape takes 1 to ${MAX_ESCAPE} characters, not ${e.length}`);
    flat.set(e, c * MAX_ESCAPE);
  });
  return {
    plain: Uint8Array.from(text, (t, c) => (t.length === 1 && t.charCodeAt(0) === c ? 1 : 0)),
    escapes,
    text,
    flat,
    lengths: Uint8Array.from(escapes, (e) => e.length),
  };
}

/** The printer's BYTESTRING escaping (toku_print_bytes). */
export const PRINTER_ESCAPES: ByteEscapes = byteEscapes((c) => {
  if (c === 0x22) return '\\"';
  if (c === 0x5c) return '\\\\';
  if (c === 0x0a) return '\\n';
  if (c >= 0x20 && c <= 0x7e) return String.fromCharCode(c);
  return '\\' + c.toString(8).padStart(3, '0');
});
const ESCAPE_TEXT = PRINTER_ESCAPES.text;
const PLAIN = PRINTER_ESCAPES.plain;


/** Accumulates output bytes and hands them to `flush` in large chunks. */
export class OutputBuffer {
  private buf: Buffer;
  private pos = 0;
  /** The buffer handed over last, free again once its flush settled. */
  private spare: Buffer | undefined;

  constructor(
    private readonly flushTo: (chunk: Uint8Array) => void | Promise<void>,
    private readonly capacity = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes waiting to be flushed. */
  get pending(): number {
    return this.pos;
  }

  /** True when the caller should await flush() before writing more. */
  get full(): boolean {
    return this.pos >= this.capacity >>> 1;
  }

  /** Hands the buffered bytes over; the spare buffer takes their place, and theirs becomes the spare once the consumer is done. */
  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const full = this.buf;
    const chunk = full.subarray(0, this.pos);
    this.buf = this.spare ?? Buffer.allocUnsafe(this.capacity);
    this.spare = undefined;
    this.pos = 0;
    await this.flushTo(chunk);
    // A buffer grown for one large item is not kept.
    if (full.length === this.capacity) this.spare = full;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // One item larger than the buffer: grow this buffer only (the next one is normal size).
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Appends ASCII text as is. */
  ascii(s: string): void {
    this.room(s.length);
    if (s.length <= SHORT) {
      // A native string write costs more than a short loop.
      const out = this.buf;
      let p = this.pos;
      for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
      this.pos = p;
    } else this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** Appends any text as UTF-8 (file names and messages in JSON may hold any character). */
  text(s: string): void {
    this.room(Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    if (b.length <= SHORT) {
      const out = this.buf;
      let p = this.pos;
      for (let i = 0; i < b.length; i++) out[p++] = b[i]!;
      this.pos = p;
    } else {
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
  }

  /** Appends one byte. */
  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Appends a non-negative integer (below 2^53) in decimal. */
  uint(n: number): void {
    if (n < 10) {
      this.byte(0x30 + n);
      return;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    this.room(digits);
    const out = this.buf;
    const start = this.pos;
    let p = start + digits;
    this.pos = p;
    let m = n;
    while (p > start) {
      out[--p] = 0x30 + (m % 10);
      m = Math.floor(m / 10);
    }
  }

  /** Appends b escaped by `table` (the printer's BYTESTRING escaping unless given). */
  escaped(b: Uint8Array, table: ByteEscapes = PRINTER_ESCAPES): void {
    this.room(b.length * MAX_ESCAPE);
    const out = this.buf;
    const { flat, lengths } = table;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      const n = lengths[c]!;
      const at = c << 2;
      if (n === 1) {
        out[p++] = flat[at]!;
      } else {
        // All four bytes: there is room for MAX_ESCAPE per input byte, and the next ones overwrite the excess.
        out[p] = flat[at]!;
        out[p + 1] = flat[at + 1]!;
        out[p + 2] = flat[at + 2]!;
        out[p + 3] = flat[at + 3]!;
        p += n;
      }
    }
    this.pos = p;
  }
}

/** Below this length, text and bytes are copied by a loop rather than a native call. */
const SHORT = 24;

/** The printer's escaping of b as a string (same text as escapeBytes). */
export function escapeToString(b: Uint8Array): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (PLAIN[b[i]!] === 1) continue;
    if (i > start) out += Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('latin1');
    out += ESCAPE_TEXT[b[i]!]!;
    start = i + 1;
  }
  if (start < b.length) out += Buffer.from(b.buffer, b.byteOffset + start, b.length - start).toString('latin1');
  return out;
}

/** The JSON text of a byte string: `{"len":N,"text":"<escaped>","hex":"<hex>"}` (as logprint --json). */
export function bytesJsonText(b: Uint8Array): string {
  const hex = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return `{"len":${b.length},"text":${JSON.stringify(escapeToString(b))},"hex":"${hex}"}`;
}

/** One TSV row line: INAME<TAB>KEY<TAB>VALUE<NL>, the iname already escaped. */
export function writeTsvRow(out: OutputBuffer, escapedIname: Uint8Array, key: Uint8Array, value: Uint8Array): void {
  out.bytes(escapedIname);
  out.byte(0x09);
  out.escaped(key);
  out.byte(0x09);
  out.escaped(value);
  out.byte(0x0a);
}
