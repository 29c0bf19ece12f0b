import { describe, expect, it } from 'vitest';
import { repairLogTail } from '../../src/log/cursor.js';
import { encodeLogFileHeader } from '../../src/format/log-header.js';
import { encodeRecord } from '../../src/format/codec.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { TokusimError } from '../../src/format/errors.js';

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
});
