import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blockCuts, ContentHash, segmentedSha256, sha256Hex, sha256OfDigests } from '../../src/backup/hash.js';
import { HashWorkers } from '../../src/backup/hash-workers.js';

/** The definition in docs/backup.md, with BigInt: sum mod 2^256 of sha256(len(iname) len(key) iname key value). */
function reference(rows: Array<[string, Uint8Array, Uint8Array]>): string {
  let sum = 0n;
  for (const [iname, key, value] of rows) {
    const name = new TextEncoder().encode(iname);
    const len = new Uint8Array(8);
    new DataView(len.buffer).setUint32(0, name.length, true);
    new DataView(len.buffer).setUint32(4, key.length, true);
    const h = createHash('sha256').update(len).update(name).update(key).update(value).digest('hex');
    sum = (sum + BigInt('0x' + h)) % (1n << 256n);
  }
  return sum.toString(16).padStart(64, '0');
}

describe('backup: content hash', () => {
  // Property: the limb arithmetic equals the BigInt definition, carries across all limbs included, in any order of rows.
  it('Scenario: matches the BigInt definition and ignores row order', () => {
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) & 0xff);
    const rows: Array<[string, Uint8Array, Uint8Array]> = Array.from({ length: 500 }, (_, i) => [i % 3 === 0 ? 'a.tokudb' : 'bb.tokudb', Uint8Array.from({ length: 1 + (i % 17) }, rnd), Uint8Array.from({ length: i % 40 }, rnd)]);
    const h = new ContentHash();
    for (const r of rows) h.add(...r);
    expect(h.hex()).toBe(reference(rows));
    expect(h.rows).toBe(500n);
    const back = new ContentHash();
    for (const r of [...rows].reverse()) back.add(...r);
    expect(back.hex()).toBe(h.hex());
    expect(new ContentHash().hex()).toBe('0'.repeat(64));
  });
});

describe('backup: block-segmented part digests', () => {
  // Scenario: the worker threads' digest is segmentedSha256's, segment for segment; a segment that is a whole block has the block's own sha256, and equal digests need equal bytes.
  it('Scenario: worker and main-thread digests agree; whole-block segments carry the block sha256', async () => {
    const bytes = new Uint8Array(1 << 16);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 9)) & 0xff;
    const offset = 8192;
    const blocks = [{ diskoff: 8192, size: 4096 }, { diskoff: 12288, size: 10_000 }, { diskoff: 30_000, size: 60_000 }, { diskoff: 4096, size: 4096 }];
    const cuts = blockCuts(blocks);
    const seen: Array<[number, number, string]> = [];
    const main = segmentedSha256(bytes, offset, cuts, (s, e, d) => void seen.push([s, e, d.toString('hex')]));
    // Whole blocks inside the part: their segment's digest is the block's sha256.
    expect(seen.find((x) => x[0] === 12288)).toEqual([12288, 22288, sha256Hex(bytes.subarray(12288 - offset, 22288 - offset))]);
    // The outer digest is the sha256 of the segments' digests in order.
    expect(main).toBe(sha256OfDigests(seen.map((x) => x[2])));
    expect(seen.map((x) => x[0])).toEqual([8192, 12288, 22288, 30000]);
    const pool = new HashWorkers(2);
    try {
      const copy = new Uint8Array(bytes);
      const r = await pool.segmented(copy, offset, cuts);
      expect(r.sha256).toBe(main);
      expect(r.segments).toEqual(seen);
      expect(r.bytes).toEqual(bytes);
    } finally {
      await pool.close();
    }
    // One changed byte changes the digest, whatever the cuts.
    const other = bytes.slice();
    other[100] ^= 1;
    expect(segmentedSha256(other, offset, cuts)).not.toBe(main);
    expect(segmentedSha256(bytes, offset, [])).toBe(sha256OfDigests([sha256Hex(bytes)]));
  });
});
