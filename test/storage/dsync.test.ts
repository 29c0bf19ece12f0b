/**
 * The `{ dsync: true }` open option (O_DSYNC): a pwrite through such a handle is durable when
 * it resolves. SimStorage models it in its crash model; NodeStorage passes O_DSYNC to the OS.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

const enc = (s: string) => new TextEncoder().encode(s);

async function diskWithDir(seed = 3): Promise<SimStorage> {
  const s = new SimStorage({ seed, sectorSize: 16 });
  await s.mkdir('env');
  return s;
}

describe('SimStorage dsync handles', () => {
  // Scenario: a log-style file opened with dsync, its entry fsynced, then appended to without any fsync.
  it('Scenario: writes through a dsync handle survive a crash that drops every unsynced write; plain writes do not', async () => {
    const s = await diskWithDir();
    const d = await s.open('env/log', 'create-exclusive', { dsync: true });
    const p = await s.open('env/plain', 'create-exclusive');
    expect(d.dsync).toBe(true);
    expect(p.dsync).toBe(false);
    await s.fsyncDir('env');
    await d.pwrite(enc('header..'), 0);
    await d.pwrite(enc('entry-1;'), 8);
    await p.pwrite(enc('lost'), 0);
    expect(s.durableBytes('env/log')).toEqual(enc('header..entry-1;'));
    expect(s.durableBytes('env/plain')).toEqual(new Uint8Array(0));
    s.checkInvariants();
    s.crash({ mode: 'drop-all' });
    expect(s.fileBytes('env/log')).toEqual(enc('header..entry-1;'));
    expect(s.fileBytes('env/plain')).toEqual(new Uint8Array(0));
  });

  // Scenario: dsync makes the data durable, not the directory entry naming the new file.
  it('Scenario: a dsync file whose directory entry was never fsynced can vanish at a crash', async () => {
    const s = await diskWithDir();
    const d = await s.open('env/log', 'create-exclusive', { dsync: true });
    await d.pwrite(enc('data'), 0);
    s.crash({ mode: 'drop-all' });
    expect(await s.exists('env/log')).toBe(false);
  });

  // Scenario: an earlier plain write overlaps a later dsync write; the dsync write's bytes must win after any crash.
  it('Scenario: a dsync write over an unsynced overlapping plain write keeps the dsync bytes through every crash', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const s = await diskWithDir(seed);
      const f = await s.open('env/f', 'create', { dsync: true });
      const plain = await s.open('env/f', 'readwrite');
      await s.fsyncDir('env');
      await plain.pwrite(enc('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'), 0);
      await f.pwrite(enc('DSYNC'), 10);
      s.checkInvariants();
      s.crash({ seed });
      expect(s.fileBytes('env/f')!.subarray(10, 15)).toEqual(enc('DSYNC'));
    }
  });

  // Property: whatever unsynced writes and truncates came before, after a final dsync write of W
  // at offset o, every crash (any seed, every fault on) leaves W's bytes at o, and the disk's
  // invariants hold before the crash.
  it('Property: the last dsync write survives every crash', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), dsync: fc.boolean(), offset: fc.nat(120), data: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(150) }),
      fc.record({ kind: fc.constant('fsync' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), fc.nat(120), fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(1 << 30), async (ops, offset, last, seed) => {
        const s = await diskWithDir(seed);
        const d = await s.open('env/f', 'create', { dsync: true });
        const p = await s.open('env/f', 'readwrite');
        await s.fsyncDir('env');
        for (const o of ops) {
          if (o.kind === 'write') await (o.dsync ? d : p).pwrite(o.data, o.offset);
          else if (o.kind === 'truncate') await p.truncate(o.size);
          else await p.fsync();
        }
        await d.pwrite(last, offset);
        s.checkInvariants();
        const before = s.fileBytes('env/f')!;
        s.crash({ seed });
        const after = s.fileBytes('env/f')!;
        expect(after.subarray(offset, offset + last.length)).toEqual(last);
        expect(after.length).toBeGreaterThanOrEqual(offset + last.length);
        expect(after.length).toBeLessThanOrEqual(Math.max(before.length, 300));
      }),
      { numRuns: 150 },
    );
  });

  // Scenario: a read-only open ignores the option (there is nothing to write).
  it('Scenario: a read handle is never a dsync handle', async () => {
    const s = await diskWithDir();
    await (await s.open('env/f', 'create')).close();
    expect((await s.open('env/f', 'read', { dsync: true })).dsync).toBe(false);
  });
});

describe('NodeStorage dsync handles', () => {
  // Scenario: on Linux the option maps to O_DSYNC; the handle says so and writes land in the file.
  it('Scenario: a dsync handle reports dsync and its writes are what the file holds', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tokusim-dsync-'));
    try {
      const s = new NodeStorage();
      const f = await s.open(join(root, 'log'), 'create-exclusive', { dsync: true });
      expect(f.dsync).toBe(process.platform === 'linux' || process.platform === 'darwin');
      await f.pwrite(enc('tokulogx'), 0);
      await f.pwrite(enc('-entry'), 8);
      await f.close();
      expect(await readFile(join(root, 'log'), 'utf8')).toBe('tokulogx-entry');
      const plain = await s.open(join(root, 'log'), 'readwrite');
      expect(plain.dsync).toBe(false);
      await plain.close();
      const ro = await s.open(join(root, 'log'), 'read', { dsync: true });
      expect(ro.dsync).toBe(false);
      await ro.close();
      await s.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
