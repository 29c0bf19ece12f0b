import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContentHash } from '../../src/backup/hash.js';

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
