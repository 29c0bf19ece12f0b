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

const MOD = 1n << 256n;
const enc = new TextEncoder();

/** A multiset hash of rows: add() in any order gives the same digest. */
export class ContentHash {
  private sum = 0n;
  rows = 0n;

  add(iname: string, key: Uint8Array, value: Uint8Array): void {
    const h = createHash('sha256');
    const name = enc.encode(iname);
    const len = new Uint8Array(8);
    const dv = new DataView(len.buffer);
    dv.setUint32(0, name.length, true);
    dv.setUint32(4, key.length, true);
    h.update(len);
    h.update(name);
    h.update(key);
    h.update(value);
    this.sum = (this.sum + BigInt('0x' + h.digest('hex'))) % MOD;
    this.rows++;
  }

  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}
