/**
 * The `tokuft_logprint` text form (spec tokulog-format.md §10), byte for byte, and a streaming
 * printer core that reproduces the tool's behaviour on damaged input.
 *
 * The real tool prints each field as soon as it has read it completely, then the stored crc
 * (plus ` checksum=` when the computed one differs), then the stored trailing len (plus
 * ` actual_len=` when the consumed size differs), then a newline only if both checks passed.
 * A short read inside an entry is a quiet end of input (the partial line stays, exit 0); a
 * missing command byte after a complete len, an unknown command, or a failed check is
 * DB_BADFORMAT (-30500): `Problem in log err=-30500` on stderr and exit 1.
 *
 * Invariants:
 *  - Output for an entry is only produced from bytes that are present; when more input may
 *    still come, an incomplete entry's output is withdrawn and retried with more bytes, so
 *    the final output never depends on how the input was split into chunks.
 *  - A length field never causes an allocation larger than the bytes actually present.
 *  - Numbers print exactly as the C printf formats of §10.4 (signed/unsigned, octal, hex).
 *  - Once the record limit is reached or an error/end is seen, no further input is used.
 */
import { encodeRecord } from './codec.js';
import { invariant } from '../base/errors.js';
import { LOG_NAME_WIDTH, LOG_SPEC_BY_CMD, type FieldType, type LogRecord } from './record-types.js';
import { x1764 } from './x1764.js';
import { allocUninitialized, latin1String } from '../base/portable.js';

/** DB_BADFORMAT, the only error code the printer reports. */
export const DB_BADFORMAT = -30500;

// ---- Output buffer ------------------------------------------------------------------------

/**
 * A growable output byte buffer. The entry printer reserves room once per entry (and once
 * per variable-length field) with ensure(), then writes through the put* functions below.
 */
class Out {
  buf: Uint8Array;
  /** A DataView of buf, for writing constant text four bytes at a time. */
  dv: DataView;
  n = 0;
  constructor(cap: number) {
    this.buf = allocBytes(cap);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const next = allocBytes(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
  /** Start over, empty, writing into `buf`. */
  reuse(buf: Uint8Array): void {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.n = 0;
  }
  /** Start over with a fresh, empty buffer of `cap` bytes. */
  reset(cap: number): void {
    this.buf = allocBytes(cap);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.n = 0;
  }
  /** ASCII/latin1 string (every char < 256). */
  str(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
    this.n = n;
  }
  byte(c: number): void {
    this.ensure(1);
    this.buf[this.n++] = c;
  }
}

/** Output buffers are always written before they are read: skip zero-filling them. */
function allocBytes(n: number): Uint8Array {
  return allocUninitialized(n);
}

const TWO32 = 4294967296;

/** Bytes printed as themselves inside data="...": printable ASCII except `"` and `\`. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) PLAIN[c] = c === 34 || c === 92 ? 0 : 1;
/** Escape of each byte value: length (1 = itself) and up to 4 bytes at ESC[4*c]. */
const ESC_LEN = new Uint8Array(256);
const ESC = new Uint8Array(1024);
for (let c = 0; c < 256; c++) {
  const text =
    PLAIN[c] === 1 ? String.fromCharCode(c)
    : c === 34 || c === 92 ? `\\${String.fromCharCode(c)}`
    : c === 10 ? '\\n'
    : `\\${c.toString(8).padStart(3, '0')}`;
  ESC_LEN[c] = text.length;
  for (let k = 0; k < text.length; k++) ESC[4 * c + k] = text.charCodeAt(k);
}
const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** "00".."99" as byte pairs. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, k) => 48 + (k & 1 ? (k >> 1) % 10 : Math.floor((k >> 1) / 10)));

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

// ---- Per-command compiled printing plans --------------------------------------------------

const enum P {
  U8,
  U32,
  U32_OCTAL,
  U64_SIGNED,
  U64_UNSIGNED,
  BOOL,
  TXNID_PAIR,
  FILENUMS,
  BYTESTRING,
  XIDP,
}

function planCode(type: FieldType, format: string | undefined): P {
  switch (type) {
    case 'uint8_t':
      return P.U8;
    case 'uint32_t':
      return format === 'o' ? P.U32_OCTAL : P.U32;
    case 'FILENUM':
      return P.U32;
    case 'uint64_t':
    case 'BLOCKNUM':
      return P.U64_SIGNED;
    case 'LSN':
    case 'TXNID':
      return P.U64_UNSIGNED;
    case 'bool':
      return P.BOOL;
    case 'TXNID_PAIR':
      return P.TXNID_PAIR;
    case 'FILENUMS':
      return P.FILENUMS;
    case 'BYTESTRING':
      return P.BYTESTRING;
    case 'XIDP':
      return P.XIDP;
  }
}

/**
 * Constant output text as little-endian 32-bit words (the last one zero-padded), written
 * with unaligned DataView stores: about four times faster than a byte loop. Writing may
 * touch up to 3 bytes past the text, inside the room reserved for the entry.
 */
interface Text {
  words: Int32Array;
  length: number;
}

function text(s: string): Text {
  const b = latin1(s);
  const words = new Int32Array(Math.ceil(b.length / 4));
  for (let i = 0; i < b.length; i++) words[i >> 2]! |= b[i]! << (8 * (i & 3));
  return { words, length: b.length };
}

/** Text printed between ` name=` and a field's first number. */
const VALUE_OPENING: Partial<Record<P, string>> = {
  [P.U32_OCTAL]: '0',
  [P.FILENUMS]: '{num=',
  [P.BYTESTRING]: '{len=',
  [P.XIDP]: '{formatID=0x',
};

interface Plan {
  /** `%-23s '%c': lsn=` */
  head: Text;
  /** Output bytes an entry of this type can need besides its variable-length data. */
  room: number;
  /** ` name=` per field, with the opening text of its value (`{len=` etc.). */
  prefixes: Text[];
  codes: P[];
}

const PLANS: Array<Plan | undefined> = LOG_SPEC_BY_CMD.map((spec) => {
  if (spec === undefined) return undefined;
  invariant(spec.cmd.charCodeAt(0) >= 0x20 && spec.cmd.charCodeAt(0) <= 0x7e, `command of ${spec.name} is not printable`);
  const head = text(`${spec.name.padEnd(LOG_NAME_WIDTH)}  '${spec.cmd}': lsn=`);
  const prefixes = spec.fields.map((f) => text(` ${f.name}=${VALUE_OPENING[planCode(f.type, f.format)] ?? ''}`));
  // Per field: its prefix plus 96 (more than any number or framing text printed for it);
  // 256 more for lsn, crc, checksum, len, actual_len and the newline; 2 spare for escapes.
  const room = head.length + prefixes.reduce((a, p) => a + p.length + 96, 0) + 256;
  return { head, room, prefixes, codes: spec.fields.map((f) => planCode(f.type, f.format)) };
});
const CRC_PREFIX = text(' crc=');
const CHECKSUM_PREFIX = text(' checksum=');
const LEN_PREFIX = text(' len=');
const ACTUAL_LEN_PREFIX = text(' actual_len=');
const TRUE = text('true');
const FALSE = text('false');
const FILENUMS_OPEN = text(' filenums="');
const DATA_OPEN = text(' data="');
const GTRID_LENGTH = text(' gtrid_length=');
const BQUAL_LENGTH = text(' bqual_length=');

// ---- Number and text writers on (buffer, position) ----------------------------------------
// Each returns the new position; the caller has ensured room (see Plan.room).

function putText(d: DataView, n: number, t: Text): number {
  const w = t.words;
  for (let i = 0; i < w.length; i++) d.setInt32(n + 4 * i, w[i]!, true);
  return n + t.length;
}

/** Non-negative integer below 2^53 in decimal. */
function putUint(b: Uint8Array, n: number, v: number): number {
  if (v < 10) {
    b[n] = 48 + v;
    return n + 1;
  }
  if (v <= 0x7fffffff) {
    const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    let i = n + digits;
    // Two digits per division.
    while (v >= 100) {
      const q = (v / 100) | 0;
      const r = (v - q * 100) << 1;
      b[--i] = DIGIT_PAIRS[r + 1]!;
      b[--i] = DIGIT_PAIRS[r]!;
      v = q;
    }
    if (v >= 10) {
      b[--i] = DIGIT_PAIRS[(v << 1) + 1]!;
      b[--i] = DIGIT_PAIRS[v << 1]!;
    } else {
      b[--i] = 48 + v;
    }
    return n + digits;
  }
  let digits = 0;
  for (let t = v; t >= 1; t = Math.floor(t / 10)) digits++;
  let i = n + digits;
  while (v >= 1) {
    const q = Math.floor(v / 10);
    b[--i] = 48 + (v - q * 10);
    v = q;
  }
  return n + digits;
}

/** A 64-bit value given as two u32 words, unsigned decimal (%llu), without BigInt. */
function putU64(b: Uint8Array, n: number, hi: number, lo: number): number {
  if (hi < 0x200000) return putUint(b, n, hi * TWO32 + lo);
  // v = hi*2^32 + lo = q*10^6 + r, with every intermediate below 2^53.
  const qh = Math.floor(hi / 1e6);
  const x = (hi - qh * 1e6) * TWO32 + lo;
  let ql = Math.floor(x / 1e6);
  let r = x - ql * 1e6;
  if (r < 0) {
    ql -= 1;
    r += 1e6;
  } else if (r >= 1e6) {
    ql += 1;
    r -= 1e6;
  }
  n = putUint(b, n, qh * TWO32 + ql);
  for (let k = 5; k >= 0; k--) {
    const q = Math.floor(r / 10);
    b[n + k] = 48 + (r - q * 10);
    r = q;
  }
  return n + 6;
}

/** A 64-bit value given as two u32 words, signed decimal (%lld). */
function putI64(b: Uint8Array, n: number, hi: number, lo: number): number {
  if (hi < 0x80000000) return putU64(b, n, hi, lo);
  // Two's complement negation on the two words.
  let nlo = (~lo >>> 0) + 1;
  let nhi = ~hi >>> 0;
  if (nlo === TWO32) {
    nlo = 0;
    nhi = (nhi + 1) >>> 0;
  }
  b[n] = 45;
  return putU64(b, n + 1, nhi, nlo);
}

/** A u32 printed with %d (signed). */
function putI32(b: Uint8Array, n: number, v: number): number {
  const s = v | 0;
  if (s < 0) {
    b[n] = 45;
    return putUint(b, n + 1, -s);
  }
  return putUint(b, n, s);
}

/** Lower-case hex without leading zeros (%x). */
function putHex(b: Uint8Array, n: number, v: number): number {
  let digits = 1;
  while (digits < 8 && v >>> (4 * digits) !== 0) digits++;
  for (let k = digits - 1; k >= 0; k--) b[n++] = HEX[(v >>> (4 * k)) & 15]!;
  return n;
}

/** Zero-padded 8-digit hex (%08x). */
function putHex8(b: Uint8Array, n: number, v: number): number {
  for (let k = 7; k >= 0; k--) b[n++] = HEX[(v >>> (4 * k)) & 15]!;
  return n;
}

/** Octal without leading zeros (%o). */
function putOctal(b: Uint8Array, n: number, v: number): number {
  let digits = 1;
  while (digits < 11 && Math.floor(v / 8 ** digits) !== 0) digits++;
  for (let k = digits - 1; k >= 0; k--) b[n++] = 48 + (Math.floor(v / 8 ** k) & 7);
  return n;
}

/** Bytes src[from, to) escaped as toku_print_bytes does (room: 4 per byte + 2 spare). */
function putEscaped(b: Uint8Array, d: DataView, n: number, src: Uint8Array, sv: DataView, from: number, to: number): number {
  let i = from;
  const last4 = to - 4;
  while (i <= last4) {
    // Four bytes at once when none needs escaping: none below 0x20, none with the top bit,
    // no 0x7f, '"' or '\' (exact "has a byte less than / equal to" word tests).
    const w = sv.getInt32(i, true);
    const x7f = w ^ 0x7f7f7f7f;
    const xq = w ^ 0x22222222;
    const xb = w ^ 0x5c5c5c5c;
    const special = ((w - 0x20202020) & ~w) | w | ((x7f - 0x01010101) & ~x7f) | ((xq - 0x01010101) & ~xq) | ((xb - 0x01010101) & ~xb);
    if ((special & 0x80808080) === 0) {
      d.setInt32(n, w, true);
      n += 4;
      i += 4;
    } else {
      n = putEscapedByte(b, n, src[i++]!);
    }
  }
  while (i < to) n = putEscapedByte(b, n, src[i++]!);
  return n;
}

function putEscapedByte(b: Uint8Array, n: number, c: number): number {
  const e = ESC_LEN[c]!;
  if (e === 1) {
    b[n] = c;
    return n + 1;
  }
  // Always copy 4 bytes (there are 2 spare); a 2-byte escape just advances by 2.
  const k = c << 2;
  b[n] = ESC[k]!;
  b[n + 1] = ESC[k + 1]!;
  b[n + 2] = ESC[k + 2]!;
  b[n + 3] = ESC[k + 3]!;
  return n + e;
}

// ---- One entry ----------------------------------------------------------------------------

/** Outcome of printing the entry at a position. */
const enum R {
  /** Complete and valid; a newline was printed. */
  OK,
  /** The bytes end inside the entry and more may come: output withdrawn, retry later. */
  NEED,
  /** The bytes end inside the entry at end of input: the partial line stays (tool's EOF). */
  EOF,
  /** DB_BADFORMAT: missing cmd, unknown cmd, or a failed check. Output stays. */
  BAD,
}

/**
 * A DataView of the input buffer printEntry last read: one unaligned load per u32 instead
 * of four byte loads. (It keeps that buffer reachable until another one is printed.)
 */
let inputOf: Uint8Array | undefined;
let inputView: DataView | undefined;

/** Results of printEntry besides the code (kept in module state to avoid allocation). */
let entryEnd = 0;
let entryNeed = 0;

/**
 * The bytes end inside the entry that started at `pos` (output mark `mark`): the tool's quiet
 * EOF keeping the partial line (up to `n`), or withdraw the output and ask for more bytes.
 */
function short(out: Out, mark: number, n: number, pos: number, atEof: boolean, needUpTo: number, leadingLen: number): R {
  if (atEof) {
    out.n = n;
    return R.EOF;
  }
  out.n = mark;
  let want = needUpTo - pos;
  // A plausible leading len lets a big entry arrive whole instead of field by field.
  if (leadingLen > want && leadingLen <= 64 << 20) want = leadingLen;
  entryNeed = want;
  return R.NEED;
}

/**
 * Print the entry starting at buf[pos] (bytes valid up to `end`). `atEof` says no more bytes
 * will follow. `crcKnownGood` skips recomputing the checksum when the caller has just
 * verified it (a cursor that checked the entry). Sets entryEnd (the position after the entry)
 * on OK, entryNeed (a good number of bytes from pos to wait for) on NEED.
 */
function printEntry(buf: Uint8Array, pos: number, end: number, atEof: boolean, out: Out, crcKnownGood = false): R {
  if (buf !== inputOf) {
    inputOf = buf;
    inputView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  const iv = inputView!;
  const mark = out.n;
  if (pos + 4 > end) return atEof ? R.EOF : short(out, mark, mark, pos, false, pos + 4, 0);
  const leadingLen = iv.getUint32(pos, true);
  if (pos + 5 > end) return atEof ? R.BAD : short(out, mark, mark, pos, false, pos + 5, leadingLen);
  const cmd = buf[pos + 4]!;
  const plan = PLANS[cmd];
  if (plan === undefined) {
    out.str(`Unknown command ${cmd} ('`);
    out.byte(cmd);
    out.str("')");
    return R.BAD;
  }
  out.ensure(plan.room);
  let b = out.buf;
  let d = out.dv;
  let n = putText(d, mark, plan.head) - 5;
  let p = pos + 5;
  // ` lsn=` is part of the head; it shows only once the LSN is there.
  if (p + 8 > end) return short(out, mark, n, pos, atEof, p + 8, leadingLen);
  n += 5;
  n = putU64(b, n, iv.getUint32(p, true), iv.getUint32(p + 4, true));
  p += 8;
  const codes = plan.codes;
  const prefixes = plan.prefixes;
  for (let i = 0; i < codes.length; i++) {
    switch (codes[i]!) {
      case P.U8: {
        if (p + 1 > end) return short(out, mark, n, pos, atEof, p + 1, leadingLen);
        const v = buf[p++]!;
        n = putText(d, n, prefixes[i]!);
        n = putUint(b, n, v);
        if (v >= 0x20 && v <= 0x7e) {
          b[n] = 40; // ('c')
          b[n + 1] = 39;
          b[n + 2] = v;
          b[n + 3] = 39;
          b[n + 4] = 41;
          n += 5;
        }
        break;
      }
      case P.BOOL:
        if (p + 1 > end) return short(out, mark, n, pos, atEof, p + 1, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putText(d, n, buf[p++] !== 0 ? TRUE : FALSE);
        break;
      case P.U32:
        if (p + 4 > end) return short(out, mark, n, pos, atEof, p + 4, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putI32(b, n, iv.getUint32(p, true));
        p += 4;
        break;
      case P.U32_OCTAL:
        if (p + 4 > end) return short(out, mark, n, pos, atEof, p + 4, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putOctal(b, n, iv.getUint32(p, true));
        p += 4;
        break;
      case P.U64_SIGNED:
        if (p + 8 > end) return short(out, mark, n, pos, atEof, p + 8, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putI64(b, n, iv.getUint32(p, true), iv.getUint32(p + 4, true));
        p += 8;
        break;
      case P.U64_UNSIGNED:
        if (p + 8 > end) return short(out, mark, n, pos, atEof, p + 8, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putU64(b, n, iv.getUint32(p, true), iv.getUint32(p + 4, true));
        p += 8;
        break;
      case P.TXNID_PAIR:
        if (p + 16 > end) return short(out, mark, n, pos, atEof, p + 16, leadingLen);
        n = putText(d, n, prefixes[i]!);
        n = putU64(b, n, iv.getUint32(p, true), iv.getUint32(p + 4, true));
        b[n++] = 44;
        n = putU64(b, n, iv.getUint32(p + 8, true), iv.getUint32(p + 12, true));
        p += 16;
        break;
      case P.FILENUMS: {
        if (p + 4 > end) return short(out, mark, n, pos, atEof, p + 4, leadingLen);
        const num = iv.getUint32(p, true);
        if (p + 4 + 4 * num > end) return short(out, mark, n, pos, atEof, p + 4 + 4 * num, leadingLen);
        p += 4;
        out.n = n;
        out.ensure(11 * num + plan.room);
        b = out.buf;
        d = out.dv;
        n = putText(d, n, prefixes[i]!);
        n = putUint(b, n, num);
        n = putText(d, n, FILENUMS_OPEN);
        for (let k = 0; k < num; k++) {
          if (k > 0) b[n++] = 44;
          b[n++] = 48; // 0x
          b[n++] = 120;
          n = putHex(b, n, iv.getUint32(p, true));
          p += 4;
        }
        b[n++] = 34; // "}
        b[n++] = 125;
        break;
      }
      case P.BYTESTRING: {
        if (p + 4 > end) return short(out, mark, n, pos, atEof, p + 4, leadingLen);
        const len = iv.getUint32(p, true);
        if (p + 4 + len > end) return short(out, mark, n, pos, atEof, p + 4 + len, leadingLen);
        p += 4;
        out.n = n;
        out.ensure(4 * len + plan.room);
        b = out.buf;
        d = out.dv;
        n = putText(d, n, prefixes[i]!);
        n = putUint(b, n, len);
        n = putText(d, n, DATA_OPEN);
        n = putEscaped(b, d, n, buf, iv, p, p + len);
        b[n++] = 34; // "}
        b[n++] = 125;
        p += len;
        break;
      }
      case P.XIDP: {
        if (p + 6 > end) return short(out, mark, n, pos, atEof, p + 6, leadingLen);
        const formatID = iv.getUint32(p, true);
        const g = buf[p + 4]!;
        const q = buf[p + 5]!;
        if (p + 6 + g + q > end) return short(out, mark, n, pos, atEof, p + 6 + g + q, leadingLen);
        p += 6;
        out.n = n;
        out.ensure(4 * (g + q) + plan.room);
        b = out.buf;
        d = out.dv;
        n = putText(d, n, prefixes[i]!);
        n = putHex(b, n, formatID);
        n = putText(d, n, GTRID_LENGTH);
        n = putUint(b, n, g);
        n = putText(d, n, BQUAL_LENGTH);
        n = putUint(b, n, q);
        n = putText(d, n, DATA_OPEN);
        n = putEscaped(b, d, n, buf, iv, p, p + g + q);
        b[n++] = 34; // "}
        b[n++] = 125;
        p += g + q;
        break;
      }
    }
  }
  if (p + 4 > end) return short(out, mark, n, pos, atEof, p + 8, leadingLen);
  const storedCrc = iv.getUint32(p, true);
  const computed = crcKnownGood ? storedCrc : x1764(buf, pos, p);
  n = putText(d, n, CRC_PREFIX);
  n = putHex8(b, n, storedCrc);
  if (storedCrc !== computed) {
    n = putText(d, n, CHECKSUM_PREFIX);
    n = putHex8(b, n, computed);
  }
  if (p + 8 > end) return short(out, mark, n, pos, atEof, p + 8, leadingLen);
  const storedLen = iv.getUint32(p + 4, true);
  const consumed = p + 8 - pos;
  n = putText(d, n, LEN_PREFIX);
  n = putUint(b, n, storedLen);
  if (storedLen !== consumed) {
    n = putText(d, n, ACTUAL_LEN_PREFIX);
    n = putUint(b, n, consumed);
  }
  if (storedLen !== consumed || storedCrc !== computed) {
    out.n = n;
    return R.BAD;
  }
  b[n++] = 10;
  out.n = n;
  entryEnd = p + 8;
  return R.OK;
}

// ---- JIT priming -------------------------------------------------------------------------

/**
 * Print one made-up entry of every record type (in two variants: small printable values, then
 * large, negative and non-printable ones), whole and cut at every byte, once, before the first
 * streaming print (a LogPrinter) rather than when the module loads, so that importing the
 * library costs nothing. V8 optimizes printEntry only for the branches it has already seen;
 * without this, each record type or chunk-boundary position first met later in a log costs a
 * deoptimization and a recompile of this large function.
 */
let primed = false;

function primeEntryPrinter(): void {
  if (primed) return;
  primed = true;
  const out = new Out(1 << 12);
  for (let v = 1; v < 2 ** 53; v = v * 7 + 3) putUint(out.buf, 0, v);
  const bytes: number[] = [];
  const u32 = (v: number) => bytes.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  for (let variant = 0; variant < 2; variant++) {
    for (let cmd = 0; cmd < 256; cmd++) {
      const plan = PLANS[cmd];
      if (plan === undefined) continue;
      const big = variant === 1;
      bytes.length = 0;
      u32(0);
      bytes.push(cmd);
      u32(big ? 0x80000000 : 0);
      u32(big ? 5 : 12345);
      for (const code of plan.codes) {
        switch (code) {
          case P.U8:
          case P.BOOL:
            bytes.push(big ? 1 : 0x41);
            break;
          case P.U32:
          case P.U32_OCTAL:
            u32(big ? 0xfffffff0 : 420);
            break;
          case P.U64_SIGNED:
          case P.U64_UNSIGNED:
            u32(big ? 0xffffffff : 0);
            u32(big ? 7 : 987654);
            break;
          case P.TXNID_PAIR:
            for (let k = 0; k < 4; k++) u32(k & 1 ? 3 : big ? 0x300000 : 0);
            break;
          case P.FILENUMS:
            u32(2);
            u32(7);
            u32(big ? 0xffffffff : 0);
            break;
          case P.BYTESTRING:
            u32(4);
            bytes.push(0x61, big ? 10 : 0x22, big ? 0xff : 0x5c, 0);
            break;
          case P.XIDP:
            u32(big ? 0xabcdef : 0);
            bytes.push(1, 1, 0x61, big ? 0x80 : 0x62);
            break;
        }
      }
      const len = bytes.length + 8;
      const entry = new Uint8Array(len);
      entry.set(bytes);
      entry[0] = len & 255;
      entry[1] = len >>> 8;
      const crc = x1764(entry, 0, len - 8);
      for (let k = 0; k < 4; k++) {
        entry[len - 8 + k] = (crc >>> (8 * k)) & 255;
        entry[len - 4 + k] = (len >>> (8 * k)) & 255;
      }
      for (const known of [false, true]) {
        out.n = 0;
        invariant(printEntry(entry, 0, len, false, out, known) === R.OK, 'priming entry prints');
      }
      // The entry cut inside each field (and at its end): the paths taken at chunk boundaries
      // and at end of input.
      if (variant === 0) {
        for (let cut = 0; cut < len; cut += cut < 13 ? 4 : 3) {
          out.n = 0;
          printEntry(entry, 0, cut, cut % 2 === 1, out);
        }
      }
    }
  }
}

// ---- Single records ----------------------------------------------------------------------

/**
 * The tokuft_logprint line of one record (without the final newline), with the crc and len
 * of its encoding.
 */
export function formatRecord(rec: LogRecord): string {
  return formatEntryBytes(encodeRecord(rec));
}

/**
 * The tokuft_logprint text of the entry at the start of `bytes` exactly as the tool prints it
 * (without the newline a valid entry ends with; a damaged entry gets the tool's partial or
 * `checksum=`/`actual_len=` form).
 */
export function formatEntryBytes(bytes: Uint8Array, offset = 0): string {
  const out = new Out(256);
  const r = printEntry(bytes, offset, bytes.length, true, out);
  const n = r === R.OK ? out.n - 1 : out.n;
  return latin1String(out.buf, 0, n);
}

// ---- Streaming printer ---------------------------------------------------------------------

/** What the `tokuft_logprint`-compatible printer produced: its exit status and stderr text. */
export interface LogPrintResult {
  /** The tool's exit status: 0, or 1 after DB_BADFORMAT. */
  exitCode: 0 | 1;
  /** The tool's stderr text ('' or `Problem in log err=-30500\n`). */
  stderr: string;
  /** Number of entries printed completely. */
  records: number;
}

const HEADER_MAGIC = latin1('tokulogg');

const EMPTY = new Uint8Array(0);

/**
 * Streaming core of tokuft_logprint. Feed stdin with push(), take the stdout bytes with
 * takeOutput() whenever convenient, and call end() at end of input.
 *
 * Input chunks are printed in place. Only the bytes of an entry cut by a chunk boundary are
 * copied (into `tail`); the entries straddling the boundary are printed from a small staging
 * copy of the tail plus the first bytes of the next chunk, and the rest of that chunk in place.
 */
export class LogPrinter {
  private readonly out = new Out(1 << 16);
  /** Output buffers given back by recycle(). */
  private readonly spare: Uint8Array[] = [];
  /** Unconsumed input kept from earlier chunks (a copy; the caller may reuse its chunks). */
  private tail: Uint8Array = EMPTY;
  /**
   * Room the tail grows in while an entry is awaited: the tail is then a prefix view of it.
   * It grows by doubling, so an entry whose (possibly damaged) length claims more than the
   * input holds costs copying linear in the input, not a copy of the whole tail per chunk.
   */
  private room: Uint8Array = EMPTY;
  /** Bytes copied to keep input across chunks (tail and staging copies), for tests. */
  tailBytesCopied = 0;
  /** Don't try to parse again until this many bytes are available. */
  private waitFor = 0;
  private phase: 'magic' | 'version' | 'records' | 'done' = 'magic';
  private result: LogPrintResult | undefined;
  private printed = 0;

  /**
   * @param count record limit as tokuft_logprint's argument: the loop stops when the number
   *              of records equals it, so -1 (default) or any negative value is unlimited.
   */
  constructor(private readonly count = -1) {
    primeEntryPrinter();
  }

  /** True once no more input is needed (limit reached, error, or end seen). */
  get done(): boolean {
    return this.phase === 'done';
  }

  /** Bytes of output produced so far and not yet taken. */
  get pendingOutput(): number {
    return this.out.n;
  }

  /** Feeds the next chunk of log file bytes to the printer; output is produced as whole records become available. */
  push(chunk: Uint8Array): void {
    if (this.phase === 'done' || chunk.length === 0) return;
    // Keep the hot code monomorphic: Buffer chunks (node streams) become plain views.
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const t = this.tail.length;
    if (t === 0) {
      if (chunk.length < this.waitFor) this.keep(chunk, 0);
      else this.consume(chunk, 0, false);
      return;
    }
    if (t + chunk.length < this.waitFor || this.phase !== 'records') {
      const joined = this.appendToTail(chunk);
      if (joined.length < this.waitFor) this.tail = joined;
      else {
        this.room = EMPTY;
        this.consume(joined, 0, false);
      }
      return;
    }
    this.pushStraddling(chunk);
  }

  /**
   * Print the complete entry at buf[offset] (all its bytes present), after the file header
   * was pushed and with no input pending: for readers that walk a log themselves (such as a
   * log cursor) and print only some entries. `crcVerified` says the caller has checked the
   * entry's checksum, so it is not computed again. A damaged entry is printed as the tool
   * prints it and ends the printer with DB_BADFORMAT.
   */
  printEntryAt(buf: Uint8Array, offset: number, crcVerified = false): void {
    if (this.phase === 'done') return;
    if (buf.constructor !== Uint8Array) buf = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    invariant(this.phase === 'records' && this.tail.length === 0, 'printEntryAt: header pushed and no input pending');
    if (this.printed === this.count) return this.finish(0);
    const r = printEntry(buf, offset, buf.length, true, this.out, crcVerified);
    if (r === R.OK) this.printed++;
    else this.finish(r === R.EOF ? 0 : 1);
  }

  /** End of input: finish any partial entry the way the tool does. */
  end(): LogPrintResult {
    if (this.phase !== 'done') {
      const rest = this.tail;
      this.tail = EMPTY;
      this.consume(rest, 0, true);
    }
    invariant(this.result !== undefined, 'printer finished without a result');
    return this.result;
  }

  /** The output produced since the last call (the caller owns the returned bytes). */
  takeOutput(): Uint8Array {
    const o = this.out;
    const taken = o.buf.subarray(0, o.n);
    const spare = this.spare.pop();
    if (spare !== undefined) o.reuse(spare);
    else o.reset(Math.max(1 << 16, Math.min(o.buf.length, 4 << 20)));
    return taken;
  }

  /**
   * Give back bytes returned by takeOutput() once they are written, so a later takeOutput()
   * can reuse their buffer instead of allocating (keeps memory flat while streaming).
   */
  recycle(taken: Uint8Array): void {
    if (this.spare.length < 2 && taken.byteOffset === 0 && taken.buffer.byteLength >= 1 << 16) {
      this.spare.push(new Uint8Array(taken.buffer, 0, taken.buffer.byteLength));
    }
  }

  /**
   * The tail holds the start of an entry and `chunk` (with the tail, at least waitFor bytes)
   * continues it: print the entries that start in the tail from a staging copy holding the
   * tail and just enough of the chunk, then the rest of the chunk in place.
   */
  private pushStraddling(chunk: Uint8Array): void {
    const tail = this.tail;
    const t = tail.length;
    let k = Math.min(chunk.length, Math.max(this.waitFor - t, 256));
    for (;;) {
      const staging = concat(tail, chunk, k);
      this.tailBytesCopied += staging.length;
      let pos = 0;
      let r = R.OK;
      while (pos < t) {
        if (this.printed === this.count) return this.finish(0);
        r = printEntry(staging, pos, staging.length, false, this.out);
        if (r !== R.OK) break;
        this.printed++;
        pos = entryEnd;
      }
      if (pos >= t) {
        this.tail = EMPTY;
        this.waitFor = 0;
        this.consume(chunk, pos - t, false);
        return;
      }
      if (r !== R.NEED) return this.finish(r === R.EOF ? 0 : 1);
      if (k === chunk.length) {
        // Even the whole chunk is not enough: keep everything from the entry on.
        this.tail = staging.slice(pos);
        this.tailBytesCopied += this.tail.length;
        this.waitFor = entryNeed;
        return;
      }
      k = Math.min(chunk.length, Math.max(pos + entryNeed - t, 2 * k));
    }
  }

  /** The tail followed by chunk, appended in `room` (grown by doubling) when it is there. */
  private appendToTail(chunk: Uint8Array): Uint8Array {
    const t = this.tail.length;
    const n = t + chunk.length;
    const inRoom = this.tail.buffer === this.room.buffer && this.tail.byteOffset === this.room.byteOffset;
    if (!inRoom || n > this.room.length) {
      const next = new Uint8Array(Math.max(n, 2 * this.room.length, 2 * t, 1 << 16));
      next.set(this.tail, 0);
      this.tailBytesCopied += t;
      this.room = next;
    }
    this.room.set(chunk, t);
    this.tailBytesCopied += chunk.length;
    return this.room.subarray(0, n);
  }

  private keep(buf: Uint8Array, from: number): void {
    // Copy the (usually small) tail so the caller's chunk can be reused or freed.
    this.tail = from < buf.length ? buf.slice(from) : EMPTY;
    this.tailBytesCopied += this.tail.length;
    this.room = EMPTY;
  }

  private finish(exitCode: 0 | 1): void {
    this.phase = 'done';
    this.tail = EMPTY;
    this.result = {
      exitCode,
      stderr: exitCode === 0 ? '' : `Problem in log err=${DB_BADFORMAT}\n`,
      records: this.printed,
    };
  }

  /** Print what buf[pos..] holds (all the input there is so far, or at end all there is). */
  private consume(buf: Uint8Array, pos: number, atEof: boolean): void {
    const end = buf.length;
    if (this.phase === 'magic') {
      if (end - pos < 8) {
        if (!atEof) return this.wait(buf, pos, 8);
        // fread consumed the short magic; records start at end of input.
        pos = end;
      } else {
        let ok = true;
        for (let i = 0; i < 8; i++) if (buf[pos + i] !== HEADER_MAGIC[i]) ok = false;
        pos += 8;
        this.phase = ok ? 'version' : 'records';
      }
      if (pos === end && atEof) this.phase = 'records';
    }
    if (this.phase === 'version') {
      if (end - pos < 4) {
        if (!atEof) return this.wait(buf, pos, 4);
        pos = end;
      } else {
        const v = ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
        this.out.str(`tokulog v.${v}\n`);
        pos += 4;
      }
      this.phase = 'records';
    }
    const out = this.out;
    while (true) {
      if (this.printed === this.count) return this.finish(0);
      if (pos === end && !atEof) return this.wait(buf, pos, 4);
      const r = printEntry(buf, pos, end, atEof, out);
      if (r === R.OK) {
        this.printed++;
        pos = entryEnd;
      } else if (r === R.NEED) {
        return this.wait(buf, pos, entryNeed);
      } else {
        return this.finish(r === R.EOF ? 0 : 1);
      }
    }
  }

  private wait(buf: Uint8Array, pos: number, need: number): void {
    this.keep(buf, pos);
    this.waitFor = need;
  }
}

/** a followed by the first k bytes of b, in a new array. */
function concat(a: Uint8Array, b: Uint8Array, k: number): Uint8Array {
  const all = new Uint8Array(a.length + k);
  all.set(a, 0);
  all.set(b.subarray(0, k), a.length);
  return all;
}

/** Print a whole log held in memory (tests, small files): stdout bytes plus the result. */
export function printLog(bytes: Uint8Array, count = -1): { stdout: Uint8Array; result: LogPrintResult } {
  const p = new LogPrinter(count);
  p.push(bytes);
  const result = p.end();
  return { stdout: p.takeOutput(), result };
}
