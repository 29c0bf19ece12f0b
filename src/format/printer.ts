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
import { invariant } from './errors.js';
import { LOG_NAME_WIDTH, LOG_SPEC_BY_CMD, type FieldType, type LogRecord } from './record-types.js';
import { x1764 } from './x1764.js';

/** DB_BADFORMAT, the only error code the printer reports. */
export const DB_BADFORMAT = -30500;

// ---- Output buffer ------------------------------------------------------------------------

/** A growable byte buffer with the formatting primitives the printer needs. */
class Out {
  buf: Uint8Array;
  n = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(cap);
  }
  ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  bytes(b: Uint8Array): void {
    const len = b.length;
    this.ensure(len);
    if (len > 32) {
      this.buf.set(b, this.n);
      this.n += len;
      return;
    }
    // TypedArray.set has a fixed cost that dominates for the short prefixes printed here.
    const d = this.buf;
    let n = this.n;
    for (let i = 0; i < len; i++) d[n++] = b[i]!;
    this.n = n;
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
  /** Non-negative integer below 2^53 in decimal. */
  uint(v: number): void {
    this.ensure(20);
    const b = this.buf;
    if (v < 10) {
      b[this.n++] = 48 + v;
      return;
    }
    if (v <= 0x7fffffff) {
      let digits = 1;
      for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
      let i = this.n + digits;
      this.n = i;
      while (v >= 10) {
        const q = (v / 10) | 0;
        b[--i] = 48 + v - q * 10;
        v = q;
      }
      b[--i] = 48 + v;
      return;
    }
    let digits = 0;
    for (let t = v; t >= 1; t = Math.floor(t / 10)) digits++;
    let i = this.n + digits;
    this.n = i;
    while (v >= 1) {
      const q = Math.floor(v / 10);
      b[--i] = 48 + (v - q * 10);
      v = q;
    }
  }
  /** A 64-bit value given as two u32 words, unsigned decimal (%llu). */
  u64(hi: number, lo: number): void {
    if (hi < 0x200000) this.uint(hi * 4294967296 + lo);
    else this.str(((BigInt(hi) << 32n) | BigInt(lo)).toString());
  }
  /** A 64-bit value given as two u32 words, signed decimal (%lld). */
  i64(hi: number, lo: number): void {
    if (hi < 0x80000000) {
      this.u64(hi, lo);
      return;
    }
    // Two's complement negation on the two words.
    let nlo = (~lo >>> 0) + 1;
    let nhi = ~hi >>> 0;
    if (nlo === 4294967296) {
      nlo = 0;
      nhi = (nhi + 1) >>> 0;
    }
    this.byte(45);
    this.u64(nhi, nlo);
  }
  /** A u32 printed with %d (signed). */
  i32(v: number): void {
    const s = v | 0;
    if (s < 0) {
      this.byte(45);
      this.uint(-s);
    } else this.uint(s);
  }
  /** `"` + bytes escaped as toku_print_bytes does + `"`. */
  quoted(src: Uint8Array, from: number, to: number): void {
    this.ensure(4 + 4 * (to - from));
    const b = this.buf;
    let n = this.n;
    b[n++] = 34;
    for (let i = from; i < to; i++) {
      const c = src[i]!;
      const e = ESC_LEN[c]!;
      if (e === 1) {
        b[n++] = c;
      } else {
        // Always copy 4 bytes (capacity has 2 spare); a 2-byte escape just advances by 2.
        const k = c << 2;
        b[n] = ESC[k]!;
        b[n + 1] = ESC[k + 1]!;
        b[n + 2] = ESC[k + 2]!;
        b[n + 3] = ESC[k + 3]!;
        n += e;
      }
    }
    b[n++] = 34;
    this.n = n;
  }
  hex8(v: number): void {
    this.ensure(8);
    for (let k = 7; k >= 0; k--) this.buf[this.n++] = HEX[(v >>> (4 * k)) & 15]!;
  }
}

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

interface Plan {
  /** `%-23s '%c':` */
  head: Uint8Array;
  /** ` name=` per field. */
  prefixes: Uint8Array[];
  codes: P[];
}

const PLANS: Array<Plan | undefined> = LOG_SPEC_BY_CMD.map((spec) => {
  if (spec === undefined) return undefined;
  invariant(spec.cmd.charCodeAt(0) >= 0x20 && spec.cmd.charCodeAt(0) <= 0x7e, `command of ${spec.name} is not printable`);
  return {
    head: latin1(`${spec.name.padEnd(LOG_NAME_WIDTH)}  '${spec.cmd}':`),
    prefixes: spec.fields.map((f) => latin1(` ${f.name}=`)),
    codes: spec.fields.map((f) => planCode(f.type, f.format)),
  };
});
const LSN_PREFIX = latin1(' lsn=');
const CRC_PREFIX = latin1(' crc=');
const CHECKSUM_PREFIX = latin1(' checksum=');
const LEN_PREFIX = latin1(' len=');
const ACTUAL_LEN_PREFIX = latin1(' actual_len=');
const TRUE = latin1('true');
const FALSE = latin1('false');

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

function u32At(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Results of printEntry besides the code (kept in module state to avoid allocation). */
let entryEnd = 0;
let entryNeed = 0;

let entryMark = 0;
let entryPos = 0;
let entryAtEof = false;
let entryOut: Out | undefined;

/** The bytes end inside the current entry: the tool's quiet EOF, or withdraw and wait. */
function short(needUpTo: number, leadingLen: number): R {
  if (entryAtEof) return R.EOF;
  entryOut!.n = entryMark;
  let want = needUpTo - entryPos;
  // A plausible leading len lets a big entry arrive whole instead of field by field.
  if (leadingLen > want && leadingLen <= 64 << 20) want = leadingLen;
  entryNeed = want;
  return R.NEED;
}

/**
 * Print the entry starting at buf[pos] (bytes valid up to `end`). `atEof` says no more bytes
 * will follow. Sets entryEnd (the position after the entry) on OK, entryNeed (a good number
 * of bytes from pos to wait for) on NEED.
 */
function printEntry(buf: Uint8Array, pos: number, end: number, atEof: boolean, out: Out): R {
  entryMark = out.n;
  entryPos = pos;
  entryAtEof = atEof;
  entryOut = out;
  if (pos + 4 > end) return atEof ? R.EOF : short(pos + 4, 0);
  const leadingLen = u32At(buf, pos);
  if (pos + 5 > end) return atEof ? R.BAD : short(pos + 5, leadingLen);
  const cmd = buf[pos + 4]!;
  const plan = PLANS[cmd];
  if (plan === undefined) {
    out.str(`Unknown command ${cmd} ('`);
    out.byte(cmd);
    out.str("')");
    return R.BAD;
  }
  out.bytes(plan.head);
  let p = pos + 5;
  if (p + 8 > end) return short(p + 8, leadingLen);
  out.bytes(LSN_PREFIX);
  out.u64(u32At(buf, p), u32At(buf, p + 4));
  p += 8;
  const codes = plan.codes;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    switch (code) {
      case P.U8: {
        if (p + 1 > end) return short(p + 1, leadingLen);
        const v = buf[p++]!;
        out.bytes(plan.prefixes[i]!);
        out.uint(v);
        if (v >= 0x20 && v <= 0x7e) {
          out.str("('");
          out.byte(v);
          out.str("')");
        }
        break;
      }
      case P.BOOL:
        if (p + 1 > end) return short(p + 1, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.bytes(buf[p++] !== 0 ? TRUE : FALSE);
        break;
      case P.U32:
        if (p + 4 > end) return short(p + 4, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.i32(u32At(buf, p));
        p += 4;
        break;
      case P.U32_OCTAL:
        if (p + 4 > end) return short(p + 4, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.byte(48);
        out.str(u32At(buf, p).toString(8));
        p += 4;
        break;
      case P.U64_SIGNED:
        if (p + 8 > end) return short(p + 8, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.i64(u32At(buf, p), u32At(buf, p + 4));
        p += 8;
        break;
      case P.U64_UNSIGNED:
        if (p + 8 > end) return short(p + 8, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.u64(u32At(buf, p), u32At(buf, p + 4));
        p += 8;
        break;
      case P.TXNID_PAIR:
        if (p + 16 > end) return short(p + 16, leadingLen);
        out.bytes(plan.prefixes[i]!);
        out.u64(u32At(buf, p), u32At(buf, p + 4));
        out.byte(44);
        out.u64(u32At(buf, p + 8), u32At(buf, p + 12));
        p += 16;
        break;
      case P.FILENUMS: {
        if (p + 4 > end) return short(p + 4, leadingLen);
        const num = u32At(buf, p);
        if (p + 4 + 4 * num > end) return short(p + 4 + 4 * num, leadingLen);
        p += 4;
        out.bytes(plan.prefixes[i]!);
        out.str('{num=');
        out.uint(num);
        out.str(' filenums="');
        for (let k = 0; k < num; k++) {
          if (k > 0) out.byte(44);
          out.str('0x');
          out.str(u32At(buf, p).toString(16));
          p += 4;
        }
        out.str('"}');
        break;
      }
      case P.BYTESTRING: {
        if (p + 4 > end) return short(p + 4, leadingLen);
        const len = u32At(buf, p);
        if (p + 4 + len > end) return short(p + 4 + len, leadingLen);
        p += 4;
        out.bytes(plan.prefixes[i]!);
        out.str('{len=');
        out.uint(len);
        out.str(' data=');
        out.quoted(buf, p, p + len);
        out.byte(125);
        p += len;
        break;
      }
      case P.XIDP: {
        if (p + 6 > end) return short(p + 6, leadingLen);
        const formatID = u32At(buf, p);
        const g = buf[p + 4]!;
        const q = buf[p + 5]!;
        if (p + 6 + g + q > end) return short(p + 6 + g + q, leadingLen);
        p += 6;
        out.bytes(plan.prefixes[i]!);
        out.str('{formatID=0x');
        out.str(formatID.toString(16));
        out.str(' gtrid_length=');
        out.uint(g);
        out.str(' bqual_length=');
        out.uint(q);
        out.str(' data=');
        out.quoted(buf, p, p + g + q);
        out.byte(125);
        p += g + q;
        break;
      }
    }
  }
  if (p + 4 > end) return short(p + 8, leadingLen);
  const computed = x1764(buf, pos, p);
  const storedCrc = u32At(buf, p);
  out.bytes(CRC_PREFIX);
  out.hex8(storedCrc);
  if (storedCrc !== computed) {
    out.bytes(CHECKSUM_PREFIX);
    out.hex8(computed);
  }
  if (p + 8 > end) return short(p + 8, leadingLen);
  const storedLen = u32At(buf, p + 4);
  const consumed = p + 8 - pos;
  out.bytes(LEN_PREFIX);
  out.uint(storedLen);
  if (storedLen !== consumed) {
    out.bytes(ACTUAL_LEN_PREFIX);
    out.uint(consumed);
  }
  if (storedLen !== consumed || storedCrc !== computed) return R.BAD;
  out.byte(10);
  entryEnd = p + 8;
  return R.OK;
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
  return Buffer.from(out.buf.buffer, out.buf.byteOffset, n).toString('latin1');
}

// ---- Streaming printer ---------------------------------------------------------------------

export interface LogPrintResult {
  /** The tool's exit status: 0, or 1 after DB_BADFORMAT. */
  exitCode: 0 | 1;
  /** The tool's stderr text ('' or `Problem in log err=-30500\n`). */
  stderr: string;
  /** Number of entries printed completely. */
  records: number;
}

const HEADER_MAGIC = latin1('tokulogg');

/**
 * Streaming core of tokuft_logprint. Feed stdin with push(), take the stdout bytes with
 * takeOutput() whenever convenient, and call end() at end of input.
 */
export class LogPrinter {
  private readonly out = new Out(1 << 16);
  /** Unconsumed input: `chunks` joined, total `avail` bytes. */
  private chunks: Uint8Array[] = [];
  private avail = 0;
  /** Don't try to parse again until this many bytes are available. */
  private waitFor = 0;
  private phase: 'magic' | 'version' | 'records' | 'done' = 'magic';
  private result: LogPrintResult | undefined;
  private printed = 0;

  /**
   * @param count record limit as tokuft_logprint's argument: the loop stops when the number
   *              of records equals it, so -1 (default) or any negative value is unlimited.
   */
  constructor(private readonly count = -1) {}

  /** True once no more input is needed (limit reached, error, or end seen). */
  get done(): boolean {
    return this.phase === 'done';
  }

  /** Bytes of output produced so far and not yet taken. */
  get pendingOutput(): number {
    return this.out.n;
  }

  push(chunk: Uint8Array): void {
    if (this.phase === 'done' || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.avail += chunk.length;
    if (this.avail < this.waitFor) return;
    this.run(false);
  }

  /** End of input: finish any partial entry the way the tool does. */
  end(): LogPrintResult {
    if (this.phase !== 'done') this.run(true);
    invariant(this.result !== undefined, 'printer finished without a result');
    return this.result;
  }

  /** The output produced since the last call (the caller owns the returned bytes). */
  takeOutput(): Uint8Array {
    const o = this.out;
    const taken = o.buf.subarray(0, o.n);
    o.buf = new Uint8Array(Math.max(1 << 16, Math.min(o.buf.length, 4 << 20)));
    o.n = 0;
    return taken;
  }

  private joined(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const all = new Uint8Array(this.avail);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    this.chunks = [all];
    return all;
  }

  private keep(buf: Uint8Array, from: number): void {
    // Copy the (usually small) tail so the caller's chunk can be reused or freed.
    const rest = from < buf.length ? buf.slice(from) : new Uint8Array(0);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.avail = rest.length;
  }

  private finish(exitCode: 0 | 1): void {
    this.phase = 'done';
    this.chunks = [];
    this.avail = 0;
    this.result = {
      exitCode,
      stderr: exitCode === 0 ? '' : `Problem in log err=${DB_BADFORMAT}\n`,
      records: this.printed,
    };
  }

  private run(atEof: boolean): void {
    const buf = this.joined();
    const end = buf.length;
    let pos = 0;
    if (this.phase === 'magic') {
      if (end < 8) {
        if (!atEof) return this.wait(buf, pos, 8);
        // fread consumed the short magic; records start at end of input.
        pos = end;
      } else {
        let ok = true;
        for (let i = 0; i < 8; i++) if (buf[i] !== HEADER_MAGIC[i]) ok = false;
        pos = 8;
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

/** Print a whole log held in memory (tests, small files): stdout bytes plus the result. */
export function printLog(bytes: Uint8Array, count = -1): { stdout: Uint8Array; result: LogPrintResult } {
  const p = new LogPrinter(count);
  p.push(bytes);
  const result = p.end();
  return { stdout: p.takeOutput(), result };
}
