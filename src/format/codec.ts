/**
 * Encode and decode one tokulog v29 log entry (spec tokulog-format.md §4, §5, §9.1), driven
 * entirely by LOG_RECORD_TYPES: no per-type code.
 *
 * Entry layout: len(u32) cmd(u8) lsn(u64) fields... crc(u32) len(u32); crc = x1764 of every
 * byte from the leading len through the last field.
 *
 * Invariants:
 *  - encodeRecord(r).length === encodedLength(r), and both leading and trailing len equal it.
 *  - decodeRecord(encodeRecord(r)) gives r back, and re-encoding a decoded entry gives the
 *    same bytes (a bool byte other than 0/1 is remembered on the record, see RAW_BOOL_BYTES).
 *  - decodeRecord never reads outside [offset, buf.length) and never allocates more than the
 *    bytes present: a length that points past the end is reported as truncation.
 *  - A complete entry whose checksum, trailing len or leading len disagree, or whose command
 *    byte is unknown, is 'corrupt' with an error naming offset and expected/actual values.
 */
import { ByteWriter } from '../base/bytes.js';
import { TokusimError, invariant } from '../base/errors.js';
import {
  LOG_SPEC_BY_CMD,
  LOG_SPEC_BY_NAME,
  type FieldType,
  type LogRecord,
  type LogRecordSpec,
  type TxnidPair,
  type Xid,
} from './record-types.js';
import { x1764 } from './x1764.js';

export { LOG_FILE_HEADER_SIZE, encodeLogFileHeader, decodeLogFileHeader } from './log-header.js';

/** Bytes of framing around the fields: len(4) + cmd(1) + lsn(8) + crc(4) + len(4). */
export const ENTRY_OVERHEAD = 21;
/** The smallest possible v29 entry (shutdown_up_to_19). */
export const MIN_ENTRY_LENGTH = 29;

/**
 * When a decoded bool byte is neither 0 nor 1, PerconaFT reads it as `true`; to keep
 * decode→encode byte-identical the raw byte is stored under this symbol on the record
 * (a non-enumerable map field name → byte), and the encoder writes it back.
 */
export const RAW_BOOL_BYTES: unique symbol = Symbol.for('tokusim.rawBoolBytes');

/** The outcome of decoding one log entry: the record and its length, a truncated tail needing more bytes, or a corrupt entry with its error. */
export type DecodeResult =
  | { kind: 'ok'; record: LogRecord; length: number; crc: number }
  | { kind: 'truncated'; need: number }
  | { kind: 'corrupt'; error: TokusimError };

/** Where the bytes being decoded come from, so that errors can name the file and offset. */
export interface DecodeContext {
  /** File name for error messages. */
  file?: string;
  /** Offset of buf[0] within its file, added to offsets in error messages. */
  base?: number;
}

// ---- Per-type compiled field lists ------------------------------------------------------

const enum T {
  U8,
  U32,
  U64,
  BOOL,
  TXNID_PAIR,
  FILENUMS,
  BLOCKNUM,
  BYTESTRING,
  XIDP,
}

const TYPE_CODE: Record<FieldType, T> = {
  uint8_t: T.U8,
  uint32_t: T.U32,
  FILENUM: T.U32,
  uint64_t: T.U64,
  LSN: T.U64,
  TXNID: T.U64,
  bool: T.BOOL,
  TXNID_PAIR: T.TXNID_PAIR,
  FILENUMS: T.FILENUMS,
  BLOCKNUM: T.BLOCKNUM,
  BYTESTRING: T.BYTESTRING,
  XIDP: T.XIDP,
};

interface Compiled {
  spec: LogRecordSpec;
  cmd: number;
  names: string[];
  codes: T[];
}

const COMPILED_BY_CMD: Array<Compiled | undefined> = LOG_SPEC_BY_CMD.map((spec) =>
  spec === undefined
    ? undefined
    : {
        spec,
        cmd: spec.cmd.charCodeAt(0),
        names: spec.fields.map((fs) => fs.name),
        codes: spec.fields.map((fs) => TYPE_CODE[fs.type]),
      },
);
const COMPILED_BY_NAME = new Map<string, Compiled>();
for (const c of COMPILED_BY_CMD) if (c) COMPILED_BY_NAME.set(c.spec.name, c);

function compiledFor(rec: LogRecord): Compiled {
  const c = COMPILED_BY_NAME.get(rec.type);
  invariant(c !== undefined, () => `unknown log record type ${String(rec.type)}`);
  return c;
}

// ---- Encoding ---------------------------------------------------------------------------

function fieldSize(code: T, v: unknown): number {
  switch (code) {
    case T.U8:
    case T.BOOL:
      return 1;
    case T.U32:
      return 4;
    case T.U64:
    case T.BLOCKNUM:
      return 8;
    case T.TXNID_PAIR:
      return 16;
    case T.FILENUMS:
      return 4 + 4 * (v as number[]).length;
    case T.BYTESTRING:
      return 4 + (v as Uint8Array).length;
    case T.XIDP:
      return 6 + (v as Xid).data.length;
  }
}

/** Total bytes of the encoded entry (the value of both len fields). */
export function encodedLength(rec: LogRecord): number {
  const c = compiledFor(rec);
  const r = rec as unknown as Record<string, unknown>;
  let n = ENTRY_OVERHEAD;
  for (let i = 0; i < c.codes.length; i++) n += fieldSize(c.codes[i]!, r[c.names[i]!]);
  return n;
}

function checkU32(v: unknown, what: string): number {
  invariant(
    typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff,
    () => `${what} must be a 32-bit integer, got ${String(v)}`,
  );
  return v;
}

function checkU64(v: unknown, what: string): bigint {
  invariant(
    typeof v === 'bigint' && v >= -(1n << 63n) && v < 1n << 64n,
    () => `${what} must be a 64-bit bigint, got ${String(v)}`,
  );
  return v;
}

function writeField(w: ByteWriter, code: T, v: unknown, what: string, rawBool: number | undefined): void {
  switch (code) {
    case T.U8:
      invariant(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255, () => `${what} must be a byte, got ${String(v)}`);
      w.u8(v);
      return;
    case T.BOOL:
      invariant(typeof v === 'boolean', () => `${what} must be a boolean`);
      // A remembered raw byte is used only if it still agrees with the boolean value.
      w.u8(rawBool !== undefined && rawBool !== 0 && v ? rawBool : v ? 1 : 0);
      return;
    case T.U32:
      w.u32(checkU32(v, what));
      return;
    case T.U64:
    case T.BLOCKNUM:
      w.u64(checkU64(v, what));
      return;
    case T.TXNID_PAIR: {
      const p = v as TxnidPair;
      invariant(p !== null && typeof p === 'object', () => `${what} must be a TXNID_PAIR`);
      w.u64(checkU64(p.parent, `${what}.parent`));
      w.u64(checkU64(p.child, `${what}.child`));
      return;
    }
    case T.FILENUMS: {
      const list = v as number[];
      invariant(Array.isArray(list), () => `${what} must be an array of filenums`);
      w.u32(list.length);
      for (const fnum of list) w.u32(checkU32(fnum, `${what}[]`));
      return;
    }
    case T.BYTESTRING:
      invariant(v instanceof Uint8Array, () => `${what} must be a Uint8Array`);
      w.u32(v.length);
      w.bytes(v);
      return;
    case T.XIDP: {
      const x = v as Xid;
      invariant(x !== null && typeof x === 'object' && x.data instanceof Uint8Array, () => `${what} must be an XID`);
      invariant(
        Number.isInteger(x.gtridLength) && Number.isInteger(x.bqualLength) &&
          x.gtridLength >= 0 && x.gtridLength <= 255 && x.bqualLength >= 0 && x.bqualLength <= 255 &&
          x.gtridLength + x.bqualLength === x.data.length,
        () => `${what}: gtrid_length ${x.gtridLength} + bqual_length ${x.bqualLength} must equal data length ${x.data.length}`,
      );
      w.u32(checkU32(x.formatID, `${what}.formatID`));
      w.u8(x.gtridLength);
      w.u8(x.bqualLength);
      w.bytes(x.data);
      return;
    }
  }
}

/**
 * Append the full entry (len, cmd, lsn, fields, crc, len) to w. `lsn`, when given, is written
 * instead of rec.lsn and the record is a new one: its bools are written as 0/1, never as raw
 * bytes remembered by a decoder (the log writer assigns LSNs without copying the record).
 */
export function encodeRecordInto(w: ByteWriter, rec: Omit<LogRecord, 'lsn'> & { lsn?: bigint }, lsn?: bigint): void {
  const c = compiledFor(rec as LogRecord);
  const r = rec as unknown as Record<string, unknown>;
  const raw = lsn === undefined ? (rec as { [RAW_BOOL_BYTES]?: Record<string, number> })[RAW_BOOL_BYTES] : undefined;
  const start = w.length;
  w.u32(0); // patched below once the length is known
  w.u8(c.cmd);
  w.u64(checkU64(lsn ?? rec.lsn, 'lsn'));
  for (let i = 0; i < c.codes.length; i++) {
    const name = c.names[i]!;
    writeField(w, c.codes[i]!, r[name], `${rec.type}.${name}`, raw?.[name]);
  }
  const len = w.length - start + 8;
  w.patchU32(start, len);
  const crc = x1764(w.bytesView(), start, w.length);
  w.u32(crc);
  w.u32(len);
}

/** The full encoded entry as a fresh byte array. */
export function encodeRecord(rec: LogRecord): Uint8Array {
  const w = new ByteWriter(encodedLength(rec));
  encodeRecordInto(w, rec);
  const out = w.toBytes();
  invariant(out.length === encodedLength(rec), 'encoded length disagrees with encodedLength()');
  return out;
}

// ---- Decoding ---------------------------------------------------------------------------

const TWO32 = 4294967296;

function u32At(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function u64At(b: Uint8Array, o: number): bigint {
  const hi = u32At(b, o);
  const lo = u32At(b, o + 4);
  // Values below 2^53 (nearly all LSNs, txnids, timestamps) avoid BigInt shifting.
  if (hi < 0x200000) return BigInt(hi * TWO32 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Thrown internally when a field runs past the end of the buffer. */
class Short {
  constructor(readonly at: number) {}
}

/**
 * Decode the entry that starts at buf[offset]. Never throws for bad input: a truncated tail
 * is { kind: 'truncated' }, damage is { kind: 'corrupt' }.
 */
export function decodeRecord(buf: Uint8Array, offset: number, ctx: DecodeContext = {}): DecodeResult {
  const end = buf.length;
  const base = ctx.base ?? 0;
  const file = ctx.file;
  if (offset + 4 > end) return { kind: 'truncated', need: offset + 4 - end };
  const leadingLen = u32At(buf, offset);
  if (offset + 5 > end) return { kind: 'truncated', need: Math.max(1, Math.min(leadingLen, 0x7fffffff) - (end - offset)) };
  const cmd = buf[offset + 4]!;
  const c = COMPILED_BY_CMD[cmd];
  if (c === undefined) {
    return corrupt('unknown-command', `unknown log command ${cmd} (${printableCmd(cmd)})`, file, base + offset + 4, 'a known command byte', String(cmd));
  }
  // When the leading len says the entry extends past the buffer, the entry is truncated
  // (or its len is garbage; either way no bytes past the end can be judged).
  const missingByLen = offset + leadingLen - end;
  let p = offset + 5;
  const rec: Record<string, unknown> = { type: c.spec.name };
  let rawBools: Record<string, number> | undefined;
  try {
    const need = (n: number): void => {
      if (p + n > end) throw new Short(p + n);
    };
    need(8);
    rec['lsn'] = u64At(buf, p);
    p += 8;
    for (let i = 0; i < c.codes.length; i++) {
      const name = c.names[i]!;
      switch (c.codes[i]!) {
        case T.U8:
          need(1);
          rec[name] = buf[p++]!;
          break;
        case T.BOOL: {
          need(1);
          const b = buf[p++]!;
          rec[name] = b !== 0;
          if (b > 1) (rawBools ??= {})[name] = b;
          break;
        }
        case T.U32:
          need(4);
          rec[name] = u32At(buf, p);
          p += 4;
          break;
        case T.U64:
          need(8);
          rec[name] = u64At(buf, p);
          p += 8;
          break;
        case T.BLOCKNUM:
          need(8);
          rec[name] = BigInt.asIntN(64, u64At(buf, p));
          p += 8;
          break;
        case T.TXNID_PAIR:
          need(16);
          rec[name] = { parent: u64At(buf, p), child: u64At(buf, p + 8) };
          p += 16;
          break;
        case T.FILENUMS: {
          need(4);
          const n = u32At(buf, p);
          p += 4;
          need(4 * n);
          const list = new Array<number>(n);
          for (let k = 0; k < n; k++) list[k] = u32At(buf, p + 4 * k);
          p += 4 * n;
          rec[name] = list;
          break;
        }
        case T.BYTESTRING: {
          need(4);
          const n = u32At(buf, p);
          p += 4;
          need(n);
          rec[name] = buf.slice(p, p + n);
          p += n;
          break;
        }
        case T.XIDP: {
          need(6);
          const formatID = u32At(buf, p);
          const g = buf[p + 4]!;
          const q = buf[p + 5]!;
          p += 6;
          need(g + q);
          rec[name] = { formatID, gtridLength: g, bqualLength: q, data: buf.slice(p, p + g + q) };
          p += g + q;
          break;
        }
      }
    }
    need(8);
  } catch (e) {
    if (e instanceof Short) {
      const need = missingByLen > 0 && offset + leadingLen >= e.at ? missingByLen : e.at - end;
      return { kind: 'truncated', need: Math.max(1, need) };
    }
    throw e;
  }
  const computed = x1764(buf, offset, p);
  const storedCrc = u32At(buf, p);
  const trailingLen = u32At(buf, p + 4);
  const consumed = p + 8 - offset;
  const lsn = rec['lsn'] as bigint;
  if (storedCrc !== computed) {
    return corrupt('bad-checksum', `checksum mismatch in ${c.spec.name} entry`, file, base + offset, hex8(storedCrc), hex8(computed), lsn);
  }
  if (trailingLen !== consumed) {
    return corrupt('bad-length', `trailing len of ${c.spec.name} entry disagrees with its size`, file, base + p + 4, String(consumed), String(trailingLen), lsn);
  }
  if (leadingLen !== trailingLen) {
    return corrupt('bad-length', `leading len of ${c.spec.name} entry disagrees with trailing len`, file, base + offset, String(trailingLen), String(leadingLen), lsn);
  }
  if (rawBools) Object.defineProperty(rec, RAW_BOOL_BYTES, { value: rawBools, enumerable: false });
  return { kind: 'ok', record: rec as unknown as LogRecord, length: consumed, crc: storedCrc };
}

/**
 * The length of the entry at buf[offset] when it lies wholly in [offset, end) and
 * decodeRecord would accept it (known command, fields inside the entry, checksum, trailing
 * and leading len all agree); -1 otherwise. It builds no record, so bulk readers can walk
 * entries cheaply and fall back to decodeRecord (for the exact error) when this says -1.
 */
export function validEntryLength(buf: Uint8Array, offset: number, end = buf.length): number {
  if (offset + MIN_ENTRY_LENGTH > end) return -1;
  const len = u32At(buf, offset);
  const entryEnd = offset + len;
  if (len < MIN_ENTRY_LENGTH || entryEnd > end) return -1;
  const c = COMPILED_BY_CMD[buf[offset + 4]!];
  if (c === undefined) return -1;
  // Walk the fields; each must end inside the entry, before its crc and trailing len.
  const limit = entryEnd - 8;
  let p = offset + 13;
  const codes = c.codes;
  for (let i = 0; i < codes.length && p <= limit; i++) {
    switch (codes[i]!) {
      case T.U8:
      case T.BOOL:
        p += 1;
        break;
      case T.U32:
        p += 4;
        break;
      case T.U64:
      case T.BLOCKNUM:
        p += 8;
        break;
      case T.TXNID_PAIR:
        p += 16;
        break;
      case T.FILENUMS:
        if (p + 4 > limit) return -1;
        p += 4 + 4 * u32At(buf, p);
        break;
      case T.BYTESTRING:
        if (p + 4 > limit) return -1;
        p += 4 + u32At(buf, p);
        break;
      case T.XIDP:
        if (p + 6 > limit) return -1;
        p += 6 + buf[p + 4]! + buf[p + 5]!;
        break;
    }
  }
  if (p !== limit) return -1;
  if (u32At(buf, limit + 4) !== len) return -1;
  if (u32At(buf, limit) !== x1764(buf, offset, limit)) return -1;
  return len;
}

function corrupt(
  kind: 'unknown-command' | 'bad-checksum' | 'bad-length',
  message: string,
  file: string | undefined,
  offset: number,
  expected: string,
  actual: string,
  lsn?: bigint,
): DecodeResult {
  // The entry's own LSN goes in the message: ErrorWhere.lsn means the last GOOD lsn.
  const text = lsn === undefined ? message : `${message} (entry lsn ${lsn})`;
  return { kind: 'corrupt', error: new TokusimError(kind, text, { file, offset, expected, actual }) };
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, '0');
}

function printableCmd(cmd: number): string {
  return cmd >= 0x20 && cmd <= 0x7e ? `'${String.fromCharCode(cmd)}'` : `0x${cmd.toString(16).padStart(2, '0')}`;
}

/** The spec of a record type by name (throws for an unknown name: a bug in the caller). */
export function specOf(name: string): LogRecordSpec {
  const s = LOG_SPEC_BY_NAME.get(name);
  invariant(s !== undefined, () => `unknown log record type ${name}`);
  return s;
}
