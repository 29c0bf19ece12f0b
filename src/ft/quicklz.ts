/**
 * A QuickLZ 1.5 decompressor for the one configuration PerconaFT writes: compression level 3,
 * no streaming buffer (PerconaFT ft/serialize/quicklz.h). Written from the format's facts
 * (docs/ft-nodes.md "QuickLZ"), with every read and write bounds-checked, since the input comes
 * from a file that may be damaged.
 *
 * Stream layout: a header, then (when the "compressed" flag is set) groups of one 32-bit
 * little-endian control word followed by up to 31 items. The control word's bits, lowest first,
 * say for each item whether it is a literal byte (0) or a back-reference (1); a final 1 bit
 * marks its end, so a control word of exactly 1 means "read the next control word".
 *
 * Header: byte 0 holds flags (bit 0 compressed, bit 1 four-byte sizes, bits 2-3 the level);
 * then the stream's total size and the decompressed size, each one byte or four bytes
 * (little-endian) as bit 1 says.
 *
 * A level-3 back-reference is 1 to 4 bytes, told apart by its low bits (value v read
 * little-endian):
 *  - v & 3 == 0: one byte, offset v >> 2 (6 bits), length 3;
 *  - v & 3 == 1: two bytes, offset v >> 2 (14 bits), length 3;
 *  - v & 3 == 2: two bytes, offset v >> 6 (10 bits), length ((v >> 2) & 15) + 3;
 *  - v & 3 == 3 and v & 127 != 3: three bytes, offset (v >> 7) & 0x1ffff, length ((v >> 2) & 31) + 2;
 *  - v & 127 == 3: four bytes, offset v >>> 15, length ((v >> 7) & 255) + 3.
 * The offset counts back from the current output position; the copy may overlap its source
 * (it behaves as a byte-by-byte copy).
 *
 * Literals: while the output position is before `size - 11`, a run of 1 to 4 literals is taken
 * at once (as many as the control word's low zero bits, at most four). From `size - 11` on,
 * everything left is literal bytes one at a time, and a control word that runs out there is
 * skipped without being read.
 *
 * Invariants:
 *  - The result has exactly the size the header states and the caller expects, or a plain
 *    Error is thrown saying what is wrong (the caller adds file, blocknum and offset).
 *  - No read beyond the input and no write beyond the output, whatever the input holds.
 */

const LITERAL_RUN = [4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0];
/** Output bytes at the end that are always literals (UNCONDITIONAL_MATCHLEN + UNCOMPRESSED_END + 1). */
const LITERAL_TAIL = 11;

function readLe(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (at + i < buf.length ? buf[at + i]! : 0);
  return v >>> 0;
}

/** The sizes a QuickLZ header states: header length, total stream size, decompressed size. */
export function quickLzHeader(src: Uint8Array): { headerSize: number; compressedSize: number; decompressedSize: number; compressed: boolean } {
  if (src.length < 1) throw new Error('QuickLZ stream is empty');
  const flags = src[0]!;
  const n = (flags & 2) !== 0 ? 4 : 1;
  const headerSize = 2 * n + 1;
  if (src.length < headerSize) throw new Error(`QuickLZ header needs ${headerSize} bytes, ${src.length} present`);
  return { headerSize, compressedSize: readLe(src, 1, n), decompressedSize: readLe(src, 1 + n, n), compressed: (flags & 1) !== 0 };
}

/** Decompress a QuickLZ level-3 stream that must yield exactly `expectedSize` bytes. */
export function decompressQuickLz(src: Uint8Array, expectedSize: number): Uint8Array {
  const h = quickLzHeader(src);
  if (h.decompressedSize !== expectedSize) {
    throw new Error(`QuickLZ header says ${h.decompressedSize} bytes, the sub-block says ${expectedSize}`);
  }
  if (h.compressedSize > src.length) throw new Error(`QuickLZ header says the stream is ${h.compressedSize} bytes, only ${src.length} present`);
  const size = h.decompressedSize;
  if (!h.compressed) {
    if (h.headerSize + size > src.length) throw new Error(`stored QuickLZ data needs ${size} bytes, ${src.length - h.headerSize} present`);
    return src.slice(h.headerSize, h.headerSize + size);
  }
  if (((src[0]! >> 2) & 3) !== 3) throw new Error(`QuickLZ level ${(src[0]! >> 2) & 3} stream (only level 3 is used by PerconaFT)`);
  const end = Math.min(src.length, h.compressedSize);
  const out = new Uint8Array(size);
  const fastLimit = size - LITERAL_TAIL;
  let s = h.headerSize;
  let d = 0;
  let cword = 1;
  const need = (n: number, what: string) => {
    if (s + n > end) throw new Error(`QuickLZ ${what} at stream offset ${s} runs past the end (${end} bytes)`);
  };
  for (;;) {
    if (cword === 1) {
      need(4, 'control word');
      cword = readLe(src, s, 4);
      s += 4;
    }
    if ((cword & 1) === 1) {
      cword >>>= 1;
      const v = readLe(src, s, 4);
      let offset: number;
      let len: number;
      let width: number;
      if ((v & 3) === 0) {
        offset = (v & 0xff) >>> 2;
        len = 3;
        width = 1;
      } else if ((v & 2) === 0) {
        offset = (v & 0xffff) >>> 2;
        len = 3;
        width = 2;
      } else if ((v & 1) === 0) {
        offset = (v & 0xffff) >>> 6;
        len = ((v >>> 2) & 15) + 3;
        width = 2;
      } else if ((v & 127) !== 3) {
        offset = (v >>> 7) & 0x1ffff;
        len = ((v >>> 2) & 0x1f) + 2;
        width = 3;
      } else {
        offset = v >>> 15;
        len = ((v >>> 7) & 255) + 3;
        width = 4;
      }
      need(width, 'back-reference');
      s += width;
      if (offset === 0 || offset > d) throw new Error(`QuickLZ back-reference at output ${d} points ${offset} bytes back`);
      if (d + len > size) throw new Error(`QuickLZ back-reference of ${len} bytes at output ${d} runs past the end (${size} bytes)`);
      for (let i = 0; i < len; i++, d++) out[d] = out[d - offset]!;
    } else if (d < fastLimit) {
      const n = LITERAL_RUN[cword & 0xf]!;
      need(n, 'literal run');
      if (d + n > size) throw new Error(`QuickLZ literals at output ${d} run past the end (${size} bytes)`);
      out.set(src.subarray(s, s + n), d);
      cword >>>= n;
      d += n;
      s += n;
    } else {
      while (d < size) {
        if (cword === 1) {
          s += 4;
          cword = 0x80000000;
        }
        need(1, 'literal');
        out[d++] = src[s++]!;
        cword >>>= 1;
      }
      return out;
    }
  }
}
