/**
 * sha256 for backups (node:crypto) and the order-independent content hash of a set of rows:
 * the sum modulo 2^256 of sha256(len(iname) iname len(key) key value) over the rows, so rows
 * can be added in any order (blocks stream by in file order, not key order).
 */
import { createHash } from 'node:crypto';

export function sha256Hex(...chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

export function newSha256(): { update(b: Uint8Array): void; hex(): string } {
  const h = createHash('sha256');
  return {
    update: (b) => void h.update(b),
    hex: () => h.digest('hex'),
  };
}

const enc = new TextEncoder();

/** A multiset hash of rows: add() in any order gives the same digest. */
export class ContentHash {
  /** The sum modulo 2^256 as 8 little-endian 32-bit limbs (limb 0 least significant). */
  private readonly limbs = new Uint32Array(8);
  private readonly len = new Uint8Array(8);
  private readonly lenView = new DataView(this.len.buffer);
  private lastName = '';
  private lastNameBytes = new Uint8Array(0);
  rows = 0n;

  add(iname: string, key: Uint8Array, value: Uint8Array): void {
    if (iname !== this.lastName) {
      this.lastName = iname;
      this.lastNameBytes = enc.encode(iname);
    }
    const h = createHash('sha256');
    this.lenView.setUint32(0, this.lastNameBytes.length, true);
    this.lenView.setUint32(4, key.length, true);
    h.update(this.len);
    h.update(this.lastNameBytes);
    h.update(key);
    h.update(value);
    const d = h.digest();
    // d is big-endian: its last 4 bytes are limb 0.
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const o = 28 - 4 * i;
      const word = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
      const sum = this.limbs[i]! + word + carry;
      this.limbs[i] = sum >>> 0;
      carry = sum > 0xffff_ffff ? 1 : 0;
    }
    this.rows++;
  }

  hex(): string {
    let out = '';
    for (let i = 7; i >= 0; i--) out += this.limbs[i]!.toString(16).padStart(8, '0');
    return out;
  }
}

/** The cut points of a dictionary file: every block's start and end, sorted, without repeats. */
export function blockCuts(blocks: ReadonlyArray<{ diskoff: number; size: number }>): number[] {
  const s = new Set<number>();
  for (const b of blocks) {
    s.add(b.diskoff);
    s.add(b.diskoff + b.size);
  }
  return [...s].sort((a, b) => a - b);
}

/** Index of the first cut greater than x. */
function firstCutAfter(cuts: readonly number[], x: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cuts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The block-segmented sha256 of a dictionary file's part (docs/backup.md "Manifest"): the
 * part's bytes (at `offset` in the file) are cut at every cut point inside them, each segment
 * is hashed, and the digest is the sha256 of the segments' sha256 digests in order. A segment
 * that is a whole block has exactly the block's sha256, so one pass over the bytes gives both
 * the part's and the blocks' digests (onSegment sees each segment's). Equal digests mean equal
 * bytes whatever the cuts: the list of 32-byte digests determines every segment.
 */
export function segmentedSha256(bytes: Uint8Array, offset: number, cuts: readonly number[], onSegment?: (start: number, end: number, digest: Buffer) => void): string {
  const outer = createHash('sha256');
  const end = offset + bytes.length;
  let at = offset;
  let i = firstCutAfter(cuts, offset);
  while (at < end) {
    const next = i < cuts.length && cuts[i]! < end ? cuts[i]! : end;
    const d = createHash('sha256').update(bytes.subarray(at - offset, next - offset)).digest();
    outer.update(d);
    onSegment?.(at, next, d);
    at = next;
    i++;
  }
  return outer.digest('hex');
}

/** sha256 of the concatenated binary digests given as hex (a file's digest from its parts'). */
export function sha256OfDigests(hexDigests: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of hexDigests) h.update(Buffer.from(x, 'hex'));
  return h.digest('hex');
}
