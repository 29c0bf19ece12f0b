import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { OverlayStorage } from '../../src/storage/overlay-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { snapshotDir } from '../support/dir-snapshot.js';
import { storageContract } from './storage-contract.js';

// The overlay keeps the Storage contract, and its base directory stays empty throughout.
storageContract('OverlayStorage over NodeStorage (base untouched)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tokusim-overlay-'));
  const storage = new OverlayStorage(new NodeStorage());
  return {
    storage,
    root,
    cleanup: async () => {
      await storage.dispose();
      expect(readdirSync(root)).toEqual([]);
      await rm(root, { recursive: true, force: true });
    },
  };
});

describe('OverlayStorage over existing files', () => {
  // Property: any sequence of writes and truncates on a file that exists in the base reads back
  // through the overlay exactly as the same sequence on SimStorage does, and the base file keeps
  // every byte and its mtime.
  it('Property: overlay reads equal a real disk after the same writes and truncates; the base is unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-overlay-'));
    try {
      const initial = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff);
      writeFileSync(join(dir, 'f'), initial);
      const before = snapshotDir(dir);
      const op = fc.oneof(
        fc.record({ kind: fc.constant('write' as const), offset: fc.nat(20_000), data: fc.uint8Array({ minLength: 1, maxLength: 6000 }) }),
        fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(20_000) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 8 }), async (ops) => {
          const overlay = new OverlayStorage(new NodeStorage());
          const sim = new SimStorage();
          sim.installFile('/d/f', initial);
          const a = await overlay.open(join(dir, 'f'), 'readwrite');
          const b = await sim.open('/d/f', 'readwrite');
          for (const o of ops) {
            if (o.kind === 'write') {
              await a.pwrite(o.data, o.offset);
              await b.pwrite(o.data, o.offset);
            } else {
              await a.truncate(o.size);
              await b.truncate(o.size);
            }
          }
          expect(await a.size()).toBe(await b.size());
          const x = new Uint8Array(await a.size());
          const y = new Uint8Array(x.length);
          await a.pread(x, 0);
          await b.pread(y, 0);
          expect(Buffer.compare(x, y)).toBe(0);
          await overlay.dispose();
        }),
        { numRuns: 60, seed: 11 },
      );
      expect(snapshotDir(dir)).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Scenario: renames, unlinks and new files show in the overlay's listing only.
  it('Scenario: rename, unlink and create change the overlay listing, never the base directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-overlay-'));
    try {
      writeFileSync(join(dir, 'a'), 'A');
      writeFileSync(join(dir, 'b'), 'B');
      const before = snapshotDir(dir);
      const o = new OverlayStorage(new NodeStorage());
      await o.rename(join(dir, 'a'), join(dir, 'c'));
      await o.unlink(join(dir, 'b'));
      await (await o.open(join(dir, 'n'), 'create')).close();
      await o.fsyncDir(dir);
      expect(await o.list(dir)).toEqual(['c', 'n']);
      expect(await o.exists(join(dir, 'a'))).toBe(false);
      const f = await o.open(join(dir, 'c'), 'read');
      const buf = new Uint8Array(1);
      await f.pread(buf, 0);
      expect(new TextDecoder().decode(buf)).toBe('A');
      await o.dispose();
      expect(snapshotDir(dir)).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
