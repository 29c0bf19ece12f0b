import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteWriter } from '../../src/base/bytes.js';
import { TokusimError } from '../../src/base/errors.js';
import { BlockAllocator } from '../../src/blocks/block-allocator.js';
import { Translation } from '../../src/blocks/translation.js';
import { decodeTranslationImage, encodeTranslationImage, translationSizeOnDisk, type TranslationImage } from '../../src/format/btt-format.js';
import { x1764 } from '../../src/format/x1764.js';

/** The on-disk bytes by the byte writer's own u64 (hi word, then lo word): an encoding independent of the typed-array one. */
function referenceEncoding(n: bigint, head: bigint, diskoffs: bigint[], sizes: bigint[]): Uint8Array {
  const w = new ByteWriter();
  w.u64(n);
  w.u64(head);
  for (let i = 0; i < diskoffs.length; i++) w.u64(diskoffs[i]!).u64(sizes[i]!);
  const body = w.toBytes();
  w.u32(x1764(body, 0, body.length));
  return w.toBytes();
}

/** An image with entry 1 at `location`, blocks [3, 3 + blocks.length) on disk and the rest free on one list. */
function image(location: bigint, blocks: Array<[bigint, bigint]>, free: number): { img: TranslationImage; diskoffs: bigint[]; sizes: bigint[] } {
  const n = 3 + blocks.length + free;
  const diskoffs: bigint[] = [-2n, location, -2n, ...blocks.map((b) => b[0])];
  const sizes: bigint[] = [0n, translationSizeOnDisk(n), 0n, ...blocks.map((b) => b[1])];
  let head = -1n;
  for (let b = 3 + blocks.length; b < n; b++) {
    diskoffs.push(head);
    sizes.push(-1n);
    head = BigInt(b);
  }
  return { img: { smallestNeverUsed: BigInt(n), freelistHead: head, diskoffs: BigInt64Array.from(diskoffs), sizes: BigInt64Array.from(sizes) }, diskoffs, sizes };
}

describe('Translation in typed arrays', () => {
  it('Property: encoding matches the hi/lo u64 byte writer and decodes back, with offsets above 2^32', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1 << 20 }), { maxLength: 40 }), fc.integer({ min: 0, max: 20 }), fc.bigInt({ min: 0n, max: 1n << 40n }), (lens, free, base) => {
        // Blocks laid out one after another from a 4096-aligned base that may exceed 2^32.
        let at = 8192n + base * 4096n;
        const blocks: Array<[bigint, bigint]> = lens.map((l) => {
          const b: [bigint, bigint] = [at, BigInt(l)];
          at += ((BigInt(l) + 4095n) / 4096n) * 4096n;
          return b;
        });
        const location = at;
        const { img, diskoffs, sizes } = image(location, blocks, free);
        const bytes = encodeTranslationImage(img);
        expect(bytes).toEqual(referenceEncoding(img.smallestNeverUsed, img.freelistHead, diskoffs, sizes));
        const back = decodeTranslationImage(bytes, { file: 'p', location, size: BigInt(bytes.length) });
        expect([...back.diskoffs]).toEqual(diskoffs);
        expect([...back.sizes]).toEqual(sizes);
        expect(back.freelistHead).toBe(img.freelistHead);
      }),
      { numRuns: 60 },
    );
  });

  it('Scenario: a diskoff beyond 2^53 with no file size given is a bad-btt error naming the exact value', () => {
    const huge = (1n << 60n) + 4096n;
    const location = 8192n;
    const { img } = image(location, [[huge, 512n]], 0);
    const bytes = encodeTranslationImage(img);
    let err: unknown;
    try {
      decodeTranslationImage(bytes, { file: 'h', location, size: BigInt(bytes.length) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).message).toContain('entry 3 points past the end of the file');
    expect(String((err as TokusimError).where.actual)).toBe(`${huge} + 512 = ${huge + 512n}`);
  });

  it('Scenario: resize grows by keeping every entry and adding FREE ones, and shrinks back', () => {
    const t = Translation.fresh('current');
    t.smallestNeverUsed = 3;
    t.resize(6);
    expect(t.lengthOfArray).toBe(6);
    expect([0, 1, 2].map((b) => t.entry(b))).toEqual([0, 1, 2].map(() => ({ diskoff: -2n, size: 0n })));
    expect([3, 4, 5].map((b) => t.isFree(b))).toEqual([true, true, true]);
    t.smallestNeverUsed = 5;
    t.set(3, 8192n, 512n);
    t.set(4, -2n, 0n);
    expect([t.hasBlock(3), t.isAllocatedEmpty(4), t.isFree(3)]).toEqual([true, true, false]);
    t.checkWellFormed();
    t.resize(5);
    expect(t.lengthOfArray).toBe(5);
    expect(t.entry(3)).toEqual({ diskoff: 8192n, size: 512n });
    expect(() => t.resize(4)).toThrow(/keeps the 5 entries/);
  });

  it('Property: the allocator rebuilt from typed arrays equals the one rebuilt from block pairs', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()), { maxLength: 60 }), (specs) => {
        const a = BlockAllocator.create();
        const kept = specs.map(([s, keep]) => ({ offset: a.allocBlock(BigInt(s)), size: BigInt(s), keep }));
        const live = kept.filter((b) => b.keep).reverse();
        const offsets = Float64Array.from(live.map((b) => Number(b.offset)));
        const sizes = Float64Array.from(live.map((b) => Number(b.size)));
        const fromArrays = BlockAllocator.fromBlockArrays(offsets, sizes, live.length);
        const fromPairs = BlockAllocator.fromBlocks(live);
        fromArrays.checkInvariants();
        expect(fromArrays.blockList()).toEqual(fromPairs.blockList());
        expect(fromArrays.holeList()).toEqual(fromPairs.holeList());
        expect(fromArrays.nBytesInUse).toBe(fromPairs.nBytesInUse);
        expect(fromArrays.allocBlock(4096n)).toBe(fromPairs.allocBlock(4096n));
      }),
      { numRuns: 60 },
    );
  });
});
