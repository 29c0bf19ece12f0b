import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../src/base/bytes.js';
import { decodeRecord, encodeLogFileHeader, encodeRecord, encodeRecordInto, encodedLength } from '../../src/format/codec.js';
import { recordFromJson, recordToJson, recordToJsonLine } from '../../src/format/json.js';
import { LogPrinter, printLog } from '../../src/format/printer.js';
import { LOG_RECORD_TYPES, type LogRecord } from '../../src/format/record-types.js';
import { arbLogRecord, arbLogRecordOf } from '../support/arbitraries.js';
import { edgeCases } from './fixture-logs.js';

const intact = new Uint8Array(readFileSync(edgeCases().find((c) => c.name === 'intact')!.stdinPath));

function logOf(recs: LogRecord[]): { bytes: Uint8Array; ends: number[] } {
  const w = new ByteWriter();
  w.bytes(encodeLogFileHeader());
  const ends: number[] = [];
  for (const r of recs) {
    encodeRecordInto(w, r);
    ends.push(w.length);
  }
  return { bytes: w.toBytes(), ends };
}

describe('codec properties', () => {
  for (const t of LOG_RECORD_TYPES) {
    // Property: for every record type, decode(encode(r)) equals r and consumes encodedLength(r) bytes.
    it(`Scenario: random ${t.name} records survive encode then decode unchanged`, () => {
      fc.assert(
        fc.property(arbLogRecordOf(t.name), (rec) => {
          const b = encodeRecord(rec as LogRecord);
          const r = decodeRecord(b, 0);
          expect(r.kind).toBe('ok');
          if (r.kind !== 'ok') return;
          expect(r.length).toBe(b.length);
          expect(r.length).toBe(encodedLength(rec as LogRecord));
          // BLOCKNUM decodes signed; compare via the canonical encoding and the JSON form.
          expect(Buffer.from(encodeRecord(r.record)).equals(Buffer.from(b))).toBe(true);
          expect(recordToJson(r.record)).toEqual(recordToJson(rec as LogRecord));
        }),
        { numRuns: 60 },
      );
    });
  }

  // Property: JSON text of any record parses back to a record that encodes to the same bytes.
  it('Scenario: the JSON form round trips for random records of every type', () => {
    fc.assert(
      fc.property(arbLogRecord(), (rec) => {
        const back = recordFromJson(recordToJsonLine(rec));
        expect(Buffer.from(encodeRecord(back)).equals(Buffer.from(encodeRecord(rec)))).toBe(true);
        expect(recordToJson(back)).toEqual(recordToJson(rec));
      }),
      { numRuns: 300 },
    );
  });

  // Property: a log cut at any byte offset decodes to exactly the records that end at or before the cut, then 'truncated'.
  it('Scenario: a log cut at any offset yields exactly the records before the cut', () => {
    fc.assert(
      fc.property(fc.array(arbLogRecord(), { minLength: 1, maxLength: 6 }), fc.nat(), (recs, cutSeed) => {
        const { bytes, ends } = logOf(recs);
        const cut = 12 + (cutSeed % (bytes.length - 12 + 1));
        const view = bytes.subarray(0, cut);
        let off = 12;
        let n = 0;
        while (true) {
          const r = decodeRecord(view, off);
          if (r.kind !== 'ok') {
            if (off === cut) break;
            expect(r.kind).toBe('truncated');
            break;
          }
          off += r.length;
          n++;
          if (off === cut) break;
        }
        expect(n).toBe(ends.filter((e) => e <= cut).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('printer properties', () => {
  // Property: the printer never throws on arbitrary bytes and always reports exit 0 or 1 with the tool's stderr text.
  it('Scenario: random bytes (with and without a valid header) never make the printer throw', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 400 }), fc.integer({ min: -2, max: 5 }), (withHeader, junk, count) => {
        const input = withHeader ? Buffer.concat([encodeLogFileHeader(), junk]) : Buffer.from(junk);
        const { result } = printLog(input, count);
        expect([0, 1]).toContain(result.exitCode);
        expect(result.stderr).toBe(result.exitCode === 0 ? '' : 'Problem in log err=-30500\n');
      }),
      { numRuns: 400 },
    );
  });

  // Property: mutating any bytes of a real log never makes the printer throw, and output does not depend on chunking.
  it('Scenario: a mutated real log prints the same whatever the input chunking, without throwing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.nat(intact.length),
        (edits, chunk, cutAt) => {
          const b = intact.slice(0, Math.max(cutAt, 1));
          for (const [at, v] of edits) b[at % b.length] = v;
          const whole = printLog(b);
          const p = new LogPrinter();
          const parts: Uint8Array[] = [];
          for (let i = 0; i < b.length; i += chunk) {
            p.push(b.subarray(i, i + chunk));
            parts.push(p.takeOutput().slice());
          }
          const res = p.end();
          parts.push(p.takeOutput());
          expect(Buffer.concat(parts).equals(Buffer.from(whole.stdout))).toBe(true);
          expect(res).toEqual(whole.result);
        },
      ),
      { numRuns: 150 },
    );
  });

  // Property: a valid log of random records prints one newline-terminated line per record and exits 0.
  it('Scenario: random valid logs print one line per record', () => {
    fc.assert(
      fc.property(fc.array(arbLogRecord(), { maxLength: 8 }), (recs) => {
        const { bytes } = logOf(recs);
        const { stdout, result } = printLog(bytes);
        const text = Buffer.from(stdout).toString('latin1');
        expect(result).toEqual({ exitCode: 0, stderr: '', records: recs.length });
        const lines = text.split('\n');
        expect(lines[0]).toBe('tokulog v.29');
        expect(lines.length).toBe(recs.length + 2);
        recs.forEach((r, i) => expect(lines[i + 1]!.startsWith(r.type.padEnd(23) + '  ')).toBe(true));
      }),
      { numRuns: 200 },
    );
  });
});

describe('JSON form', () => {
  it('Scenario: the JSON of an fcreate shows decimal strings, numbers and both byte forms', () => {
    const rec: LogRecord = {
      type: 'fcreate', lsn: 13n, xid: { parent: 9n, child: 0n }, filenum: 5, iname: new TextEncoder().encode('a"\n\u0001'),
      mode: 0o644, treeflags: 0, nodesize: 4194304, basementnodesize: 131072, compression_method: 1,
    };
    expect(recordToJson(rec)).toEqual({
      type: 'fcreate', lsn: '13',
      fields: {
        xid: { parent: '9', child: '0' }, filenum: 5, iname: { len: 4, text: 'a\\"\\n\\001', hex: '61220a01' },
        mode: 420, treeflags: 0, nodesize: 4194304, basementnodesize: 131072, compression_method: 1,
      },
    });
  });

  it('Scenario: malformed JSON records are rejected with the field named', () => {
    const good = recordToJson({ type: 'xcommit', lsn: 1n, xid: { parent: 1n, child: 0n } });
    expect(() => recordFromJson({ ...good, type: 'nope' })).toThrow(/unknown record type/);
    expect(() => recordFromJson({ ...good, lsn: '-1' })).toThrow(/lsn/);
    expect(() => recordFromJson({ ...good, fields: {} })).toThrow(/xcommit\.xid: missing field/);
    expect(() => recordFromJson({ ...good, fields: { xid: { parent: '1', child: '0' }, extra: 1 } })).toThrow(/unknown field/);
    expect(() => recordFromJson('{not json')).toThrow(/not JSON/);
    expect(() => recordFromJson({ type: 'comment', lsn: '1', fields: { timestamp: '1', comment: { hex: 'abc' } } })).toThrow(/hex/);
  });
});
