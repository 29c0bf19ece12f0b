/**
 * Read access to a leaf's rows, and the packed form a leaf read from disk keeps them in.
 *
 * PackedRows holds every row of a leaf in one byte buffer laid out as the node format lays out
 * leaf entries ([u32 key length][key][u32 value length][value] per row, little-endian), plus a
 * Uint32Array of where each key and each value starts. Keys and values are read in place
 * (compared without copying, copied out only when a reader returns them). Why: a cached leaf
 * is then five JS objects whose bytes live in one array buffer (the codec puts the offsets
 * after the rows), instead of two Uint8Arrays (and their ArrayBuffers) per row. A long scan
 * keeps each cached leaf alive for a while, so V8 promotes many of them to its old generation
 * before they are evicted; promoted garbage is only freed by a full collection, and the old
 * generation fills to a multiple of the live heap before one runs. Few objects per leaf keep
 * that garbage small (docs/engine.md, "Scans and memory").
 *
 * Invariants (the PackedRows constructor checks the first two; firstRowOutOfOrder finds
 * breaks of the last, which the codec and checkNodeShape check):
 *  - starts.length === 2 * count + 1, starts[0] === 4 and starts[2 * count] === bytes.length + 4;
 *    key i is bytes[starts[2i], starts[2i+1] - 4) and value i is bytes[starts[2i+1], starts[2i+2] - 4);
 *  - the u32 length field just before each key and value equals that key's or value's length;
 *  - the buffer and the offsets are never written after construction, so a node, its clones
 *    and a cursor's snapshot may share one PackedRows;
 *  - keys are strictly increasing in compareKeys order.
 */
import { readU32At } from '../../base/bytes.js';
import { invariant } from '../../base/errors.js';

/** The rows of one leaf in key order, read-only. Views returned must not be modified. */
export interface LeafRows {
  /** Number of rows. */
  readonly count: number;
  /** Key i as a view (no copy); valid as long as these rows are. */
  key(i: number): Uint8Array;
  /** Value i as a view (no copy). */
  value(i: number): Uint8Array;
  /** A copy of key i that the caller owns. */
  copyKey(i: number): Uint8Array;
  /** A copy of value i that the caller owns. */
  copyValue(i: number): Uint8Array;
  /** compareKeys(key i, key), without copying key i. */
  compareKey(i: number, key: Uint8Array): number;
}

/** compareKeys over a[aStart, aEnd) and b, in place. */
export function compareKeyRange(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array): number {
  const aLen = aEnd - aStart;
  const n = aLen < b.length ? aLen : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return aLen === b.length ? 0 : aLen < b.length ? -1 : 1;
}

/** compareKeys over two ranges of one buffer, in place. */
export function compareRanges(buf: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = buf[aStart + i]! - buf[bStart + i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return aLen === bLen ? 0 : aLen < bLen ? -1 : 1;
}

/** A leaf's rows in one buffer plus an offset table (see the invariants at the top). */
export class PackedRows implements LeafRows {
  readonly count: number;

  /**
   * Rows over `bytes` (which the PackedRows then owns: nobody may write to it) with the key
   * and value starts described at the top of this file; throws an InvariantError when they
   * do not describe the buffer.
   */
  constructor(
    /** The rows as the node format lays them out, nothing before or after. */
    readonly bytes: Uint8Array,
    private readonly starts: Uint32Array,
  ) {
    invariant(starts.length % 2 === 1, () => `packed rows: ${starts.length} offsets, expected an odd number`);
    this.count = (starts.length - 1) / 2;
    invariant(starts[0] === 4, () => `packed rows: first field starts at ${starts[0]}, expected 4`);
    invariant(
      starts[starts.length - 1] === bytes.length + 4,
      () => `packed rows: offsets end at ${starts[starts.length - 1]}, expected ${bytes.length + 4}`,
    );
    for (let j = 0; j + 1 < starts.length; j++) {
      const len = starts[j + 1]! - 4 - starts[j]!;
      invariant(len >= 0 && readU32At(bytes, starts[j]! - 4) === len, () => `packed rows: field ${j} length does not match its offsets`);
    }
  }

  key(i: number): Uint8Array {
    return this.bytes.subarray(this.starts[2 * i]!, this.starts[2 * i + 1]! - 4);
  }

  value(i: number): Uint8Array {
    return this.bytes.subarray(this.starts[2 * i + 1]!, this.starts[2 * i + 2]! - 4);
  }

  copyKey(i: number): Uint8Array {
    return this.bytes.slice(this.starts[2 * i]!, this.starts[2 * i + 1]! - 4);
  }

  copyValue(i: number): Uint8Array {
    return this.bytes.slice(this.starts[2 * i + 1]!, this.starts[2 * i + 2]! - 4);
  }

  compareKey(i: number, key: Uint8Array): number {
    return compareKeyRange(this.bytes, this.starts[2 * i]!, this.starts[2 * i + 1]! - 4, key);
  }
}

/** Rows held as two arrays (a snapshot of a leaf that a writer has unpacked). */
export class ArrayRows implements LeafRows {
  /** Rows over the two arrays, which must not change afterwards (pass copies). */
  constructor(
    private readonly keys: readonly Uint8Array[],
    private readonly values: readonly Uint8Array[],
  ) {
    invariant(keys.length === values.length, () => `array rows: ${keys.length} keys but ${values.length} values`);
  }

  get count(): number {
    return this.keys.length;
  }

  key(i: number): Uint8Array {
    return this.keys[i]!;
  }

  value(i: number): Uint8Array {
    return this.values[i]!;
  }

  copyKey(i: number): Uint8Array {
    return this.keys[i]!.slice();
  }

  copyValue(i: number): Uint8Array {
    return this.values[i]!.slice();
  }

  compareKey(i: number, key: Uint8Array): number {
    const k = this.keys[i]!;
    return compareKeyRange(k, 0, k.length, key);
  }
}

/** Pack rows given as arrays (for tests and tools; a decoded leaf is packed by the codec). */
export function packRows(keys: readonly Uint8Array[], values: readonly Uint8Array[]): PackedRows {
  invariant(keys.length === values.length, () => `packRows: ${keys.length} keys but ${values.length} values`);
  let size = 0;
  for (let i = 0; i < keys.length; i++) size += 8 + keys[i]!.length + values[i]!.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const starts = new Uint32Array(2 * keys.length + 1);
  let at = 0;
  const put = (field: Uint8Array, j: number): void => {
    view.setUint32(at, field.length, true);
    bytes.set(field, at + 4);
    starts[j] = at + 4;
    at += 4 + field.length;
  };
  for (let i = 0; i < keys.length; i++) {
    put(keys[i]!, 2 * i);
    put(values[i]!, 2 * i + 1);
  }
  starts[2 * keys.length] = at + 4;
  return new PackedRows(bytes, starts);
}

/** Index of the first row whose key is >= key (rows.count when none). */
export function rowsLowerBound(rows: LeafRows, key: Uint8Array): number {
  let lo = 0;
  let hi = rows.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows.compareKey(mid, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first row whose key is > key (rows.count when none). */
export function rowsUpperBound(rows: LeafRows, key: Uint8Array): number {
  let lo = 0;
  let hi = rows.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows.compareKey(mid, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first row at or after `from` whose key is not above the row before it, or -1. */
export function firstRowOutOfOrder(rows: LeafRows, from = 1): number {
  for (let i = Math.max(from, 1); i < rows.count; i++) if (rows.compareKey(i, rows.key(i - 1)) <= 0) return i;
  return -1;
}
