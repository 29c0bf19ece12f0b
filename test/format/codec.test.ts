import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../src/base/bytes.js';
import {
  LOG_FILE_HEADER_SIZE,
  RAW_BOOL_BYTES,
  decodeLogFileHeader,
  decodeRecord,
  encodeLogFileHeader,
  encodeRecord,
  encodeRecordInto,
  encodedLength,
} from '../../src/format/codec.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { x1764 } from '../../src/format/x1764.js';
import { fixtureLogs } from './fixture-logs.js';

const logs = fixtureLogs();

describe('codec against real PerconaFT logs', () => {
  it('finds the reference logs (including logs_trimmed and nested S7 runs)', () => {
    expect(logs.length).toBeGreaterThanOrEqual(16);
    expect(logs.some((l) => l.name.includes('logs_trimmed'))).toBe(true);
    expect(logs.some((l) => l.name.includes('reopened'))).toBe(true);
  });

  for (const log of logs) {
    it(`Scenario: decoding then re-encoding every record of ${log.name} gives identical bytes`, () => {
      const bytes = new Uint8Array(readFileSync(log.path));
      expect(decodeLogFileHeader(bytes).version).toBe(29);
      let off = LOG_FILE_HEADER_SIZE;
      let count = 0;
      let prevLsn: bigint | undefined;
      while (off < bytes.length) {
        const r = decodeRecord(bytes, off, { file: log.name });
        if (r.kind !== 'ok') throw new Error(`${log.name} @${off}: ${r.kind === 'corrupt' ? r.error.message : `truncated need ${r.need}`}`);
        const again = encodeRecord(r.record);
        expect(Buffer.from(again).equals(Buffer.from(bytes.subarray(off, off + r.length)))).toBe(true);
        expect(encodedLength(r.record)).toBe(r.length);
        if (prevLsn !== undefined) expect(r.record.lsn).toBe(prevLsn + 1n);
        prevLsn = r.record.lsn;
        off += r.length;
        count++;
      }
      expect(off).toBe(bytes.length);
      // Count the record lines of the real printer's output.
      const printed = readFileSync(log.stdoutPath, 'latin1').split('\n').filter((l) => /^\w+ +'.':/.test(l)).length;
      expect(count).toBe(printed);
    });
  }
});

describe('codec framing', () => {
  const bc: LogRecord = { type: 'begin_checkpoint', lsn: 88n, timestamp: 1455623796540257n, last_xid: 153n };
  const expectedHex = '25000000780000000058000000e12b050061c351d3000000009900000' + '0ead90d4725000000';

  it('Scenario: the spec §5.1 worked example encodes to the published bytes', () => {
    expect(Buffer.from(encodeRecord(bc)).toString('hex')).toBe(expectedHex);
  });

  it('Scenario: encodeRecordInto appends after existing bytes and checksums only its own entry', () => {
    const w = new ByteWriter(4);
    w.bytes(encodeLogFileHeader());
    encodeRecordInto(w, bc);
    const all = w.toBytes();
    expect(Buffer.from(all.subarray(12)).toString('hex')).toBe(expectedHex);
    const r = decodeRecord(all, 12);
    expect(r.kind).toBe('ok');
  });

  it('Scenario: a flipped payload byte is a checksum error naming offset and both values', () => {
    const b = encodeRecord(bc);
    b[15]! ^= 1;
    const r = decodeRecord(b, 0, { file: 'x.tokulog29', base: 100 });
    expect(r.kind).toBe('corrupt');
    if (r.kind !== 'corrupt') return;
    expect(r.error.kind).toBe('bad-checksum');
    expect(r.error.where.offset).toBe(100);
    expect(r.error.where.file).toBe('x.tokulog29');
    expect(r.error.where.expected).toBe('470dd9ea');
    expect(r.error.where.actual).not.toBe('470dd9ea');
  });

  it('Scenario: a wrong trailing len and a wrong leading len are both bad-length', () => {
    const t = encodeRecord(bc);
    t[33] = 38;
    const rt = decodeRecord(t, 0);
    expect(rt.kind === 'corrupt' && rt.error.kind).toBe('bad-length');
    // The leading len is checksummed, so fix the crc to isolate the leading/trailing check.
    const l = encodeRecord(bc);
    l[0] = 36;
    const w = new ByteWriter();
    w.bytes(l.subarray(0, 29));
    w.u32(x1764(l, 0, 29));
    w.bytes(l.subarray(33));
    const rl = decodeRecord(w.toBytes(), 0);
    expect(rl.kind === 'corrupt' && rl.error.kind).toBe('bad-length');
    expect(rl.kind === 'corrupt' && rl.error.where.actual).toBe('36');
  });

  it('Scenario: an unknown command byte (including the disabled local_txn_checkpoint c) is corrupt', () => {
    for (const cmd of [0x63, 0x00, 0x7a]) {
      const b = encodeRecord(bc);
      b[4] = cmd;
      const r = decodeRecord(b, 0);
      expect(r.kind === 'corrupt' && r.error.kind).toBe('unknown-command');
    }
  });

  it('Scenario: a garbage 4 GiB BYTESTRING length is truncation, not an allocation', () => {
    const rec: LogRecord = { type: 'comment', lsn: 5n, timestamp: 1n, comment: new Uint8Array([1, 2, 3]) };
    const b = encodeRecord(rec);
    // comment length sits after len(4) cmd(1) lsn(8) timestamp(8)
    b.set([0xff, 0xff, 0xff, 0xf0], 21);
    const r = decodeRecord(b, 0);
    expect(r.kind).toBe('truncated');
    if (r.kind === 'truncated') expect(r.need).toBeGreaterThan(0);
  });

  it('Scenario: a bool byte of 7 decodes as true and re-encodes as 7', () => {
    const rec: LogRecord = {
      type: 'enq_updatebroadcast', lsn: 9n, filenum: 5, xid: { parent: 9n, child: 0n }, extra: new Uint8Array([1]), is_resetting_op: true,
    };
    const b = encodeRecord(rec);
    const boolAt = b.length - 9;
    expect(b[boolAt]).toBe(1);
    b[boolAt] = 7;
    // Fix the checksum over the changed byte.
    new DataView(b.buffer).setUint32(b.length - 8, x1764(b, 0, b.length - 8), true);
    const r = decodeRecord(b, 0);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect((r.record as { is_resetting_op: boolean }).is_resetting_op).toBe(true);
    expect((r.record as unknown as Record<symbol, unknown>)[RAW_BOOL_BYTES]).toEqual({ is_resetting_op: 7 });
    expect(Buffer.from(encodeRecord(r.record)).equals(Buffer.from(b))).toBe(true);
  });

  it('Scenario: the header round trips and bad magic / version / short headers are named errors', () => {
    const h = encodeLogFileHeader();
    expect(Buffer.from(h).toString('hex')).toBe('746f6b756c6f67670000001d');
    expect(decodeLogFileHeader(h).version).toBe(29);
    const bad = h.slice();
    bad[0] = 0x58;
    expect(() => decodeLogFileHeader(bad)).toThrow(/bad magic/);
    expect(() => decodeLogFileHeader(encodeLogFileHeader(30))).toThrow(/unsupported log version 30/);
    expect(() => decodeLogFileHeader(encodeLogFileHeader(12))).toThrow(/unsupported log version 12/);
    expect(decodeLogFileHeader(encodeLogFileHeader(13)).version).toBe(13);
    expect(() => decodeLogFileHeader(h.subarray(0, 10))).toThrow(/needs 12 bytes/);
  });
});

