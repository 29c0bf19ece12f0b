/**
 * B+tree node objects and the key order.
 *
 * A leaf holds sorted (key, value) pairs. An internal node holds n children and n-1 pivots;
 * child i holds exactly the keys k with pivots[i-1] <= k < pivots[i] (a missing pivot is an
 * open bound). Keys are ordered as PerconaFT's default comparator orders them: memcmp over the
 * common prefix, then the shorter key first.
 *
 * Invariants (checked by checkNodeShape, by the codec on encode and decode, and by
 * Btree.check for the whole tree):
 *  - leaf: height 0, keys.length === values.length (packed rows: leaf-rows.ts), keys strictly
 *    increasing.
 *  - internal: height >= 1, children.length >= 1, pivots.length === children.length - 1,
 *    pivots strictly increasing.
 */
import { invariant } from '../../base/errors.js';
import { ArrayRows, compareKeyRange, firstRowOutOfOrder, type LeafRows, PackedRows } from './leaf-rows.js';

/**
 * A leaf of the B+tree: keys in order and their values. A leaf read from disk holds its rows
 * packed (leaf-rows.ts: one buffer, read in place); readers use the {@link LeafRows} methods,
 * which never change that. A writer uses `keys` and `values`, two arrays it may change in
 * place: the first use unpacks the rows into them (one copy of each key and value), and the
 * leaf keeps the arrays from then on.
 */
export class LeafNode implements LeafRows {
  /** Always 'leaf' (tells the node kinds apart). */
  readonly kind = 'leaf';
  /** Always 0: leaves are the lowest level. */
  readonly height = 0;
  private packed: PackedRows | null;
  private keyArray: Uint8Array[];
  private valueArray: Uint8Array[];

  /** A leaf over packed rows, or (rows null) over the two arrays, which it then owns. */
  constructor(rows: PackedRows | null, keys: Uint8Array[] = [], values: Uint8Array[] = []) {
    this.packed = rows;
    this.keyArray = rows === null ? keys : [];
    this.valueArray = rows === null ? values : [];
  }

  /** The keys, in order, as an array a writer may change (unpacks packed rows first). */
  get keys(): Uint8Array[] {
    this.unpack();
    return this.keyArray;
  }

  set keys(keys: Uint8Array[]) {
    this.unpack();
    this.keyArray = keys;
  }

  /** The values, matching `keys` (unpacks packed rows first). */
  get values(): Uint8Array[] {
    this.unpack();
    return this.valueArray;
  }

  set values(values: Uint8Array[]) {
    this.unpack();
    this.valueArray = values;
  }

  /** The packed rows, or null once a writer has unpacked them. */
  get packedRows(): PackedRows | null {
    return this.packed;
  }

  get count(): number {
    return this.packed !== null ? this.packed.count : this.keyArray.length;
  }

  key(i: number): Uint8Array {
    return this.packed !== null ? this.packed.key(i) : this.keyArray[i]!;
  }

  value(i: number): Uint8Array {
    return this.packed !== null ? this.packed.value(i) : this.valueArray[i]!;
  }

  copyKey(i: number): Uint8Array {
    return this.packed !== null ? this.packed.copyKey(i) : this.keyArray[i]!.slice();
  }

  copyValue(i: number): Uint8Array {
    return this.packed !== null ? this.packed.copyValue(i) : this.valueArray[i]!.slice();
  }

  compareKey(i: number, key: Uint8Array): number {
    return this.packed !== null ? this.packed.compareKey(i, key) : compareKeys(this.keyArray[i]!, key);
  }

  /**
   * The rows as they are now, unaffected by later writes to this leaf: the packed rows
   * themselves (never written), or copies of the two arrays.
   */
  snapshot(): LeafRows {
    return this.packed ?? new ArrayRows(this.keyArray.slice(), this.valueArray.slice());
  }

  private unpack(): void {
    const p = this.packed;
    if (p === null) return;
    const keys: Uint8Array[] = new Array<Uint8Array>(p.count);
    const values: Uint8Array[] = new Array<Uint8Array>(p.count);
    for (let i = 0; i < p.count; i++) {
      keys[i] = p.copyKey(i);
      values[i] = p.copyValue(i);
    }
    this.keyArray = keys;
    this.valueArray = values;
    this.packed = null;
  }
}

/**
 * An internal node's payload as read from disk, read in place: `bytes` holds the children
 * (8 bytes each, in the node format's byte order) and then the pivots (a 4-byte length and
 * the key each); `starts[i]` is where pivot i's key starts in `bytes`, and `starts[n - 1]` is
 * the payload's length plus 4, so pivot i ends at `starts[i + 1] - 4`. `children` holds the
 * children's block numbers decoded, so a descent reads one without arithmetic. Never written.
 */
export class PackedPivots {
  /** Packed pivots over bytes, the decoded children and the offset table (n children: n entries each). */
  constructor(
    readonly bytes: Uint8Array,
    private readonly children: BigUint64Array,
    readonly starts: Uint32Array,
  ) {}

  /** Number of children. */
  get childCount(): number {
    return this.starts.length;
  }

  /** Block number of child i. */
  child(i: number): bigint {
    return this.children[i]!;
  }

  /** Pivot i, a view into the packed bytes (never written). */
  pivot(i: number): Uint8Array {
    return this.bytes.subarray(this.starts[i]!, this.starts[i + 1]! - 4);
  }

  /** compareKeys(pivot i, key), in place. */
  comparePivot(i: number, key: Uint8Array): number {
    return compareKeyRange(this.bytes, this.starts[i]!, this.starts[i + 1]! - 4, key);
  }
}

/**
 * An internal node of the B+tree: pivot keys and the block numbers of its children. A node
 * read from disk holds them packed ({@link PackedPivots}), so a cached internal node costs a
 * few objects rather than an array, a Uint8Array and an ArrayBuffer per pivot and a bigint
 * per child; a descent reads it in place (childCount, child, pivot, childIndexFor,
 * pivotLowerBound). A writer uses `pivots` and `children`, arrays it may change in place:
 * the first use unpacks them, and the node keeps the arrays from then on.
 */
export class InternalNode {
  /** Always 'internal' (tells the node kinds apart). */
  readonly kind = 'internal';
  /** Levels above the leaves (>= 1). */
  height: number;
  private packed: PackedPivots | null;
  private pivotArray: Uint8Array[];
  private childArray: bigint[];

  /** A node of the given height over packed pivots, or (packed null) over the two arrays, which it then owns. */
  constructor(height: number, packed: PackedPivots | null, pivots: Uint8Array[] = [], children: bigint[] = []) {
    this.height = height;
    this.packed = packed;
    this.pivotArray = packed === null ? pivots : [];
    this.childArray = packed === null ? children : [];
  }

  /** The pivots, in order, as an array a writer may change (unpacks first). */
  get pivots(): Uint8Array[] {
    this.unpack();
    return this.pivotArray;
  }

  set pivots(pivots: Uint8Array[]) {
    this.unpack();
    this.pivotArray = pivots;
  }

  /** The children's block numbers (unpacks first). */
  get children(): bigint[] {
    this.unpack();
    return this.childArray;
  }

  set children(children: bigint[]) {
    this.unpack();
    this.childArray = children;
  }

  /** The packed pivots, or null once a writer has unpacked them. */
  get packedPivots(): PackedPivots | null {
    return this.packed;
  }

  /** Number of children. */
  get childCount(): number {
    return this.packed !== null ? this.packed.childCount : this.childArray.length;
  }

  /** Block number of child i. */
  child(i: number): bigint {
    return this.packed !== null ? this.packed.child(i) : this.childArray[i]!;
  }

  /** Pivot i (never to be written: packed pivots are views of the node's bytes). */
  pivot(i: number): Uint8Array {
    return this.packed !== null ? this.packed.pivot(i) : this.pivotArray[i]!;
  }

  /** The child whose key range contains key: the number of pivots <= key. */
  childIndexFor(key: Uint8Array): number {
    const p = this.packed;
    if (p === null) return upperBound(this.pivotArray, key);
    let lo = 0;
    let hi = p.childCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p.comparePivot(mid, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The number of pivots < key (the last child that may hold keys < key). */
  pivotLowerBound(key: Uint8Array): number {
    const p = this.packed;
    if (p === null) return lowerBound(this.pivotArray, key);
    let lo = 0;
    let hi = p.childCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p.comparePivot(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private unpack(): void {
    const p = this.packed;
    if (p === null) return;
    const n = p.childCount;
    const children = new Array<bigint>(n);
    const pivots = new Array<Uint8Array>(n - 1);
    for (let i = 0; i < n; i++) children[i] = p.child(i);
    for (let i = 0; i + 1 < n; i++) pivots[i] = p.pivot(i).slice();
    this.childArray = children;
    this.pivotArray = pivots;
    this.packed = null;
  }
}

/** A node of the B+tree: a leaf or an internal node. */
export type BtreeNode = LeafNode | InternalNode;

/** PerconaFT's default key order: bytewise over the common prefix, then shorter first. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** @internal True when two byte arrays have the same length and bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A new leaf node with the given keys and values (in key order). */
export function newLeaf(keys: Uint8Array[] = [], values: Uint8Array[] = []): LeafNode {
  return new LeafNode(null, keys, values);
}

/** A new leaf over packed rows (which it shares: they are never written). */
export function newPackedLeaf(rows: PackedRows): LeafNode {
  return new LeafNode(rows);
}

/** A new internal node of the given height with its pivot keys and child block numbers. */
export function newInternal(height: number, pivots: Uint8Array[], children: bigint[]): InternalNode {
  return new InternalNode(height, null, pivots, children);
}

/** An internal node over packed pivots (which it shares: they are never written). */
export function newPackedInternal(height: number, packed: PackedPivots): InternalNode {
  return new InternalNode(height, packed);
}

/** Number of entries that count against the node's fan-out: keys in a leaf, children otherwise. */
export function entryCount(node: BtreeNode): number {
  return node.kind === 'leaf' ? node.count : node.childCount;
}

/** Index of the first key >= key in a sorted array (keys.length when none). */
export function lowerBound(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first key > key in a sorted array (keys.length when none). */
export function upperBound(keys: readonly Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of an internal node whose key range contains key. */
export function childIndexFor(node: InternalNode, key: Uint8Array): number {
  return node.childIndexFor(key);
}

/** A deep copy (fresh arrays and fresh byte buffers; packed rows, never written, are shared). */
export function cloneNode(node: BtreeNode): BtreeNode {
  if (node.kind === 'leaf') {
    const packed = node.packedRows;
    if (packed !== null) return newPackedLeaf(packed);
    return newLeaf(node.keys.map((k) => k.slice()), node.values.map((v) => v.slice()));
  }
  const packed = node.packedPivots;
  if (packed !== null) return newPackedInternal(node.height, packed);
  return newInternal(node.height, node.pivots.map((p) => p.slice()), node.children.slice());
}

/** The node's contents as plain arrays, whatever a leaf's representation (for comparisons and dumps). */
export function nodeContents(
  node: BtreeNode,
): { kind: 'leaf'; keys: Uint8Array[]; values: Uint8Array[] } | { kind: 'internal'; height: number; pivots: Uint8Array[]; children: bigint[] } {
  if (node.kind === 'internal') {
    const pivots: Uint8Array[] = [];
    const children: bigint[] = [];
    for (let i = 0; i < node.childCount; i++) {
      children.push(node.child(i));
      if (i > 0) pivots.push(node.pivot(i - 1));
    }
    return { kind: 'internal', height: node.height, pivots, children };
  }
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  for (let i = 0; i < node.count; i++) {
    keys.push(node.key(i));
    values.push(node.value(i));
  }
  return { kind: 'leaf', keys, values };
}

/** Check the per-node shape invariants listed above; `where` names the node in the message. */
export function checkNodeShape(node: BtreeNode, where: string): void {
  if (node.kind === 'leaf') {
    invariant(node.height === 0, () => `${where}: leaf height ${node.height}`);
    // Packed rows check their own layout; arrays a writer changed must still pair up.
    if (node.packedRows === null) {
      invariant(
        node.keys.length === node.values.length,
        () => `${where}: ${node.keys.length} keys but ${node.values.length} values`,
      );
    }
    const bad = firstRowOutOfOrder(node);
    invariant(bad < 0, () => `${where}: keys not increasing at ${bad}`);
  } else {
    invariant(Number.isInteger(node.height) && node.height >= 1, () => `${where}: internal height ${node.height}`);
    // Packed pivots were checked in order by the decoder and are never written.
    if (node.packedPivots !== null) {
      invariant(node.childCount >= 1, () => `${where}: internal node without children`);
      return;
    }
    invariant(node.children.length >= 1, () => `${where}: internal node without children`);
    invariant(
      node.pivots.length === node.children.length - 1,
      () => `${where}: ${node.children.length} children but ${node.pivots.length} pivots`,
    );
    for (let i = 1; i < node.pivots.length; i++) {
      invariant(compareKeys(node.pivots[i - 1]!, node.pivots[i]!) < 0, () => `${where}: pivots not increasing at ${i}`);
    }
  }
}

/** Printable form of a key for messages: printable ASCII as is, other bytes as \xHH. */
export function escapeKey(key: Uint8Array, max = 64): string {
  let s = '';
  const n = Math.min(key.length, max);
  for (let i = 0; i < n; i++) {
    const c = key[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c && c !== 0x22) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return key.length > max ? `${s}...(${key.length} bytes)` : s;
}
