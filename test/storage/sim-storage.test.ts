import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TokusimError } from '../../src/base/errors.js';
import { SimStorage, SimulatedCrash, ALL_FAULTS, NO_FAULTS, type IoEvent } from '../../src/storage/sim-storage.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** Every file under dir (one level) with its bytes, as a plain object for deep comparison. */
async function state(s: SimStorage, dir = 'env'): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const name of await s.list(dir)) out[name] = [...(s.fileBytes(`${dir}/${name}`) ?? [])];
  return out;
}

async function writeFile(s: SimStorage, path: string, data: Uint8Array, offset = 0, sync = false): Promise<void> {
  const f = await s.open(path, 'create');
  await f.pwrite(data, offset);
  if (sync) await f.fsync();
  await f.close();
}

/** A disk with env/ holding durable files and then a batch of unsynced changes of every kind. */
async function busyDisk(seed: number): Promise<SimStorage> {
  const s = new SimStorage({ seed, sectorSize: 16 });
  await s.mkdir('env');
  await writeFile(s, 'env/a', enc('a'.repeat(40)), 0, true);
  await writeFile(s, 'env/b', enc('b'.repeat(40)), 0, true);
  await s.fsyncDir('env');
  await writeFile(s, 'env/a', enc('AAAAAAAAAAAAAAAAAAAAAAAA'), 8);
  await writeFile(s, 'env/c', enc('new file c'));
  await s.rename('env/b', 'env/b2');
  const t = await s.open('env/a', 'readwrite');
  await t.truncate(30);
  await t.pwrite(enc('tail'), 60);
  await t.close();
  return s;
}

const fileOp = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), file: fc.integer({ min: 0, max: 2 }), offset: fc.nat(200), data: fc.uint8Array({ minLength: 1, maxLength: 80 }) }),
  fc.record({ kind: fc.constant('truncate' as const), file: fc.integer({ min: 0, max: 2 }), size: fc.nat(220) }),
  fc.record({ kind: fc.constant('rename' as const), file: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 3, max: 5 }) }),
  fc.record({ kind: fc.constant('unlink' as const), file: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('create' as const), file: fc.integer({ min: 3, max: 5 }) }),
);
type FileOp = typeof fileOp extends fc.Arbitrary<infer T> ? T : never;

async function applyOp(s: SimStorage, op: FileOp): Promise<void> {
  const name = (i: number) => `env/f${i}`;
  if (op.kind === 'write' || op.kind === 'truncate') {
    if (!(await s.exists(name(op.file)))) return;
    const f = await s.open(name(op.file), 'readwrite');
    if (op.kind === 'write') await f.pwrite(op.data, op.offset);
    else await f.truncate(op.size);
    await f.close();
  } else if (op.kind === 'rename') {
    if (await s.exists(name(op.file))) await s.rename(name(op.file), name(op.to));
  } else if (op.kind === 'unlink') {
    if (await s.exists(name(op.file))) await s.unlink(name(op.file));
  } else {
    await (await s.open(name(op.file), 'create')).close();
  }
}

describe('SimStorage crash model', () => {
  // Property: files whose content was fsynced and whose entry was fsynced, and which nothing touched afterwards, survive every crash byte for byte, whatever the seed and faults.
  it('Property: fsynced data under an fsynced entry survives any crash with any seed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 3, maxLength: 3 }),
        fc.array(fileOp, { maxLength: 15 }),
        fc.nat(),
        fc.boolean(),
        async (contents, later, seed, reorder) => {
          const s = new SimStorage({ seed: 1, sectorSize: 32 });
          await s.mkdir('env');
          for (let i = 0; i < 3; i++) await writeFile(s, `env/f${i}`, contents[i]!, 0, true);
          await s.fsyncDir('env');
          const touched = new Set<number>();
          for (const op of later) {
            await applyOp(s, op);
            touched.add(op.file);
            if (op.kind === 'rename') touched.add(op.to);
          }
          s.crash({ seed, faults: { ...ALL_FAULTS, reorder } });
          s.checkInvariants();
          for (let i = 0; i < 3; i++) {
            if (touched.has(i)) continue;
            expect(s.fileBytes(`env/f${i}`)).toEqual(contents[i]);
          }
        },
      ),
      { numRuns: 150, seed: 101 },
    );
  });

  // Property: once everything is fsynced, a crash (any seed, all faults) changes nothing a reader can see.
  it('Property: after fsync of every file and directory, a crash preserves the visible state exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fileOp, { maxLength: 20 }), fc.nat(), async (ops, seed) => {
        const s = new SimStorage({ seed: 2 });
        await s.mkdir('env');
        for (const op of ops) await applyOp(s, op);
        for (const name of await s.list('env')) {
          const f = await s.open(`env/${name}`, 'read');
          await f.fsync();
          await f.close();
        }
        await s.fsyncDir('env');
        expect(s.hasUnsynced()).toBe(false);
        const before = await state(s);
        const report = s.crash({ seed });
        expect(await state(s)).toEqual(before);
        expect(report.writesDropped + report.writesTorn + report.dirOpsLost).toBe(0);
      }),
      { numRuns: 100, seed: 102 },
    );
  });

  it('Scenario: a clean power-off (keep-all), or a crash with every fault off, keeps all unsynced work', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const keepAll = await busyDisk(seed);
      const before = await state(keepAll);
      expect(keepAll.hasUnsynced()).toBe(true);
      keepAll.crash({ mode: 'keep-all' });
      expect(await state(keepAll)).toEqual(before);

      const faultsOff = await busyDisk(seed);
      faultsOff.crash({ seed, faults: NO_FAULTS });
      expect(await state(faultsOff)).toEqual(before);
    }
  });

  it('Scenario: drop-all loses every unsynced change and returns exactly the durable state', async () => {
    const s = await busyDisk(9);
    s.crash({ mode: 'drop-all' });
    expect(await s.list('env')).toEqual(['a', 'b']);
    expect(s.fileBytes('env/a')).toEqual(enc('a'.repeat(40)));
    expect(s.fileBytes('env/b')).toEqual(enc('b'.repeat(40)));
  });

  it('Scenario: with dropUnsynced, some seeds lose an unsynced write and others keep it', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const s = new SimStorage({ seed: 5, faults: { ...NO_FAULTS, dropUnsynced: true } });
      await s.mkdir('env');
      await writeFile(s, 'env/log', enc('durable'), 0, true);
      await s.fsyncDir('env');
      await writeFile(s, 'env/log', enc('+unsynced'), 7);
      s.crash({ seed });
      outcomes.add(new TextDecoder().decode(s.fileBytes('env/log')));
    }
    expect(outcomes).toEqual(new Set(['durable', 'durable+unsynced']));
  });

  it('Scenario: without reorder, a later write never survives an earlier lost one; with reorder it sometimes does', async () => {
    const survivors = async (reorder: boolean): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let seed = 0; seed < 120; seed++) {
        const s = new SimStorage({ seed: 1, faults: { ...NO_FAULTS, dropUnsynced: true, reorder } });
        await s.mkdir('env');
        const f = await s.open('env/f', 'create');
        await f.pwrite(enc('1'), 0);
        await f.pwrite(enc('2'), 1);
        await f.pwrite(enc('3'), 2);
        await s.fsyncDir('env');
        s.crash({ seed });
        seen.add(new TextDecoder().decode(s.fileBytes('env/f')).replace(/\0/g, '_'));
      }
      return seen;
    };
    const inOrder = await survivors(false);
    expect(inOrder).toEqual(new Set(['', '1', '12', '123']));
    const reordered = await survivors(true);
    expect([...reordered].some((v) => !['', '1', '12', '123'].includes(v))).toBe(true);
  });

  // Property: after a crash, every byte of a file is either its old durable byte or a byte some unsynced write put there (or zero past the old end), and each sector-aligned piece of a write lands whole or not at all.
  it('Property: torn writes tear only at sector boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.nat(450),
        fc.integer({ min: 1, max: 300 }),
        fc.nat(),
        fc.boolean(),
        async (sectorSize, old, offset, length, seed, reorder) => {
          const s = new SimStorage({ seed: 3, sectorSize, faults: { ...ALL_FAULTS, reorder } });
          await s.mkdir('env');
          await writeFile(s, 'env/f', old, 0, true);
          await s.fsyncDir('env');
          // Every written byte differs from what was there before, so each byte's origin is visible.
          const oldAt = (i: number) => (i < old.length ? old[i]! : 0);
          const data = Uint8Array.from({ length }, (_, k) => oldAt(offset + k) ^ 0x5a);
          const f = await s.open('env/f', 'readwrite');
          await f.pwrite(data, offset);
          await f.close();
          s.crash({ seed });
          const after = s.fileBytes('env/f')!;
          const at = (i: number) => (i < after.length ? after[i]! : 0);
          for (let i = 0; i < after.length; i++) {
            const inWrite = i >= offset && i < offset + length;
            expect(at(i) === oldAt(i) || (inWrite && at(i) === data[i - offset])).toBe(true);
          }
          const keptPieces: boolean[] = [];
          for (let start = offset; start < offset + length; ) {
            const end = Math.min(offset + length, (Math.floor(start / sectorSize) + 1) * sectorSize);
            const isNew = (i: number) => at(i) === data[i - offset];
            const first = isNew(start);
            for (let i = start; i < end; i++) expect(isNew(i)).toBe(first);
            keptPieces.push(first);
            start = end;
          }
          if (!reorder) {
            // In-order persistence: the surviving pieces are a prefix of the write.
            const firstLost = keptPieces.indexOf(false);
            if (firstLost >= 0) expect(keptPieces.slice(firstLost).every((k) => !k)).toBe(true);
          }
          // The file never ends inside a surviving piece, nor shrinks below its durable size.
          expect(after.length).toBeGreaterThanOrEqual(old.length);
        },
      ),
      { numRuns: 200, seed: 103 },
    );
  });

  it('Scenario: torn writes actually happen, and stats count them by type', async () => {
    const s = new SimStorage({ seed: 11, sectorSize: 8, faults: { ...NO_FAULTS, tornWrites: true } });
    await s.mkdir('env');
    let torn = 0;
    for (let seed = 0; seed < 40; seed++) {
      await writeFile(s, 'env/f', new Uint8Array(64).fill(seed + 1));
      await s.fsyncDir('env');
      const r = s.crash({ seed });
      torn += r.writesTorn;
      expect(r.writesDropped).toBe(0);
      expect(r.writesTorn + r.writesKept).toBe(1);
    }
    expect(torn).toBeGreaterThan(0);
    expect(s.stats().writesTorn).toBe(torn);
    expect(s.stats().crashes).toBe(40);
    expect(s.stats().sectorsLost).toBeGreaterThanOrEqual(torn);
  });

  // Property: entries made durable by fsyncDir and not changed since are never lost; entries changed since may be.
  it('Property: directory entries not fsynced can be lost, fsynced ones never', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 5 }), async (seed, extra) => {
        const s = new SimStorage({ seed: 4 });
        await s.mkdir('env');
        await writeFile(s, 'env/keep1', enc('k1'), 0, true);
        await writeFile(s, 'env/keep2', enc('k2'), 0, true);
        await s.fsyncDir('env');
        for (let i = 0; i < extra; i++) await writeFile(s, `env/new${i}`, enc(`n${i}`), 0, true);
        s.crash({ seed });
        const names = await s.list('env');
        expect(names).toContain('keep1');
        expect(names).toContain('keep2');
        expect(s.fileBytes('env/keep1')).toEqual(enc('k1'));
        for (const n of names) expect(['keep1', 'keep2', ...Array.from({ length: extra }, (_, i) => `new${i}`)]).toContain(n);
      }),
      { numRuns: 150, seed: 104 },
    );
  });

  it('Scenario: an unsynced create, rename and unlink are each sometimes reverted by a crash', async () => {
    const seen = { createLost: false, createKept: false, renameLost: false, renameKept: false, unlinkLost: false, unlinkKept: false };
    for (let seed = 0; seed < 80; seed++) {
      const s = new SimStorage({ seed: 6, faults: { ...NO_FAULTS, loseDirEntries: true } });
      await s.mkdir('env');
      await writeFile(s, 'env/old', enc('o'), 0, true);
      await writeFile(s, 'env/gone', enc('g'), 0, true);
      await s.fsyncDir('env');
      await writeFile(s, 'env/created', enc('c'), 0, true);
      await s.rename('env/old', 'env/renamed');
      await s.unlink('env/gone');
      s.crash({ seed });
      const names = new Set(await s.list('env'));
      seen[names.has('created') ? 'createKept' : 'createLost'] = true;
      seen[names.has('renamed') ? 'renameKept' : 'renameLost'] = true;
      seen[names.has('gone') ? 'unlinkLost' : 'unlinkKept'] = true;
      // A rename is atomic: exactly one of the two names holds the file.
      expect(names.has('old') !== names.has('renamed')).toBe(true);
      expect(s.fileBytes(names.has('old') ? 'env/old' : 'env/renamed')).toEqual(enc('o'));
      if (names.has('gone')) expect(s.fileBytes('env/gone')).toEqual(enc('g'));
    }
    expect(Object.values(seen).every(Boolean)).toBe(true);
  });

  // Property: the post-crash disk is a pure function of the operations and the crash seed (so is a snapshot's).
  it('Property: the same seed gives an identical post-crash state, also from snapshots', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fileOp, { maxLength: 15 }), fc.nat(), async (ops, seed) => {
        const build = async (): Promise<SimStorage> => {
          const s = new SimStorage({ seed: 77, sectorSize: 16 });
          await s.mkdir('env');
          for (const op of ops) await applyOp(s, op);
          return s;
        };
        const a = await build();
        const b = await build();
        const snap1 = a.snapshot();
        const snap2 = a.snapshot();
        const ra = a.crash({ seed });
        const rb = b.crash({ seed });
        snap1.crash({ seed });
        snap2.crash({ seed });
        expect(rb).toEqual(ra);
        const sa = await state(a);
        expect(await state(b)).toEqual(sa);
        expect(await state(snap1)).toEqual(sa);
        expect(await state(snap2)).toEqual(sa);
      }),
      { numRuns: 80, seed: 105 },
    );
  });

  it('Scenario: one snapshot crashed many ways gives different outcomes and leaves the original untouched', async () => {
    const s = await busyDisk(21);
    const before = await state(s);
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const copy = s.snapshot();
      copy.crash({ seed });
      outcomes.add(JSON.stringify(await state(copy)));
    }
    expect(outcomes.size).toBeGreaterThan(3);
    expect(await state(s)).toEqual(before);
    expect(s.hasUnsynced()).toBe(true);
  });

  it('Scenario: seeds drawn by the disk itself are reproducible (crash reports its seed)', async () => {
    const a = await busyDisk(33);
    const b = await busyDisk(33);
    const ra = a.crash();
    const rb = b.crash();
    expect(rb.seed).toBe(ra.seed);
    expect(await state(b)).toEqual(await state(a));
    const c = await busyDisk(33);
    c.crash({ seed: ra.seed });
    expect(await state(c)).toEqual(await state(a));
  });

  it('Scenario: a crash kills open handles, and reopening sees only what survived', async () => {
    const s = new SimStorage({ seed: 1 });
    await s.mkdir('env');
    const f = await s.open('env/f', 'create');
    await f.pwrite(enc('synced'), 0);
    await f.fsync();
    await s.fsyncDir('env');
    await f.pwrite(enc(' and not'), 6);
    s.crash({ mode: 'drop-all' });
    await expect(f.pread(new Uint8Array(4), 0)).rejects.toMatchObject({ kind: 'io', where: { actual: 'EBADF' } });
    await expect(f.pwrite(enc('x'), 0)).rejects.toMatchObject({ kind: 'io', where: { actual: 'EBADF' } });
    const g = await s.open('env/f', 'read');
    const buf = new Uint8Array(32);
    const n = await g.pread(buf, 0);
    expect(new TextDecoder().decode(buf.subarray(0, n))).toBe('synced');
  });

  it('Scenario: an unsynced file whose entry is lost is gone, even if its content was fsynced', async () => {
    const s = new SimStorage({ seed: 1 });
    await s.mkdir('env');
    await writeFile(s, 'env/orphan', enc('data'), 0, true);
    const r = s.crash({ mode: 'drop-all' });
    expect(await s.exists('env/orphan')).toBe(false);
    expect(r.filesGone).toBe(1);
  });
});

describe('SimStorage I/O hooks and fault tools', () => {
  it('Scenario: onIo sees every call, numbered, before it happens; unsubscribing stops it', async () => {
    const s = new SimStorage();
    const seen: IoEvent[] = [];
    const off = s.onIo((ev) => seen.push(ev));
    await s.mkdir('env');
    const f = await s.open('env/x', 'create');
    await f.pwrite(enc('abc'), 10);
    await f.fsync();
    await f.close();
    await s.rename('env/x', 'env/y');
    off();
    await s.fsyncDir('env');
    expect(seen.map((e) => e.op)).toEqual(['mkdir', 'open', 'pwrite', 'fsync', 'close', 'rename']);
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen[2]).toMatchObject({ path: 'env/x', offset: 10, length: 3 });
    expect(seen[5]).toMatchObject({ path: 'env/x', to: 'env/y' });
    expect(s.ioOps()).toBe(7);
  });

  it('Scenario: crashAtIo(n) stops the machine at the n-th call; nothing changes the disk until crash()', async () => {
    const s = new SimStorage();
    await s.mkdir('env');
    const f = await s.open('env/log', 'create');
    await f.pwrite(enc('one'), 0);
    s.crashAtIo(s.ioOps() + 2);
    await f.fsync();
    await expect(f.pwrite(enc('two'), 3)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(s.isHalted()).toBe(true);
    await expect(f.pwrite(enc('three'), 3)).rejects.toBeInstanceOf(SimulatedCrash);
    await expect(s.fsyncDir('env')).rejects.toBeInstanceOf(SimulatedCrash);
    expect(s.fileBytes('env/log')).toEqual(enc('one'));
    s.crash({ mode: 'keep-all' });
    expect(s.isHalted()).toBe(false);
    expect(s.fileBytes('env/log')).toEqual(enc('one'));
    await expect(s.open('env/log', 'read')).resolves.toBeDefined();
  });

  it('Scenario: a harness crashes at every I/O of a write-fsync-rename protocol; the target always holds old or new content whole', async () => {
    const protocol = async (s: SimStorage): Promise<void> => {
      const f = await s.open('env/header.tmp', 'create-exclusive');
      await f.pwrite(enc('NEW-HEADER-'.repeat(20)), 0);
      await f.fsync();
      await f.close();
      await s.rename('env/header.tmp', 'env/header');
      await s.fsyncDir('env');
    };
    const base = new SimStorage({ seed: 8, sectorSize: 16 });
    await base.mkdir('env');
    await writeFile(base, 'env/header', enc('OLD'), 0, true);
    await base.fsyncDir('env');
    const counting = base.snapshot();
    const start = counting.ioOps();
    await protocol(counting);
    const total = counting.ioOps() - start;
    expect(total).toBe(6);
    for (let k = 1; k <= total; k++) {
      for (let seed = 0; seed < 5; seed++) {
        const s = base.snapshot();
        s.onIo((ev) => {
          if (ev.seq === start + k) throw new SimulatedCrash(ev.seq);
        });
        await expect(protocol(s)).rejects.toBeInstanceOf(SimulatedCrash);
        s.crash({ seed });
        const got = new TextDecoder().decode(s.fileBytes('env/header'));
        expect(['OLD', 'NEW-HEADER-'.repeat(20)]).toContain(got);
      }
    }
  });

  it('Scenario: flipBits changes every byte of the chosen region, nothing else, deterministically by seed', async () => {
    const make = async (): Promise<SimStorage> => {
      const s = new SimStorage();
      await s.mkdir('env');
      await writeFile(s, 'env/f', new Uint8Array(100).fill(0x11), 0, true);
      await s.fsyncDir('env');
      return s;
    };
    const a = await make();
    const b = await make();
    const bits = a.flipBits('env/f', 10, 20, 42);
    b.flipBits('env/f', 10, 20, 42);
    expect(bits).toBeGreaterThanOrEqual(20);
    const got = a.fileBytes('env/f')!;
    expect(got).toEqual(b.fileBytes('env/f'));
    for (let i = 0; i < 100; i++) expect(got[i] !== 0x11).toBe(i >= 10 && i < 30);
    // The corruption is on the medium: it survives a crash.
    a.crash({ seed: 1 });
    expect(a.fileBytes('env/f')).toEqual(got);
    expect(a.stats().bytesCorrupted).toBe(20);
    expect(() => a.flipBits('env/f', 90, 20, 1)).toThrow(TokusimError);
    expect(() => a.flipBits('env/nope', 0, 1, 1)).toThrow(TokusimError);
  });

  it('Scenario: installFile places a durable file that survives a drop-all crash', async () => {
    const s = new SimStorage();
    s.installFile('fixtures/log000000000000.tokulog29', enc('tokulogx'));
    s.crash({ mode: 'drop-all' });
    expect(await s.list('fixtures')).toEqual(['log000000000000.tokulog29']);
    expect(s.fileBytes('fixtures/log000000000000.tokulog29')).toEqual(enc('tokulogx'));
    expect(s.ioOps()).toBe(1);
  });

  it('Scenario: with ioJitter, the seed picks the interleaving of concurrent tasks, reproducibly', async () => {
    const run = async (seed: number): Promise<string> => {
      const s = new SimStorage({ seed, ioJitter: 4 });
      await s.mkdir('env');
      const order: string[] = [];
      const task = async (name: string): Promise<void> => {
        const f = await s.open(`env/${name}`, 'create');
        for (let i = 0; i < 4; i++) {
          await f.pwrite(enc(name), i);
          order.push(`${name}${i}`);
        }
        await f.close();
      };
      await Promise.all([task('a'), task('b'), task('c')]);
      return order.join(' ');
    };
    const orders = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const first = await run(seed);
      expect(await run(seed)).toBe(first);
      orders.add(first);
    }
    expect(orders.size).toBeGreaterThan(5);
  });

  it('Scenario: a call still waiting under ioJitter when the disk crashes is cancelled, not applied after', async () => {
    const s = new SimStorage({ seed: 3, ioJitter: 50 });
    await s.mkdir('env');
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) pending.push(s.open(`env/f${i}`, 'create').then(() => undefined));
    s.crash({ mode: 'keep-all' });
    const results = await Promise.allSettled(pending);
    const cancelled = results.filter((r) => r.status === 'rejected');
    expect(cancelled.length).toBeGreaterThan(0);
    for (const r of cancelled) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SimulatedCrash);
    // Calls that drew no wait did their work before the crash (kept by keep-all); cancelled ones left no trace.
    const completed = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`f${i}`] : []));
    expect(await s.list('env')).toEqual(completed.sort());
  });

  it('Scenario: bad options are refused with bad-argument errors', () => {
    expect(() => new SimStorage({ ioJitter: -1 })).toThrow(TokusimError);
    expect(() => new SimStorage({ sectorSize: 0 })).toThrow(TokusimError);
    const s = new SimStorage();
    expect(() => s.crashAtIo(0)).toThrow(TokusimError);
  });
});
