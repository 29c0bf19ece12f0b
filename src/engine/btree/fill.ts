/**
 * Node size policy: when a node is too full (split it), too empty (merge or borrow), and how
 * to split and merge. Pure functions over node objects; no pins.
 *
 * Two modes, chosen by BtreeOptions:
 *  - entries mode (maxNodeBytes unset): a node holds at most maxEntries entries (keys in a
 *    leaf, children in an internal node) and, unless it is the root, at least
 *    floor(maxEntries / 2). This is the classic B+tree bound and always holds.
 *  - bytes mode (maxNodeBytes set): additionally a node's encoded size is at most maxNodeBytes,
 *    except a node that cannot be split (a leaf with one entry, an internal node with fewer
 *    than four children). The strict lower bound is only "a non-root leaf has a key, an
 *    internal node has two children"; a node below a quarter of maxNodeBytes is merged with a
 *    neighbour when the merged node fits (lazy rebalancing).
 *
 * Invariants:
 *  - splitToFit returns parts that are each not overfull, with separators strictly between
 *    their key ranges; each part is non-empty (and an internal part has >= 2 children).
 *  - A merge is only done when the merged node is not overfull; a borrow only when the giver
 *    keeps at least the minimum.
 */
import { invariant, TokusimError } from '../../base/errors.js';
import { type BtreeNode, entryCount, type InternalNode, type LeafNode, newInternal, newLeaf } from './node.js';
import { encodedNodeSize } from './node-codec.js';

/** Options for a {@link Btree}: how many entries and bytes a node may hold. */
export interface BtreeOptions {
  /** Most entries (leaf keys, internal children) per node; >= 4. Default 64. */
  maxEntries?: number;
  /** Most encoded bytes per node (bytes mode); unset means entries mode. */
  maxNodeBytes?: number;
}

/** Decides when a B+tree node is too full (split) or too empty (merge). */
export class FillPolicy {
  /** Most entries a node may hold. */
  readonly maxEntries: number;
  /** Most encoded bytes a node may take, or undefined for no byte limit. */
  readonly maxNodeBytes: number | undefined;

  /** The policy for the node limits in options (defaults as in {@link BtreeOptions}). */
  constructor(options: BtreeOptions = {}) {
    const maxEntries = options.maxEntries ?? 64;
    if (!Number.isInteger(maxEntries) || maxEntries < 4) {
      throw new TokusimError('bad-argument', 'btree maxEntries must be an integer >= 4', {
        expected: '>= 4',
        actual: String(maxEntries),
      });
    }
    const maxNodeBytes = options.maxNodeBytes;
    if (maxNodeBytes !== undefined && (!Number.isInteger(maxNodeBytes) || maxNodeBytes < 64)) {
      throw new TokusimError('bad-argument', 'btree maxNodeBytes must be an integer >= 64', {
        expected: '>= 64',
        actual: String(maxNodeBytes),
      });
    }
    this.maxEntries = maxEntries;
    this.maxNodeBytes = maxNodeBytes;
  }

  /** Smallest entry count a non-root node may have. */
  minEntries(node: BtreeNode): number {
    const floor = node.kind === 'leaf' ? 1 : 2;
    return this.maxNodeBytes === undefined ? Math.max(floor, Math.floor(this.maxEntries / 2)) : floor;
  }

  /** True when the node has enough entries to be split in two. */
  splittable(node: BtreeNode): boolean {
    return node.kind === 'leaf' ? node.keys.length >= 2 : node.children.length >= 4;
  }

  /** True when the node holds more entries, or (when a byte limit is set) more encoded bytes, than allowed. */
  isOverfull(node: BtreeNode): boolean {
    if (entryCount(node) > this.maxEntries) return true;
    return this.maxNodeBytes !== undefined && this.splittable(node) && encodedNodeSize(node) > this.maxNodeBytes;
  }

  /** Below the strict lower bound (must be fixed for a non-root node). */
  isHardUnderfull(node: BtreeNode): boolean {
    return entryCount(node) < this.minEntries(node);
  }

  /** Below a quarter of the byte budget (merged opportunistically, bytes mode only). */
  isSoftUnderfull(node: BtreeNode): boolean {
    return this.maxNodeBytes !== undefined && encodedNodeSize(node) * 4 < this.maxNodeBytes;
  }

  /** May `giver` lose one entry and stay within the lower bound? */
  canLend(giver: BtreeNode): boolean {
    return entryCount(giver) > this.minEntries(giver);
  }

  /** Split an overfull node into parts that all fit, with the separators between them. */
  splitToFit(node: BtreeNode): { parts: BtreeNode[]; seps: Uint8Array[] } {
    if (!this.isOverfull(node)) return { parts: [node], seps: [] };
    invariant(this.splittable(node), 'an overfull node must be splittable');
    const [left, sep, right] = this.splitOnce(node);
    const a = this.splitToFit(left);
    const b = this.splitToFit(right);
    return { parts: [...a.parts, ...b.parts], seps: [...a.seps, sep, ...b.seps] };
  }

  private splitOnce(node: BtreeNode): [BtreeNode, Uint8Array, BtreeNode] {
    if (node.kind === 'leaf') {
      const n = node.keys.length;
      const m = this.splitPoint(n, 1, (i) => 8 + node.keys[i]!.length + node.values[i]!.length);
      const right = newLeaf(node.keys.slice(m), node.values.slice(m));
      return [newLeaf(node.keys.slice(0, m), node.values.slice(0, m)), right.keys[0]!, right];
    }
    const c = node.children.length;
    // Entry i stands for child i and the pivot before it.
    const m = this.splitPoint(c, 2, (i) => 8 + (i > 0 ? 4 + node.pivots[i - 1]!.length : 0));
    const left = newInternal(node.height, node.pivots.slice(0, m - 1), node.children.slice(0, m));
    const right = newInternal(node.height, node.pivots.slice(m), node.children.slice(m));
    return [left, node.pivots[m - 1]!, right];
  }

  /**
   * Where to cut n entries: the middle by count in entries mode, the middle by bytes in bytes
   * mode; each side keeps at least `least` entries.
   */
  private splitPoint(n: number, least: number, sizeOf: (i: number) => number): number {
    let m: number;
    if (this.maxNodeBytes === undefined) {
      m = Math.floor(n / 2);
    } else {
      let total = 0;
      for (let i = 0; i < n; i++) total += sizeOf(i);
      let acc = 0;
      m = 0;
      while (m < n && acc + sizeOf(m) <= total / 2) acc += sizeOf(m++);
    }
    return Math.min(Math.max(m, least), n - least);
  }

  /** The node that merging left, the separator between them, and right would give. */
  merged(left: BtreeNode, sep: Uint8Array, right: BtreeNode): BtreeNode {
    if (left.kind === 'leaf') {
      const r = right as LeafNode;
      return newLeaf([...left.keys, ...r.keys], [...left.values, ...r.values]);
    }
    const r = right as InternalNode;
    invariant(r.kind === 'internal' && r.height === left.height, 'merge of nodes at different heights');
    return newInternal(left.height, [...left.pivots, sep, ...r.pivots], [...left.children, ...r.children]);
  }
}

/** Overwrite target's contents with source's (same kind), keeping the target object. */
export function assignNode(target: BtreeNode, source: BtreeNode): void {
  invariant(target.kind === source.kind, 'assignNode across node kinds');
  if (target.kind === 'leaf' && source.kind === 'leaf') {
    target.keys = source.keys;
    target.values = source.values;
  } else if (target.kind === 'internal' && source.kind === 'internal') {
    target.height = source.height;
    target.pivots = source.pivots;
    target.children = source.children;
  }
}
