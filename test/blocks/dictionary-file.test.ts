import { describe, expect, it } from 'vitest';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { DictionaryFile, readHeaderSlots } from '../../src/blocks/dictionary-file.js';
import { newFtHeader, type FtHeader } from '../../src/format/ft-header.js';
import { TokusimError } from '../../src/base/errors.js';

async function checkpointOnce(df: DictionaryFile, lsn: bigint, write: (df: DictionaryFile) => Promise<void>): Promise<0 | 1> {
  df.blockTable.noteStartCheckpoint();
  const ch: FtHeader = { ...df.header, checkpointLsn: lsn, checkpointCount: df.header.checkpointCount + 1n };
  await write(df);
  const slot = await df.writeCheckpointHeader(ch);
  df.header = { ...df.header, checkpointCount: ch.checkpointCount, checkpointLsn: lsn };
  await df.endCheckpoint();
  return slot;
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('DictionaryFile on SimStorage', () => {
  // Scenario: a new dictionary is checkpointed twice; the headers alternate slots and a fresh
  // open reads back the newest checkpoint, its blocks and its descriptor.
  it('Scenario: two checkpoints alternate header slots and reopen to the newest one', async () => {
    const storage = new SimStorage({ seed: 7 });
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/a.tokudb', newFtHeader({ now: 1795315491n, rootXidThatCreated: 2n }));
    const root = df.blockTable.allocateBlocknum();
    expect(root).toBe(3n);
    await df.setDescriptor(new TextEncoder().encode('gen:len'));
    const slot1 = await checkpointOnce(df, 24n, async (d) => {
      await d.writeBlock(root, bytes(300, 0xaa), true);
    });
    expect(slot1).toBe(0);
    const slot2 = await checkpointOnce(df, 35n, async (d) => {
      await d.writeBlock(root, bytes(700, 0xbb), true);
    });
    expect(slot2).toBe(1);
    df.blockTable.checkInvariants();
    await df.close();

    const h = await storage.open('/db/a.tokudb', 'read');
    const [s0, s1] = await readHeaderSlots(h, 'a');
    await h.close();
    expect([s0.header!.checkpointCount, s1.header!.checkpointCount]).toEqual([1n, 2n]);

    const { file, chosen } = await DictionaryFile.open(storage, '/db/a.tokudb');
    expect(chosen.slot).toBe(1);
    expect(file.header.checkpointLsn).toBe(35n);
    expect(new TextDecoder().decode(file.descriptor)).toBe('gen:len');
    const blk = await file.readBlock(3n);
    expect(blk.length).toBe(1024);
    expect(blk.subarray(0, 700).every((b) => b === 0xbb)).toBe(true);
    file.blockTable.checkInvariants();
    await file.close();
  });

  it('Scenario: a damaged BTT in the chosen slot is a bad-btt error, with no fallback', async () => {
    const storage = new SimStorage({ seed: 3 });
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/b.tokudb', newFtHeader({ now: 1n }));
    const root = df.blockTable.allocateBlocknum();
    await checkpointOnce(df, 5n, async (d) => {
      await d.writeBlock(root, bytes(10, 1), true);
    });
    const loc = df.blockTable.snapshot('checkpointed')!.diskoffs[1]!;
    await df.close();
    const h = await storage.open('/db/b.tokudb', 'readwrite');
    await h.pwrite(new Uint8Array([0xff]), Number(loc) + 20);
    await h.close();
    const err = await DictionaryFile.open(storage, '/db/b.tokudb').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('bad-btt');
    expect((err as TokusimError).where.offset).toBe(Number(loc));
    expect((err as TokusimError).message).toMatch(/checksum mismatch \(expected 0x[0-9a-f]{8}, actual 0x[0-9a-f]{8}\)/);
  });

  it('Scenario: the file grows as PerconaFT grows it (0 -> 16384 -> 32768)', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/c.tokudb', newFtHeader({ now: 1n }));
    const root = df.blockTable.allocateBlocknum();
    await checkpointOnce(df, 1n, (d) => d.writeBlock(root, bytes(512, 2), true).then(() => undefined));
    expect(await df.handle.size()).toBe(16384);
    await checkpointOnce(df, 2n, (d) => d.writeBlock(root, bytes(512, 3), true).then(() => undefined));
    expect(await df.handle.size()).toBe(32768);
    await df.close();
  });
});

describe('DictionaryFile concurrent block writes (regression: growth raced block writes)', () => {
  // Scenario: many blocks are written at once on a disk whose calls complete out of order
  // (SimStorage ioJitter); some writes grow the file while others land in space an earlier
  // growth reserved. Every block must read back as written, and the file must end at the
  // size the growth rule (§6.3) gives for the blocks placed.
  for (const seed of [1, 2, 3, 5, 8, 13, 21, 34]) {
    it(`Scenario: concurrent writeBlock calls under ioJitter keep every block intact (seed ${seed})`, async () => {
      const storage = new SimStorage({ seed, ioJitter: 6 });
      await storage.mkdir('/db');
      const df = await DictionaryFile.create(storage, '/db/j.tokudb', newFtHeader({ now: 1n }));
      const blocknums = Array.from({ length: 48 }, () => df.blockTable.allocateBlocknum());
      // Sizes from 512 B to 12 KiB so that growth steps and block placements interleave.
      const sizeOf = (i: number) => 512 * (1 + ((i * 7 + seed) % 24));
      const fillOf = (i: number) => 1 + ((i * 37 + seed) % 250);
      await Promise.all(blocknums.map((b, i) => df.writeBlock(b, bytes(sizeOf(i), fillOf(i)), false)));
      for (const [i, b] of blocknums.entries()) {
        const got = await df.readBlock(b);
        expect(got.length).toBe(sizeOf(i));
        const bad = got.findIndex((x) => x !== fillOf(i));
        expect(bad, `block ${b} byte ${bad}`).toBe(-1);
      }
      expect(BigInt(await df.handle.size())).toBe(df.blockTable.safeFileSize);
      df.blockTable.checkInvariants();
      await df.close();
    });
  }
});

/** A Storage whose files hold every shrinking truncate until `release` (or fail it with `fail`). */
class GatedShrinkStorage extends SimStorage {
  held: Array<{ go: () => void; fail: (e: Error) => void }> = [];
  override async open(...args: Parameters<SimStorage['open']>): ReturnType<SimStorage['open']> {
    const f = await super.open(...args);
    const truncate = f.truncate.bind(f);
    const size = f.size.bind(f);
    f.truncate = async (n: number): Promise<void> => {
      if (n < (await size())) {
        await new Promise<void>((go, fail) => this.held.push({ go, fail }));
      }
      await truncate(n);
    };
    return f;
  }
}

describe('DictionaryFile: truncation at the end of a checkpoint runs in the background', () => {
  const MiB = 1 << 20;
  /** Three checkpoints of one 40 MiB block: the third frees the file's tail, planning a truncate. */
  async function fileWithPlannedTruncate(storage: GatedShrinkStorage): Promise<{ df: DictionaryFile; root: bigint }> {
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/t.tokudb', newFtHeader({ now: 1n }));
    const root = df.blockTable.allocateBlocknum();
    for (let i = 0; i < 2; i++) await checkpointOnce(df, BigInt(10 + i), (d) => d.writeBlock(root, bytes(40 * MiB, i + 1), true).then(() => undefined));
    return { df, root };
  }

  it('Scenario: the checkpoint ends before its truncate finishes; writes below the target do not wait; settle() waits', async () => {
    const storage = new GatedShrinkStorage({ seed: 11 });
    const { df, root } = await fileWithPlannedTruncate(storage);
    const f = await storage.open('/db/t.tokudb', 'read');
    const before = await f.size();
    // The third checkpoint reuses the hole at the start and frees the tail: endCheckpoint returns
    // with the truncate still held.
    await checkpointOnce(df, 12n, (d) => d.writeBlock(root, bytes(40 * MiB, 3), true).then(() => undefined));
    expect(storage.held).toHaveLength(1);
    expect(await f.size()).toBe(before);
    // A new small block lands right after the 40 MiB one, far below the truncate's target: its
    // write completes while the truncate is still held.
    const small = df.blockTable.allocateBlocknum();
    df.blockTable.noteStartCheckpoint();
    const off = await df.writeBlock(small, bytes(1000, 9), true);
    expect(Number(off) + 1024).toBeLessThan(64 * MiB);
    expect(storage.held).toHaveLength(1);
    let settled = false;
    const s = df.settle().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    storage.held.shift()!.go();
    await s;
    expect(await f.size()).toBeLessThan(before);
    expect((await f.size()) % (32 * MiB)).toBe(0);
    await f.close();
    await df.close();
  });

  it('Scenario: a failed background truncate is reported once, by the next endCheckpoint', async () => {
    const storage = new GatedShrinkStorage({ seed: 12 });
    const { df, root } = await fileWithPlannedTruncate(storage);
    await checkpointOnce(df, 12n, (d) => d.writeBlock(root, bytes(40 * MiB, 3), true).then(() => undefined));
    storage.held.shift()!.fail(new TokusimError('io', 'truncate /db/t.tokudb failed: EIO', { file: '/db/t.tokudb' }));
    const err = await checkpointOnce(df, 13n, (d) => d.writeBlock(root, bytes(1000, 4), true).then(() => undefined)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).message).toMatch(/EIO/);
    // Reported once: settle and close succeed afterwards.
    await df.settle();
    await df.close();
  });
});

/** SimStorage whose .tokudb files fail their first fsync (once). */
class FirstFsyncFails extends SimStorage {
  failed = false;
  override async open(...args: Parameters<SimStorage['open']>): ReturnType<SimStorage['open']> {
    const f = await super.open(...args);
    const fsync = f.fsync.bind(f);
    f.fsync = async (): Promise<void> => {
      if (!this.failed && f.path.endsWith('.tokudb')) {
        this.failed = true;
        throw new TokusimError('io', `fsync ${f.path} failed: EIO`, { file: f.path, actual: 'EIO' });
      }
      return fsync();
    };
    return f;
  }
}

describe('DictionaryFile: background syncs while a checkpoint writes blocks', () => {
  it('Scenario: with syncEveryBytes set, fsyncs start during the block writes and the checkpoint reads back whole', async () => {
    const storage = new SimStorage({ seed: 21 });
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/s.tokudb', newFtHeader({ now: 1n }));
    df.syncEveryBytes = 8192;
    const blocks = Array.from({ length: 12 }, () => df.blockTable.allocateBlocknum());
    await checkpointOnce(df, 5n, async (d) => {
      for (const [i, b] of blocks.entries()) await d.writeBlock(b, bytes(3000, i + 1), true);
    });
    // 12 blocks of 3072 bytes: one sync per 8192 bytes written, except while one is running.
    expect(df.backgroundSyncs).toBeGreaterThanOrEqual(1);
    expect(df.backgroundSyncs).toBeLessThanOrEqual(4);
    await df.close();
    const { file } = await DictionaryFile.open(storage, '/db/s.tokudb');
    for (const [i, b] of blocks.entries()) expect((await file.readBlock(b)).subarray(0, 3000).every((x) => x === i + 1)).toBe(true);
    await file.close();
  });

  it('Scenario: a failed background fsync fails the checkpoint header write, even though the final fsync succeeds', async () => {
    const storage = new FirstFsyncFails({ seed: 22 });
    await storage.mkdir('/db');
    const df = await DictionaryFile.create(storage, '/db/f.tokudb', newFtHeader({ now: 1n }));
    df.syncEveryBytes = 1024;
    const b = df.blockTable.allocateBlocknum();
    const err = await checkpointOnce(df, 5n, (d) => d.writeBlock(b, bytes(3000, 1), true).then(() => undefined)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(storage.failed).toBe(true);
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).where.actual).toBe('EIO');
    // No header reached the disk: both slots are still empty.
    const h = await storage.open('/db/f.tokudb', 'read');
    const [s0, s1] = await readHeaderSlots(h, 'f');
    await h.close();
    expect(s0.header).toBeUndefined();
    expect(s1.header).toBeUndefined();
    await df.close();
  });
});
