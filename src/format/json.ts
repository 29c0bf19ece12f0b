/**
 * JSON form of a log record, derived from LOG_RECORD_TYPES, and its inverse.
 *
 * Shape: `{ "type": "<name>", "lsn": "<decimal>", "fields": { <field>: <value>, ... } }`
 * with one value form per field type:
 *  - uint8_t, uint32_t, FILENUM: JSON number (the stored unsigned value);
 *  - uint64_t, LSN, TXNID: decimal string (unsigned); BLOCKNUM: decimal string (signed);
 *  - bool: true/false;
 *  - TXNID_PAIR: { "parent": "<decimal>", "child": "<decimal>" };
 *  - FILENUMS: array of numbers;
 *  - BYTESTRING: { "len": n, "text": "<tokuft_logprint escaping>", "hex": "<lowercase hex>" }.
 *    `text` is for people (same escapes as the printer); `hex` is authoritative and is what
 *    the inverse reads, so every byte string round-trips exactly;
 *  - XIDP: { "formatID": n, "gtrid_length": g, "bqual_length": q, "data": <BYTESTRING form> }.
 * A bool byte other than 0/1 (see RAW_BOOL_BYTES) is kept in `"raw_bool_bytes": {field: byte}`
 * next to `fields`, so JSON → record → bytes is still byte-identical.
 *
 * Invariants:
 *  - recordFromJson(recordToJson(r)) deep-equals r (and encodes to the same bytes).
 *  - recordFromJson rejects anything that is not a valid record with a TokusimError naming
 *    the field, the expected form and what was found; it never returns a partial record.
 */
import { RAW_BOOL_BYTES } from './codec.js';
import { TokusimError } from '../base/errors.js';
import { LOG_SPEC_BY_NAME, type FieldType, type LogRecord, type TxnidPair, type Xid } from './record-types.js';
import { fromHex, toHex } from '../base/portable.js';

/** A byte string in the JSON form of a record: its length, a printable text form and hex. */
export interface BytesJson {
  len: number;
  text: string;
  hex: string;
}

/** The JSON form of one record field value (64-bit numbers are decimal strings). */
export type FieldJson = number | string | boolean | number[] | { parent: string; child: string } | BytesJson | XidJson;

/** The JSON form of an XA transaction id. */
export interface XidJson {
  formatID: number;
  gtrid_length: number;
  bqual_length: number;
  data: BytesJson;
}

/** The JSON form of one log record, as `tokusim logprint --json` prints it: type, LSN (decimal string) and fields by name. */
export interface LogRecordJson {
  type: string;
  lsn: string;
  fields: Record<string, FieldJson>;
  raw_bool_bytes?: Record<string, number>;
}

/** The printer's escaping of bytes (toku_print_bytes), without the quotes. */
export function escapeBytes(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x0a) s += '\\n';
    else if (c >= 0x20 && c <= 0x7e) s += String.fromCharCode(c);
    else s += '\\' + c.toString(8).padStart(3, '0');
  }
  return s;
}

function bytesJson(b: Uint8Array): BytesJson {
  return { len: b.length, text: escapeBytes(b), hex: toHex(b) };
}

function fieldToJson(type: FieldType, v: unknown): FieldJson {
  switch (type) {
    case 'uint8_t':
    case 'uint32_t':
    case 'FILENUM':
      return (v as number) >>> 0;
    case 'uint64_t':
    case 'LSN':
    case 'TXNID':
      return BigInt.asUintN(64, v as bigint).toString();
    case 'BLOCKNUM':
      return BigInt.asIntN(64, v as bigint).toString();
    case 'bool':
      return v as boolean;
    case 'TXNID_PAIR': {
      const p = v as TxnidPair;
      return { parent: p.parent.toString(), child: p.child.toString() };
    }
    case 'FILENUMS':
      return (v as number[]).map((x) => x >>> 0);
    case 'BYTESTRING':
      return bytesJson(v as Uint8Array);
    case 'XIDP': {
      const x = v as Xid;
      return { formatID: x.formatID >>> 0, gtrid_length: x.gtridLength, bqual_length: x.bqualLength, data: bytesJson(x.data) };
    }
  }
}

/** The JSON object of a record (plain data; JSON.stringify it for text). */
export function recordToJson(rec: LogRecord): LogRecordJson {
  const spec = LOG_SPEC_BY_NAME.get(rec.type);
  if (spec === undefined) throw bad(`unknown record type`, 'type', 'a log record type name', String(rec.type));
  const r = rec as unknown as Record<string, unknown>;
  const fields: Record<string, FieldJson> = {};
  for (const f of spec.fields) fields[f.name] = fieldToJson(f.type, r[f.name]);
  const out: LogRecordJson = { type: rec.type, lsn: BigInt.asUintN(64, rec.lsn).toString(), fields };
  const raw = (rec as { [RAW_BOOL_BYTES]?: Record<string, number> })[RAW_BOOL_BYTES];
  if (raw !== undefined) out.raw_bool_bytes = { ...raw };
  return out;
}

/** One record as one line of JSON text. */
export function recordToJsonLine(rec: LogRecord): string {
  return JSON.stringify(recordToJson(rec));
}

// ---- Inverse ------------------------------------------------------------------------------

function bad(message: string, field: string, expected: string, actual: string): TokusimError {
  return new TokusimError('bad-argument', `JSON log record: ${field}: ${message}`, { expected, actual });
}

function show(v: unknown): string {
  const s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function intIn(v: unknown, field: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad('bad integer', field, `an integer 0..${max}`, show(v));
  return v;
}

function dec64(v: unknown, field: string, signed: boolean): bigint {
  if (typeof v !== 'string' || !/^-?\d{1,20}$/.test(v)) throw bad('bad 64-bit value', field, 'a decimal string', show(v));
  const x = BigInt(v);
  const ok = signed ? x >= -(1n << 63n) && x < 1n << 63n : x >= 0n && x < 1n << 64n;
  if (!ok) throw bad('64-bit value out of range', field, signed ? 'a signed 64-bit value' : 'an unsigned 64-bit value', v);
  return x;
}

function obj(v: unknown, field: string, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(`not ${what}`, field, what, show(v));
  return v as Record<string, unknown>;
}

function bytesFrom(v: unknown, field: string): Uint8Array {
  const o = obj(v, field, 'a {len,text,hex} object');
  const hex = o['hex'];
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw bad('bad hex', `${field}.hex`, 'an even-length hex string', show(hex));
  const b = fromHex(hex);
  if (o['len'] !== undefined && o['len'] !== b.length) throw bad('len disagrees with hex', `${field}.len`, String(b.length), show(o['len']));
  return b;
}

function fieldFromJson(type: FieldType, v: unknown, field: string): unknown {
  switch (type) {
    case 'uint8_t':
      return intIn(v, field, 0xff);
    case 'uint32_t':
    case 'FILENUM':
      return intIn(v, field, 0xffffffff);
    case 'uint64_t':
    case 'LSN':
    case 'TXNID':
      return dec64(v, field, false);
    case 'BLOCKNUM':
      return dec64(v, field, true);
    case 'bool':
      if (typeof v !== 'boolean') throw bad('not a boolean', field, 'true or false', show(v));
      return v;
    case 'TXNID_PAIR': {
      const o = obj(v, field, 'a {parent,child} object');
      return { parent: dec64(o['parent'], `${field}.parent`, false), child: dec64(o['child'], `${field}.child`, false) };
    }
    case 'FILENUMS':
      if (!Array.isArray(v)) throw bad('not an array', field, 'an array of filenums', show(v));
      return v.map((x, i) => intIn(x, `${field}[${i}]`, 0xffffffff));
    case 'BYTESTRING':
      return bytesFrom(v, field);
    case 'XIDP': {
      const o = obj(v, field, 'an XID object');
      const g = intIn(o['gtrid_length'], `${field}.gtrid_length`, 0xff);
      const q = intIn(o['bqual_length'], `${field}.bqual_length`, 0xff);
      const data = bytesFrom(o['data'], `${field}.data`);
      if (data.length !== g + q) throw bad('data length is not gtrid_length + bqual_length', `${field}.data`, String(g + q), String(data.length));
      return { formatID: intIn(o['formatID'], `${field}.formatID`, 0xffffffff), gtridLength: g, bqualLength: q, data };
    }
  }
}

/** Parse the JSON object (or JSON text) of a record back into a LogRecord. */
export function recordFromJson(input: unknown): LogRecord {
  let v = input;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw bad('not JSON', 'record', 'JSON text', (e as Error).message);
    }
  }
  const o = obj(v, 'record', 'an object');
  const type = o['type'];
  const spec = typeof type === 'string' ? LOG_SPEC_BY_NAME.get(type) : undefined;
  if (spec === undefined) throw bad('unknown record type', 'type', 'a log record type name', show(type));
  const fields = obj(o['fields'], 'fields', 'an object');
  const rec: Record<string, unknown> = { type: spec.name, lsn: dec64(o['lsn'], 'lsn', false) };
  for (const f of spec.fields) {
    if (!(f.name in fields)) throw bad('missing field', `${spec.name}.${f.name}`, f.type, 'nothing');
    rec[f.name] = fieldFromJson(f.type, fields[f.name], `${spec.name}.${f.name}`);
  }
  for (const k of Object.keys(fields)) {
    if (!spec.fields.some((f) => f.name === k)) throw bad('unknown field', `${spec.name}.${k}`, spec.fields.map((f) => f.name).join(','), k);
  }
  if (o['raw_bool_bytes'] !== undefined) {
    const raw = obj(o['raw_bool_bytes'], 'raw_bool_bytes', 'an object');
    const kept: Record<string, number> = {};
    for (const [k, b] of Object.entries(raw)) {
      const f = spec.fields.find((x) => x.name === k);
      if (f === undefined || f.type !== 'bool') throw bad('not a bool field', `raw_bool_bytes.${k}`, 'a bool field name', k);
      kept[k] = intIn(b, `raw_bool_bytes.${k}`, 0xff);
      if ((kept[k] !== 0) !== rec[k]) throw bad('raw byte disagrees with the bool', `raw_bool_bytes.${k}`, String(rec[k]), String(b));
    }
    Object.defineProperty(rec, RAW_BOOL_BYTES, { value: kept, enumerable: false });
  }
  return rec as unknown as LogRecord;
}
