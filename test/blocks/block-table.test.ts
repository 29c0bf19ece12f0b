import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockTable } from '../../src/blocks/block-table.js';
import { decodeTranslationImage } from '../../src/format/btt-format.js';
import type { TranslationImage } from '../../src/format/btt-format.js';

/** The ON-DISK entries of a snapshot as {b: [diskoff, size]}. */
function onDisk(t: TranslationImage | null): Record<number, [bigint, bigint]> {
  const out: Record<number, [bigint, bigint]> = {};
  if (!t) return out;
  t.sizes.forEach((s, b) => {
    if (s > 0n) out[b] = [t.diskoffs[b]!, s];
  });
  return out;
}

function checkpoint(bt: BlockTable): { address: bigint; size: bigint } {
  const s = bt.serializeTranslation();
  bt.checkInvariants();
  bt.noteEndCheckpoint();
  bt.checkInvariants();
  return { address: s.address, size: s.size };
}

describe('BlockTable', () => {
  // Scenario: the golden trace of spec §9, produced by driving the real block_table.
  it('Scenario: reproduces the golden trace of the three translations', () => {
    const dirty: boolean[] = [];
    const bt = BlockTable.create({ setDirty: (fc) => dirty.push(fc) });
    const b3 = bt.allocateBlocknum();
    const b4 = bt.allocateBlocknum();
    const b5 = bt.allocateBlocknum();
    expect([b3, b4, b5]).toEqual([3n, 4n, 5n]);
    expect([b3, b4, b5].map((b) => bt.reallocOnDisk(b, 512n, false).offset)).toEqual([8192n, 12288n, 16384n]);

    // Checkpoint 1.
    bt.noteStartCheckpoint();
    expect(checkpoint(bt)).toEqual({ address: 20480n, size: 116n });
    expect(onDisk(bt.snapshot('checkpointed'))).toEqual({ 1: [20480n, 116n], 3: [8192n, 512n], 4: [12288n, 512n], 5: [16384n, 512n] });
    expect(onDisk(bt.snapshot('current'))).toEqual({ 3: [8192n, 512n], 4: [12288n, 512n], 5: [16384n, 512n] });

    // Checkpoint 2 with an eviction, a checkpoint write, a free and a reuse in the middle.
    bt.noteStartCheckpoint();
    dirty.length = 0;
    expect(bt.reallocOnDisk(3n, 1024n, false).offset).toBe(24576n);
    expect(bt.reallocOnDisk(4n, 1024n, true).offset).toBe(28672n);
    bt.freeBlocknum(5n, false);
    expect(bt.snapshot('current')!.freelistHead).toBe(5n);
    expect(bt.allocateBlocknum()).toBe(5n);
    expect(bt.reallocOnDisk(5n, 512n, false).offset).toBe(32768n);
    expect(dirty).toEqual([false, true, false, false, false]);
    bt.checkInvariants();
    expect(onDisk(bt.snapshot('current'))).toEqual({ 3: [24576n, 1024n], 4: [28672n, 1024n], 5: [32768n, 512n] });
    expect(onDisk(bt.snapshot('inprogress'))).toEqual({ 3: [8192n, 512n], 4: [28672n, 1024n], 5: [16384n, 512n] });
    expect(checkpoint(bt).address).toBe(36864n);
    expect(onDisk(bt.snapshot('checkpointed'))).toEqual({ 1: [36864n, 116n], 3: [8192n, 512n], 4: [28672n, 1024n], 5: [16384n, 512n] });
    expect(bt.allocator.hasBlock(20480n, 116n)).toBe(false);
    expect(bt.allocator.hasBlock(12288n, 512n)).toBe(false);

    // Checkpoint 3, no changes: the BTT lands in the first hole.
    bt.noteStartCheckpoint();
    expect(checkpoint(bt).address).toBe(12288n);
    expect(onDisk(bt.snapshot('checkpointed'))).toEqual({ 1: [12288n, 116n], 3: [24576n, 1024n], 4: [28672n, 1024n], 5: [32768n, 512n] });

    // Checkpoint 4: free b3 for checkpoint.
    bt.noteStartCheckpoint();
    bt.freeBlocknum(3n, true);
    expect(bt.snapshot('current')!.freelistHead).toBe(3n);
    expect(bt.snapshot('inprogress')!.freelistHead).toBe(3n);
    expect(bt.snapshot('inprogress')!.sizes[3]).toBe(-1n);
    expect(bt.allocator.hasBlock(24576n, 1024n)).toBe(true);
    expect(checkpoint(bt).address).toBe(8192n);
    expect(bt.allocator.hasBlock(24576n, 1024n)).toBe(false);
    expect(bt.allocator.hasBlock(12288n, 116n)).toBe(false);

    // Free b5 (the highest), then checkpoint 5 trims the free suffix.
    bt.freeBlocknum(5n, false);
    bt.noteStartCheckpoint();
    const cur = bt.snapshot('current')!;
    expect(cur.smallestNeverUsed).toBe(5n);
    expect(cur.freelistHead).toBe(3n);
    const ip = bt.snapshot('inprogress')!;
    expect([ip.smallestNeverUsed, ip.freelistHead]).toEqual([5n, 3n]);
    const s = bt.serializeTranslation();
    expect([s.address, s.size]).toEqual([12288n, 100n]);
    // B9: the serialized bytes parse back to inprogress with entry 1 filled in.
    const back = decodeTranslationImage(s.bytes, { file: 't', location: s.address, size: s.size });
    expect(back).toEqual(bt.snapshot('inprogress'));
    bt.noteEndCheckpoint();
    bt.checkInvariants();
  });

  it('Scenario: a skipped checkpoint leaves checkpointed and the allocator unchanged', () => {
    const bt = BlockTable.create();
    const b = bt.allocateBlocknum();
    bt.reallocOnDisk(b, 512n, false);
    bt.noteStartCheckpoint();
    checkpoint(bt);
    const before = bt.snapshot('checkpointed');
    const blocks = bt.allocator.blockList();
    bt.noteStartCheckpoint();
    bt.noteSkippedCheckpoint();
    bt.noteEndCheckpoint();
    expect(bt.snapshot('checkpointed')).toEqual(before);
    expect(bt.allocator.blockList()).toEqual(blocks);
    expect(bt.snapshot('inprogress')).toBeNull();
  });

  it('Scenario: misuse is an invariant error, not silent corruption', () => {
    const bt = BlockTable.create();
    expect(() => bt.reallocOnDisk(3n, 512n, false)).toThrow(/blocknum 3 is in \[3, 3\)/);
    const b = bt.allocateBlocknum();
    expect(() => bt.reallocOnDisk(b, 512n, true)).toThrow(/during a checkpoint/);
    expect(() => bt.noteEndCheckpoint()).toThrow(/follows noteStartCheckpoint/);
    expect(() => bt.freeBlocknum(2n, false)).toThrow(/blocknum 2/);
  });

  it('Scenario: the descriptor lives at blocknum 2 and only current moves', () => {
    const bt = BlockTable.create();
    bt.noteStartCheckpoint();
    const { offset } = bt.reallocDescriptorOnDisk(21n);
    expect(offset).toBe(8192n);
    expect(bt.getDescriptorOffsetSize()).toEqual({ diskoff: 8192n, size: 21n });
    expect(bt.snapshot('inprogress')!.sizes[2]).toBe(0n);
    checkpoint(bt);
  });

  type Op =
    | { k: 'alloc' }
    | { k: 'realloc'; pick: number; size: number; forCp: boolean }
    | { k: 'free'; pick: number; forCp: boolean }
    | { k: 'begin' }
    | { k: 'end' }
    | { k: 'skip' }
    | { k: 'desc'; size: number }
    | { k: 'unused' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant<Op>({ k: 'alloc' }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('realloc' as const), pick: fc.nat(), size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 24 }).map((x) => x * 512)), forCp: fc.boolean() }), weight: 5 },
    { arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), forCp: fc.boolean() }), weight: 2 },
    { arbitrary: fc.constant<Op>({ k: 'begin' }), weight: 1 },
    { arbitrary: fc.constant<Op>({ k: 'end' }), weight: 1 },
    { arbitrary: fc.constant<Op>({ k: 'skip' }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('desc' as const), size: fc.integer({ min: 8, max: 3000 }) }), weight: 1 },
    { arbitrary: fc.constant<Op>({ k: 'unused' }), weight: 1 },
  );

  // Property: any sequence of allocate / realloc (checkpoint and eviction) / free / begin /
  // end / skipped checkpoint keeps B1-B5 (no disk range used by two live blocks, nothing any
  // translation references is free in the allocator, free space accounted exactly), keeps
  // checkpointed blocks untouched until the next end (B6), and every serialized BTT parses
  // back to the inprogress translation (B9) that then becomes checkpointed (B10).
  it('Property: random operation sequences keep every invariant and round-trip the BTT', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const bt = BlockTable.create();
        let live: bigint[] = [];
        let inCp = false;
        let skipped = false;
        let serialized: TranslationImage | null = null;
        const resolvedThisCheckpoint = new Set<bigint>();
        // A for-checkpoint change dirties the checkpoint header, and a checkpoint with a dirty
        // header is never skipped (CheckpointableDictionary.checkpoint), so 'skip' comes only
        // before any such change.
        let checkpointDirtied = false;
        // Every other change to the translation dirties the current header (the BlockTable's
        // setDirty hook on allocate / realloc / free, as PerconaFT's ft_set_dirty), and begin
        // clones it into the checkpoint header: a checkpoint that begins after any such change
        // is not skipped either. (Without this the model skipped checkpoints the system never
        // skips and reported a leak about once in 2,400 runs.)
        let headerDirty = false;
        let dirtyAtBegin = false;
        for (const op of ops) {
          const cpBefore = onDisk(bt.snapshot('checkpointed'));
          switch (op.k) {
            case 'alloc':
              live.push(bt.allocateBlocknum());
              headerDirty = true;
              break;
            case 'realloc': {
              if (live.length === 0) break;
              const b = live[op.pick % live.length]!;
              // Only PAIRs that were pending at begin (present, not FREE in inprogress) are
              // written for checkpoint, and only before the BTT is serialized.
              // A pending PAIR's bit is resolved once, by whoever writes it first, and every
              // write while it is pending is a for-checkpoint write: so a blocknum is written
              // for checkpoint at most once per checkpoint, and never after a non-checkpoint
              // write in the same checkpoint (that order cannot happen in the cachetable, and
              // PerconaFT would leak the inprogress block if it did).
              const ipt = bt.snapshot('inprogress');
              const forCp =
                op.forCp && inCp && !skipped && serialized === null && ipt !== null &&
                Number(b) < Number(ipt.smallestNeverUsed) && ipt.sizes[Number(b)] !== -1n &&
                !resolvedThisCheckpoint.has(b);
              if (inCp) resolvedThisCheckpoint.add(b);
              if (forCp) checkpointDirtied = true;
              else headerDirty = true;
              const r = bt.reallocOnDisk(b, BigInt(op.size), forCp);
              expect(bt.translate(b)).toEqual({ diskoff: r.offset, size: BigInt(op.size) });
              if (r.growth) expect(r.growth.newSize).toBeGreaterThanOrEqual(r.offset + BigInt(op.size));
              if (forCp) expect(bt.snapshot('inprogress')!.diskoffs[Number(b)]).toBe(r.offset);
              break;
            }
            case 'free': {
              if (live.length === 0) break;
              const i = op.pick % live.length;
              const b = live[i]!;
              const forCp =
                op.forCp && inCp && serialized === null && Number(b) < Number(bt.snapshot('inprogress')!.smallestNeverUsed) &&
                bt.snapshot('inprogress')!.sizes[Number(b)] !== -1n && !resolvedThisCheckpoint.has(b);
              if (inCp) resolvedThisCheckpoint.add(b);
              if (forCp) checkpointDirtied = true;
              else headerDirty = true;
              bt.freeBlocknum(b, forCp);
              live.splice(i, 1);
              break;
            }
            case 'begin':
              if (inCp) break;
              bt.noteStartCheckpoint();
              resolvedThisCheckpoint.clear();
              checkpointDirtied = false;
              dirtyAtBegin = headerDirty;
              headerDirty = false;
              inCp = true;
              skipped = false;
              serialized = null;
              break;
            case 'skip':
              if (!inCp || serialized || checkpointDirtied || dirtyAtBegin) break;
              bt.noteSkippedCheckpoint();
              skipped = true;
              break;
            case 'end': {
              if (!inCp) break;
              if (!skipped && !serialized) {
                const s = bt.serializeTranslation();
                const back = decodeTranslationImage(s.bytes, { file: 'prop', location: s.address, size: s.size });
                expect(back).toEqual(bt.snapshot('inprogress'));
                serialized = back;
              }
              const cpOld = bt.snapshot('checkpointed');
              bt.noteEndCheckpoint();
              if (skipped) expect(bt.snapshot('checkpointed')).toEqual(cpOld);
              else expect(bt.snapshot('checkpointed')).toEqual(serialized);
              inCp = false;
              serialized = null;
              break;
            }
            case 'desc':
              bt.reallocDescriptorOnDisk(BigInt(op.size));
              headerDirty = true;
              break;
            case 'unused': {
              const root = live[0] ?? 3n;
              const cur = bt.snapshot('current')!;
              bt.freeUnusedBlocknums(root);
              live = live.filter((b) => b === root || cur.sizes[Number(b)] !== 0n);
              break;
            }
          }
          bt.checkInvariants();
          // B6: the checkpointed translation's blocks stay allocated unless a checkpoint ended.
          if (op.k !== 'end') {
            expect(onDisk(bt.snapshot('checkpointed'))).toEqual(cpBefore);
            for (const [d, s] of Object.values(cpBefore)) expect(bt.allocator.hasBlock(d, s)).toBe(true);
          }
          // Free space is accounted exactly: blocks + holes tile [8192, limit).
          const used = bt.allocator.blockList().reduce((a, b) => a + b.size, 0n);
          expect(bt.allocator.nBytesInUse).toBe(used);
          const holes = bt.allocator.holeList().reduce((a, b) => a + b.size, 0n);
          expect(used + holes).toBe(bt.allocator.allocatedLimit() - 8192n);
        }
      }),
      // BT_RUNS=150000 for a deep run (about 20 s).
      { numRuns: Number(process.env['BT_RUNS'] ?? 300) },
    );
  });
});
