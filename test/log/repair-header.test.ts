import { describe, expect, it } from 'vitest';
import { repairLogTail } from '../../src/log/cursor.js';
import { encodeLogFileHeader } from '../../src/format/log-header.js';
import { encodeRecord } from '../../src/format/codec.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { TokusimError } from '../../src/base/errors.js';

const garbage = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 151 + 11) & 0xff);

describe('log repair and the file header', () => {
  // Scenario: a file whose header holds non-zero bytes that are not "tokulogg" is not a torn
  // tail: repair must refuse and leave every byte of it in place.
  it('Scenario: a damaged (non-zero) file header is refused and the file is left untouched', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/env');
    const bytes = garbage(500);
    await storage.installFile('/env/log000000000000.tokulog29', bytes);
    const err = await repairLogTail(storage, '/env').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).message).toMatch(/not repairing .*log000000000000\.tokulog29: its file header is damaged, not torn/);
    expect([...storage.fileBytes('/env/log000000000000.tokulog29')!]).toEqual([...bytes]);
  });

  // Scenario: a header that was never written (zeros, e.g. a create whose first write was
  // lost while a later unsynced write survived) is a torn tail and is cut.
  it('Scenario: an all-zero header (never written) is cut like any torn tail', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/env');
    const rec = encodeRecord({ type: 'xcommit', lsn: 5n, xid: { parent: 1n, child: 0n } });
    const bytes = new Uint8Array(12 + rec.length);
    bytes.set(rec, 12);
    await storage.installFile('/env/log000000000001.tokulog29', bytes);
    const r = await repairLogTail(storage, '/env');
    expect(r.repaired).toBe(true);
    expect(r.newSize).toBe(0);
    expect(storage.fileBytes('/env/log000000000001.tokulog29')!.length).toBe(0);
  });

  // Scenario: a crash tore the 12-byte header write of a new newest file, leaving 1..11 bytes
  // of it: that file holds no entry, exactly like the 0-byte file a crash before the write
  // leaves, so repair cuts it (saving the bytes) instead of refusing it as a damaged header.
  it('Scenario: a header cut short (1..11 bytes of a real header) is cut like a 0-byte file, its bytes saved', async () => {
    for (let n = 1; n < 12; n++) {
      const storage = new SimStorage({ seed: 1 });
      await storage.mkdir('/env');
      const head = encodeLogFileHeader();
      await storage.installFile('/env/log000000000003.tokulog29', head.slice(0, n));
      const r = await repairLogTail(storage, '/env');
      expect(r.repaired, `${n} bytes`).toBe(true);
      expect(r.newSize).toBe(0);
      expect(storage.fileBytes('/env/log000000000003.tokulog29')!.length).toBe(0);
      expect([...storage.fileBytes(r.savedTo!)!]).toEqual([...head.subarray(0, n)]);
    }
  });

  // Scenario: a short file that does not begin like a header is not a torn header: refused.
  it('Scenario: a short file whose bytes are not the start of a header is refused and left untouched', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/env');
    const bytes = Uint8Array.from([0x74, 0x6f, 0x6b, 0x75, 0x78]); // "tokux"
    await storage.installFile('/env/log000000000000.tokulog29', bytes);
    await expect(repairLogTail(storage, '/env')).rejects.toThrow(/its file header is damaged, not torn/);
    expect([...storage.fileBytes('/env/log000000000000.tokulog29')!]).toEqual([...bytes]);
  });

  it('Scenario: a good header followed by a torn entry is cut right after the header', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/env');
    const rec = encodeRecord({ type: 'xcommit', lsn: 1n, xid: { parent: 1n, child: 0n } });
    const head = encodeLogFileHeader();
    const bytes = new Uint8Array(head.length + rec.length - 3);
    bytes.set(head, 0);
    bytes.set(rec.subarray(0, rec.length - 3), head.length);
    await storage.installFile('/env/log000000000000.tokulog29', bytes);
    const r = await repairLogTail(storage, '/env');
    expect(r.repaired).toBe(true);
    expect(r.newSize).toBe(12);
    // Nothing is destroyed: the cut bytes are kept beside the log, under a name log scans ignore.
    expect(r.savedTo).toBe('/env/log000000000000.tokulog29.cut-12');
    expect([...storage.fileBytes(r.savedTo!)!]).toEqual([...bytes.subarray(12)]);
    const again = await repairLogTail(storage, '/env');
    expect(again.repaired).toBe(false);
  });

  // Scenario: recovery cut a torn tail at offset 12 and saved it; then the log was torn at the
  // same offset again (a crash while recovery appended there). The second repair saves its
  // bytes under a new name: the first saved tail is never overwritten.
  it('Scenario: a second torn tail at the same offset is saved beside the first, not over it', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/env');
    const path = '/env/log000000000000.tokulog29';
    const head = encodeLogFileHeader();
    const torn = (lsn: bigint) => {
      const rec = encodeRecord({ type: 'xcommit', lsn, xid: { parent: lsn, child: 0n } });
      const bytes = new Uint8Array(head.length + rec.length - 3);
      bytes.set(head, 0);
      bytes.set(rec.subarray(0, rec.length - 3), head.length);
      return bytes;
    };
    const first = torn(1n);
    await storage.installFile(path, first);
    const r1 = await repairLogTail(storage, '/env');
    const second = torn(7n);
    await storage.installFile(path, second);
    const r2 = await repairLogTail(storage, '/env');
    expect(r1.savedTo).toBe(`${path}.cut-12`);
    expect(r2.savedTo).toBe(`${path}.cut-12.1`);
    expect([...storage.fileBytes(r1.savedTo!)!]).toEqual([...first.subarray(12)]);
    expect([...storage.fileBytes(r2.savedTo!)!]).toEqual([...second.subarray(12)]);
  });
});
