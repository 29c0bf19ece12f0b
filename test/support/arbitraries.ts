/**
 * fast-check arbitraries for log records, derived from LOG_RECORD_TYPES: one value generator
 * per field type, assembled per record type from the table, so a new type or field needs no
 * change here.
 */
import fc from 'fast-check';
import {
  LOG_RECORD_TYPES,
  type FieldType,
  type LogRecord,
  type LogRecordName,
  type LogRecordOf,
} from '../../src/format/record-types.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Small values are far more common in real logs; mix them in. */
const u64Mixed = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), u64);
const u32 = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 0xffffffff }));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 200 }));

/** A generator for a value of one field type. */
export function arbFieldValue(type: FieldType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'uint8_t':
      return fc.integer({ min: 0, max: 255 });
    case 'uint32_t':
    case 'FILENUM':
      return u32;
    case 'uint64_t':
    case 'LSN':
    case 'TXNID':
      return u64Mixed;
    case 'BLOCKNUM':
      return fc.oneof(fc.bigInt({ min: -1n, max: 100n }), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }));
    case 'bool':
      return fc.boolean();
    case 'TXNID_PAIR':
      return fc.record({ parent: u64Mixed, child: u64Mixed });
    case 'FILENUMS':
      return fc.array(u32, { maxLength: 6 });
    case 'BYTESTRING':
      return bytes;
    case 'XIDP':
      return fc
        .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 }))
        .chain(([formatID, g, q]) =>
          fc.uint8Array({ minLength: g + q, maxLength: g + q }).map((data) => ({ formatID, gtridLength: g, bqualLength: q, data })),
        );
  }
}

/** A random record of the named type. */
export function arbLogRecordOf<N extends LogRecordName>(name: N): fc.Arbitrary<LogRecordOf<N>> {
  const spec = LOG_RECORD_TYPES.find((t) => t.name === name);
  if (spec === undefined) throw new Error(`unknown record type ${name}`);
  const parts: Record<string, fc.Arbitrary<unknown>> = { lsn: u64Mixed };
  for (const f of spec.fields) parts[f.name] = arbFieldValue(f.type);
  return fc.record(parts).map((r) => ({ type: name, ...r }) as unknown as LogRecordOf<N>);
}

/** A random record of any of the 27 types. */
export function arbLogRecord(): fc.Arbitrary<LogRecord> {
  return fc.oneof(...LOG_RECORD_TYPES.map((t) => arbLogRecordOf(t.name) as fc.Arbitrary<LogRecord>));
}
