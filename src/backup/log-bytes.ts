/**
 * Log files as bytes in memory: the whole records of a copy (a live file may end inside an
 * entry, or in preallocated zeros), with their LSNs, and the cut PITR makes.
 *
 * Invariants:
 *  - scanLogBytes never throws for damage: it stops at the first entry that is not whole
 *    and valid (x1764 included, decodeRecord checks it) and reports where.
 */
import { decodeRecord, validEntryLength } from '../format/codec.js';
import { decodeLogFileHeader, LOG_FILE_HEADER_SIZE } from '../format/log-header.js';
import type { LogRecord } from '../format/record-types.js';
import type { TokusimError } from '../base/errors.js';

export interface LogBytesScan {
  /** Offset just after the last whole record (or after the header). */
  goodEnd: number;
  firstLsn: bigint | undefined;
  lastLsn: bigint | undefined;
  records: number;
  /** Set when bytes after goodEnd are not zeros: the damage found there. */
  problem?: TokusimError | string;
}

/** Walk the records of a log file's bytes; visit(record, endOffset) sees each whole one. */
export function scanLogBytes(bytes: Uint8Array, file: string, visit?: (r: LogRecord, end: number) => boolean | void): LogBytesScan {
  const out: LogBytesScan = { goodEnd: 0, firstLsn: undefined, lastLsn: undefined, records: 0 };
  if (bytes.length === 0) return out;
  try {
    decodeLogFileHeader(bytes.subarray(0, LOG_FILE_HEADER_SIZE), { file });
  } catch (err) {
    out.problem = err as TokusimError;
    return out;
  }
  let at = LOG_FILE_HEADER_SIZE;
  out.goodEnd = at;
  while (at < bytes.length) {
    const r = decodeRecord(bytes, at, { file });
    if (r.kind !== 'ok') {
      let zeros = true;
      for (let i = at; i < bytes.length && zeros; i++) zeros = bytes[i] === 0;
      if (!zeros) out.problem = r.kind === 'corrupt' ? r.error : `log ends inside an entry at offset ${at}`;
      break;
    }
    at += r.length;
    out.firstLsn ??= r.record.lsn;
    out.lastLsn = r.record.lsn;
    out.records++;
    out.goodEnd = at;
    if (visit?.(r.record, at) === false) break;
  }
  return out;
}

/** The time (microseconds) a record carries, for --until-time, or undefined. */
export function recordTimeMicros(r: LogRecord): bigint | undefined {
  if (r.type === 'begin_checkpoint' || r.type === 'end_checkpoint' || r.type === 'comment' || r.type === 'shutdown') return r.timestamp;
  return undefined;
}

/**
 * scanLogBytes for large copies: entries are walked with validEntryLength (length, known
 * command, fields and x1764 all checked, no record built) and only those whose command byte
 * is in `decode` are decoded for visit; the others are seen as (lsn, cmd, end). At the
 * first entry validEntryLength refuses, the rest is left to scanLogBytes, which finds the
 * exact problem (or a zero tail).
 */
export function walkLogBytes(
  bytes: Uint8Array,
  file: string,
  decode: ReadonlySet<number>,
  visit: (e: { lsn: bigint; cmd: number; start: number; end: number; record?: LogRecord }) => void,
): LogBytesScan {
  const out: LogBytesScan = { goodEnd: 0, firstLsn: undefined, lastLsn: undefined, records: 0 };
  if (bytes.length < LOG_FILE_HEADER_SIZE) return scanLogBytes(bytes, file);
  try {
    decodeLogFileHeader(bytes.subarray(0, LOG_FILE_HEADER_SIZE), { file });
  } catch (err) {
    out.problem = err as TokusimError;
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = LOG_FILE_HEADER_SIZE;
  out.goodEnd = at;
  while (at < bytes.length) {
    const len = validEntryLength(bytes, at);
    if (len < 0) break;
    const cmd = bytes[at + 4]!;
    // A u64 in the log is two little-endian u32s, high word first.
    const lsn = (BigInt(dv.getUint32(at + 5, true)) << 32n) | BigInt(dv.getUint32(at + 9, true));
    const e: { lsn: bigint; cmd: number; start: number; end: number; record?: LogRecord } = { lsn, cmd, start: at, end: at + len };
    if (decode.has(cmd)) {
      const r = decodeRecord(bytes, at, { file });
      if (r.kind === 'ok') e.record = r.record;
    }
    visit(e);
    out.firstLsn ??= lsn;
    out.lastLsn = lsn;
    out.records++;
    at += len;
    out.goodEnd = at;
  }
  if (at < bytes.length) {
    // The slow path names the problem; it re-walks only the tail.
    let zeros = true;
    for (let i = at; i < bytes.length && zeros; i++) zeros = bytes[i] === 0;
    if (!zeros) {
      const r = decodeRecord(bytes, at, { file });
      out.problem = r.kind === 'corrupt' ? r.error : r.kind === 'ok' ? `entry at offset ${at} decodes but fails the entry checks` : `log ends inside an entry at offset ${at}`;
    }
  }
  return out;
}
