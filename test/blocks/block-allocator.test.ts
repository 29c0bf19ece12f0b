import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockAllocator, planPreallocate, planTruncate } from '../../src/blocks/block-allocator.js';

/** The model of first fit: the lowest 4096-multiple >= 8192 whose [o, o+size) misses every live block. */
function lowestFit(live: ReadonlyArray<{ offset: bigint; size: bigint }>, size: bigint): bigint {
  let cand = 8192n;
  for (;;) {
    const clash = live.find((b) => b.offset < cand + size && cand < b.offset + b.size);
    if (!clash) return cand;
    cand = ((clash.offset + clash.size + 4095n) / 4096n) * 4096n;
  }
}

describe('BlockAllocator', () => {
  // Scenario: the golden allocation sequence of spec §6.2, produced by the real BlockAllocator.
  it('Scenario: reproduces the golden first-fit sequence from the spec', () => {
    const a = BlockAllocator.create();
    const got: bigint[] = [];
    for (const s of [512n, 84n, 5000n, 100n, 4096n, 1n]) got.push(a.allocBlock(s));
    expect(got).toEqual([8192n, 12288n, 16384n, 24576n, 28672n, 32768n]);
    expect(a.allocatedLimit()).toBe(32769n);
    a.freeBlock(16384n, 5000n);
    a.freeBlock(12288n, 84n);
    expect(a.holeList()[0]).toEqual({ offset: 8704n, size: 24576n - 8704n });
    expect(a.allocBlock(3000n)).toBe(12288n);
    expect(a.allocBlock(4000n)).toBe(16384n);
    expect(a.allocBlock(8192n)).toBe(36864n);
    expect(a.allocBlock(10n)).toBe(20480n);
    expect(a.allocatedLimit()).toBe(45056n);
    a.freeBlock(32768n, 1n);
    expect(a.allocatedLimit()).toBe(45056n);
    a.checkInvariants();
  });

  it('Scenario: rebuilding from block pairs gives the same holes as the allocator that made them', () => {
    const a = BlockAllocator.create();
    const offs = [100n, 5000n, 20n, 9000n].map((s) => ({ offset: a.allocBlock(s), size: s }));
    a.freeBlock(offs[1]!.offset, offs[1]!.size);
    const rebuilt = BlockAllocator.fromBlocks([offs[3]!, offs[0]!, offs[2]!]);
    expect(rebuilt.blockList()).toEqual(a.blockList());
    expect(rebuilt.allocatedLimit()).toBe(a.allocatedLimit());
    expect(rebuilt.allocBlock(4096n)).toBe(a.allocBlock(4096n));
  });

  it('Scenario: freeing a block that was never handed out is an invariant error', () => {
    const a = BlockAllocator.create();
    a.allocBlock(512n);
    expect(() => a.freeBlock(8192n, 100n)).toThrow(/does not match an allocated block/);
    expect(() => a.allocBlock(0n)).toThrow(/size must be > 0/);
  });

  // Property: after any sequence of allocations and frees, blocks are aligned, disjoint, never
  // in the header area, the byte count is exact, and the result of each allocation is the
  // lowest aligned offset where the block fits.
  it('Property: random alloc/free keeps blocks disjoint, aligned and first-fit', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 20000 }), fc.constant(-1), fc.nat()), { maxLength: 80 }), (ops) => {
        const a = BlockAllocator.create();
        const live: Array<{ offset: bigint; size: bigint }> = [];
        for (const op of ops) {
          if (op > 0 && op <= 20000) {
            const size = BigInt(op);
            const off = a.allocBlock(size);
            expect(off).toBe(lowestFit(live, size));
            live.push({ offset: off, size });
          } else if (live.length > 0) {
            const [b] = live.splice(Math.abs(op) % live.length, 1);
            a.freeBlock(b!.offset, b!.size);
          }
          a.checkInvariants();
        }
        expect(a.nBytesInUse).toBe(live.reduce((s, b) => s + b.size, 0n));
      }),
      { numRuns: 200 },
    );
  });

  // Property: with few distinct sizes (as node writes of one size, which leave runs of slack
  // holes that the first-fit shortcut skips), every allocation is still the lowest aligned
  // offset where the block fits, through any mix of frees and size changes.
  it('Property: the first-fit shortcut never changes where a block goes', () => {
    const sizes = [3000, 4096, 5000, 9000, 13000];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat({ max: sizes.length - 1 }), fc.nat()), { maxLength: 150 }), (ops) => {
        const a = BlockAllocator.create();
        const live: Array<{ offset: bigint; size: bigint }> = [];
        for (const [alloc, k, pick] of ops) {
          if (alloc || live.length === 0) {
            const size = BigInt(sizes[k]!);
            const off = a.allocBlock(size);
            expect(off).toBe(lowestFit(live, size));
            live.push({ offset: off, size });
          } else {
            const [b] = live.splice(pick % live.length, 1);
            a.freeBlock(b!.offset, b!.size);
          }
        }
        a.checkInvariants();
      }),
      { numRuns: 300 },
    );
  });

  it('Scenario: file growth doubles in 4 KiB units as in the spec example', () => {
    expect(planPreallocate(0n, 8704n)).toEqual({ writeAt: 0n, length: 16384n, newSize: 16384n });
    expect(planPreallocate(16384n, 16896n)).toEqual({ writeAt: 16384n, length: 16384n, newSize: 32768n });
    expect(planPreallocate(32768n, 16896n)).toBeNull();
    // Growth is capped at 16 MiB per step.
    const big = 64n << 20n;
    expect(planPreallocate(big, big + 1n)).toEqual({ writeAt: big, length: 16n << 20n, newSize: big + (16n << 20n) });
  });

  it('Scenario: truncation only when overallocated by at least 32 MiB, to a 32 MiB boundary', () => {
    expect(planTruncate(80n << 20n, 9n << 20n)).toBe(32n << 20n);
    expect(planTruncate(41n << 20n, 9n << 20n)).toBe(32n << 20n);
    expect(planTruncate((41n << 20n) - 1n, 9n << 20n)).toBeNull();
    expect(planTruncate(32n << 20n, 8192n)).toBeNull();
    expect(planTruncate((32n << 20n) + 8192n, 8192n)).toBe(32n << 20n);
  });
});
