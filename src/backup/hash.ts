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
