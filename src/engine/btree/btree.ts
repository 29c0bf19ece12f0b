/**
 * An async B+tree over a NodeStore. Keys and values are byte strings; keys are ordered by
 * compareKeys (PerconaFT's default comparator). Node size policy is in fill.ts.
 *
 * Concurrency: one readers-writer latch per tree (latch.ts). Readers (get, cursor steps,
 * check, stats) share it and pin nodes for 'read' hand over hand from the root down; writers
 * (put, insertIfAbsent, delete) hold it exclusively and pin the whole root-to-leaf path for
 * 'write' (plus any sibling they merge with or borrow from), so a split or merge can change
 * parents without re-reading them. Pins are taken top-down, left before right, and no latch
 * or pin is held while caller code runs, so callers cannot deadlock the tree. The simplicity
 * costs concurrency between writers; correctness comes first here.
 *
 * Invariants (Btree.check verifies all of them):
 *  - every node passes checkNodeShape; every key in child i of a node lies in
 *    [pivots[i-1], pivots[i]) and within the node's own range;
 *  - all leaves are at height 0 and every child is exactly one lower than its parent;
 *  - fill bounds of fill.ts; the root is a leaf (maybe empty) or has >= 2 children;
 *  - every reachable blocknum is reached once, and the store holds no unreachable node;
 *  - a writer unpins a node dirty exactly when it changed it; every pin is released.
 */
import { invariant } from '../../base/errors.js';
import { AsyncRwLatch } from './latch.js';
import { assignNode, type BtreeOptions, FillPolicy } from './fill.js';
import {
  type BtreeNode,
  bytesEqual,
  checkNodeShape,
  childIndexFor,
  compareKeys,
  entryCount,
  escapeKey,
  type InternalNode,
  type LeafNode,
  lowerBound,
  newInternal,
  newLeaf,
} from './node.js';
import { type LeafRows, rowsLowerBound, rowsUpperBound } from './leaf-rows.js';
import { encodedNodeSize } from './node-codec.js';
import type { NodeStore, Pinned } from './node-store.js';

export type { BtreeOptions } from './fill.js';

/** One key/value entry of a B+tree. */
export interface BtreeEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** Shape counters of a {@link Btree}. */
export interface BtreeStats {
  /** Levels: 0 for an empty tree, 1 for a lone leaf root. */
  height: number;
  nodes: number;
  leaves: number;
  internalNodes: number;
  entries: number;
  keyBytes: number;
  valueBytes: number;
  /** Sum of encoded node sizes. */
  encodedBytes: number;
  /** Smallest and largest entry count among non-root nodes (0 when there are none). */
  minFill: number;
  maxFill: number;
}

/** The leaf a descent reached: its rows as they were then and the key range [lo, hi) it covers. */
export interface LeafSnapshot {
  rows: LeafRows;
  lo: Uint8Array | null;
  hi: Uint8Array | null;
}

type Pick = 'containing' | 'below' | 'first' | 'last';

const CLEAN_UNPIN = Object.freeze({ dirty: false });
const SCAN_UNPIN = Object.freeze({ dirty: false, scan: true });

/** State of one write: the pinned path and what it changed. */
interface WriteState {
  path: Pinned[];
  /** idx[i] is the child index in path[i-1] that leads to path[i] (idx[0] unused). */
  idx: number[];
  extra: Pinned[];
  dirty: Set<Pinned>;
  removed: Set<Pinned>;
  /** Shallow copies of each write-pinned node's arrays as pinned (absent for created nodes). */
  images: Map<Pinned, unknown[][]>;
}

/** The arrays that make up a node; entries are never mutated in place, only replaced. */
function nodeImage(node: BtreeNode): unknown[][] {
  return node.kind === 'leaf' ? [node.keys.slice(), node.values.slice()] : [[node.height], node.pivots.slice(), node.children.slice()];
}

/** Did the node change since its image was taken? (A split can give back identical contents.) */
function changedSince(node: BtreeNode, image: unknown[][]): boolean {
  const now = nodeImage(node);
  if (now.length !== image.length) return true;
  for (let a = 0; a < now.length; a++) {
    const x = now[a]!;
    const y = image[a]!;
    if (x.length !== y.length) return true;
    for (let i = 0; i < x.length; i++) {
      const u = x[i];
      const v = y[i];
      if (u === v) continue;
      if (u instanceof Uint8Array && v instanceof Uint8Array && bytesEqual(u, v)) continue;
      return true;
    }
  }
  return false;
}

/** A B+tree of byte keys and values over a {@link NodeStore}. */
export class Btree {
  /** When nodes split and merge. */
  readonly policy: FillPolicy;
  private readonly latch = new AsyncRwLatch();
  private modCount = 0;

  /** A tree over the given node store with the given fill options. */
  constructor(
    readonly store: NodeStore,
    options: BtreeOptions = {},
  ) {
    this.policy = new FillPolicy(options);
  }

  /** Bumped by every write before it changes anything; cursors use it to notice changes. */
  get version(): number {
    return this.modCount;
  }

  // ---------------------------------------------------------------- reads

  /** The value stored under key, or undefined. */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.latch.read(async () => {
      const found = await this.descend(key, 'containing', (leaf) => {
        const i = rowsLowerBound(leaf, key);
        return i < leaf.count && leaf.compareKey(i, key) === 0 ? leaf.copyValue(i) : undefined;
      });
      return found?.result;
    });
  }

  /**
   * The first entry with key > x (strict) or >= x; x null means the first entry. Returns the
   * leaf snapshot and index, or null when there is none. Takes the read latch.
   */
  async firstFrom(x: Uint8Array | null, strict: boolean): Promise<{ snap: LeafSnapshot; i: number } | null> {
    return this.latch.read(async () => {
      let bound = x;
      let strictNow = strict;
      for (;;) {
        const snap = await this.descendForSnapshot(bound, bound === null ? 'first' : 'containing');
        if (snap === null) return null;
        const i = bound === null ? 0 : strictNow ? rowsUpperBound(snap.rows, bound) : rowsLowerBound(snap.rows, bound);
        if (i < snap.rows.count) return { snap, i };
        if (snap.hi === null) return null;
        bound = snap.hi;
        strictNow = false;
      }
    });
  }

  /** The last entry with key < x (strict) or <= x; x null means the last entry. */
  async lastFrom(x: Uint8Array | null, strict: boolean): Promise<{ snap: LeafSnapshot; i: number } | null> {
    return this.latch.read(async () => {
      let bound = x;
      let strictNow = strict;
      for (;;) {
        const pick: Pick = bound === null ? 'last' : strictNow ? 'below' : 'containing';
        const snap = await this.descendForSnapshot(bound, pick);
        if (snap === null) return null;
        const i =
          bound === null
            ? snap.rows.count - 1
            : strictNow
              ? rowsLowerBound(snap.rows, bound) - 1
              : rowsUpperBound(snap.rows, bound) - 1;
        if (i >= 0) return { snap, i };
        if (snap.lo === null) return null;
        bound = snap.lo;
        strictNow = true;
      }
    });
  }

  /** Open a cursor (no pins or latches are held between its calls). */
  cursor(): BtreeCursor {
    return new BtreeCursor(this);
  }

  /** Entries in key order (or reverse) within optional bounds. */
  async *entries(
    opts: { gte?: Uint8Array; gt?: Uint8Array; lte?: Uint8Array; lt?: Uint8Array; reverse?: boolean; limit?: number } = {},
  ): AsyncGenerator<BtreeEntry> {
    const c = this.cursor();
    let left = opts.limit ?? Infinity;
    if (left <= 0) return;
    const inRange = (k: Uint8Array): boolean =>
      (opts.gte === undefined || compareKeys(k, opts.gte) >= 0) &&
      (opts.gt === undefined || compareKeys(k, opts.gt) > 0) &&
      (opts.lte === undefined || compareKeys(k, opts.lte) <= 0) &&
      (opts.lt === undefined || compareKeys(k, opts.lt) < 0);
    let e: BtreeEntry | undefined;
    if (!opts.reverse) {
      e = opts.gt !== undefined ? await c.seekAfter(opts.gt) : opts.gte !== undefined ? await c.seek(opts.gte) : await c.first();
      if (e !== undefined && opts.gt !== undefined && opts.gte !== undefined && compareKeys(e.key, opts.gte) < 0) e = await c.seek(opts.gte);
    } else {
      e = opts.lt !== undefined ? await c.seekBefore(opts.lt) : opts.lte !== undefined ? await c.seekForPrev(opts.lte) : await c.last();
      if (e !== undefined && opts.lt !== undefined && opts.lte !== undefined && compareKeys(e.key, opts.lte) > 0) e = await c.seekForPrev(opts.lte);
    }
    while (e !== undefined && inRange(e.key) && left-- > 0) {
      yield e;
      e = opts.reverse ? await c.prev() : await c.next();
    }
  }

  /**
   * Descend to one leaf (as descend does) and take a snapshot of its rows. The cursor that
   * asked needs nothing more of the leaf, so its unpin says so (NodeStore.unpin's scan).
   */
  private async descendForSnapshot(x: Uint8Array | null, pick: Pick): Promise<LeafSnapshot | null> {
    const found = await this.descend(x, pick, (leaf) => leaf.snapshot(), true);
    return found === null ? null : { rows: found.result, lo: found.lo, hi: found.hi };
  }

  /**
   * Descend from the root to one leaf, pinning for read hand over hand, and run `atLeaf` on it
   * while it is pinned. 'containing' picks the child whose range holds x, 'below' the last
   * child that may hold keys < x. Returns null for an empty tree.
   */
  private async descend<T>(
    x: Uint8Array | null,
    pick: Pick,
    atLeaf: (leaf: LeafNode) => T,
    scan = false,
  ): Promise<{ result: T; lo: Uint8Array | null; hi: Uint8Array | null } | null> {
    const root = this.store.rootBlocknum;
    if (root === null) return null;
    let lo: Uint8Array | null = null;
    let hi: Uint8Array | null = null;
    let p = await this.store.pin(root, 'read');
    try {
      while (p.node.kind === 'internal') {
        const n: InternalNode = p.node;
        // Read in place (InternalNode's packed pivots), so a descent unpacks nothing.
        const i =
          pick === 'first'
            ? 0
            : pick === 'last'
              ? n.childCount - 1
              : pick === 'below'
                ? n.pivotLowerBound(x!)
                : n.childIndexFor(x!);
        if (i > 0) lo = n.pivot(i - 1);
        if (i < n.childCount - 1) hi = n.pivot(i);
        const child = await this.store.pin(n.child(i), 'read');
        await this.store.unpin(p, CLEAN_UNPIN);
        p = child;
      }
      return { result: atLeaf(p.node), lo, hi };
    } finally {
      await this.store.unpin(p, scan && p.node.kind === 'leaf' ? SCAN_UNPIN : CLEAN_UNPIN);
    }
  }

  // ---------------------------------------------------------------- writes

  /** Insert or overwrite. */
  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    const k = key.slice();
    const v = value.slice();
    await this.write(k, (leaf) => {
      const i = lowerBound(leaf.keys, k);
      if (i < leaf.keys.length && compareKeys(leaf.keys[i]!, k) === 0) {
        if (bytesEqual(leaf.values[i]!, v)) return { changed: false, result: undefined };
        leaf.values[i] = v;
      } else {
        leaf.keys.splice(i, 0, k);
        leaf.values.splice(i, 0, v);
      }
      return { changed: true, result: undefined };
    });
  }

  /** Insert only when the key is absent; returns whether it inserted. */
  async insertIfAbsent(key: Uint8Array, value: Uint8Array): Promise<boolean> {
    const k = key.slice();
    const v = value.slice();
    return this.write(k, (leaf) => {
      const i = lowerBound(leaf.keys, k);
      if (i < leaf.keys.length && compareKeys(leaf.keys[i]!, k) === 0) return { changed: false, result: false };
      leaf.keys.splice(i, 0, k);
      leaf.values.splice(i, 0, v);
      return { changed: true, result: true };
    });
  }

  /** Delete a key; returns whether it was present. */
  async delete(key: Uint8Array): Promise<boolean> {
    const k = key.slice();
    return this.write(k, (leaf) => {
      const i = lowerBound(leaf.keys, k);
      if (i >= leaf.keys.length || compareKeys(leaf.keys[i]!, k) !== 0) return { changed: false, result: false };
      leaf.keys.splice(i, 1);
      leaf.values.splice(i, 1);
      return { changed: true, result: true };
    });
  }

  private async write<T>(key: Uint8Array, mutate: (leaf: LeafNode) => { changed: boolean; result: T }): Promise<T> {
    return this.latch.write(async () => {
      this.modCount++;
      const st: WriteState = { path: [], idx: [], extra: [], dirty: new Set(), removed: new Set(), images: new Map() };
      try {
        const root = this.store.rootBlocknum;
        if (root === null) {
          const p = await this.store.create(newLeaf());
          st.path.push(p);
          st.idx.push(-1);
          st.dirty.add(p);
          this.store.rootBlocknum = p.blocknum;
        } else {
          st.path.push(await this.pinForWrite(st, root));
          st.idx.push(-1);
        }
        for (;;) {
          const top = st.path[st.path.length - 1]!.node;
          if (top.kind === 'leaf') break;
          const i = childIndexFor(top, key);
          st.path.push(await this.pinForWrite(st, top.children[i]!));
          st.idx.push(i);
        }
        const leafPin = st.path[st.path.length - 1]!;
        const { changed, result } = mutate(leafPin.node as LeafNode);
        if (changed) {
          st.dirty.add(leafPin);
          await this.fixup(st);
        }
        return result;
      } finally {
        for (const p of [...st.extra, ...st.path].reverse()) {
          if (st.removed.has(p)) continue;
          const image = st.images.get(p);
          const dirty = st.dirty.has(p) && (image === undefined || changedSince(p.node, image));
          await this.store.unpin(p, { dirty });
        }
      }
    });
  }

  /** Restore the fill bounds bottom-up along the written path, then fix the root. */
  private async fixup(st: WriteState): Promise<void> {
    for (let level = st.path.length - 1; level >= 1; level--) {
      const pin = st.path[level]!;
      const parent = st.path[level - 1]!;
      const idx = st.idx[level]!;
      if (st.removed.has(pin)) continue;
      if (this.policy.isOverfull(pin.node)) {
        await this.splitChild(st, parent, idx, pin);
      } else if (this.policy.isHardUnderfull(pin.node) || this.policy.isSoftUnderfull(pin.node)) {
        await this.rebalance(st, parent, idx, pin);
      }
    }
    const rootPin = st.path[0]!;
    if (this.policy.isOverfull(rootPin.node)) {
      const { parts, seps } = this.policy.splitToFit(rootPin.node);
      assignNode(rootPin.node, parts[0]!);
      st.dirty.add(rootPin);
      const children = [rootPin.blocknum];
      for (const part of parts.slice(1)) children.push(await this.createNode(st, part));
      const newRoot = await this.store.create(newInternal(rootPin.node.height + 1, seps, children));
      st.extra.push(newRoot);
      st.dirty.add(newRoot);
      this.store.rootBlocknum = newRoot.blocknum;
    } else if (rootPin.node.kind === 'internal' && rootPin.node.children.length === 1) {
      this.store.rootBlocknum = rootPin.node.children[0]!;
      await this.store.remove(rootPin);
      st.removed.add(rootPin);
    }
  }

  private async pinForWrite(st: WriteState, blocknum: bigint): Promise<Pinned> {
    const p = await this.store.pin(blocknum, 'write');
    st.images.set(p, nodeImage(p.node));
    return p;
  }

  private async createNode(st: WriteState, node: BtreeNode): Promise<bigint> {
    const p = await this.store.create(node);
    st.extra.push(p);
    st.dirty.add(p);
    return p.blocknum;
  }

  private async splitChild(st: WriteState, parent: Pinned, idx: number, pin: Pinned): Promise<void> {
    const pn = parent.node as InternalNode;
    const { parts, seps } = this.policy.splitToFit(pin.node);
    assignNode(pin.node, parts[0]!);
    const blocknums: bigint[] = [];
    for (const part of parts.slice(1)) blocknums.push(await this.createNode(st, part));
    pn.children.splice(idx + 1, 0, ...blocknums);
    pn.pivots.splice(idx, 0, ...seps);
    st.dirty.add(pin);
    st.dirty.add(parent);
  }

  /**
   * Fix an underfull child: merge it with a neighbour (left first) when the merged node fits,
   * otherwise, when it is below the strict bound, borrow one entry from a neighbour.
   */
  private async rebalance(st: WriteState, parent: Pinned, idx: number, pin: Pinned): Promise<void> {
    const pn = parent.node as InternalNode;
    const hard = this.policy.isHardUnderfull(pin.node);
    const neighbours: Pinned[] = [];
    const pinNeighbour = async (i: number): Promise<Pinned> => {
      const p = await this.pinForWrite(st, pn.children[i]!);
      st.extra.push(p);
      neighbours.push(p);
      return p;
    };
    const left = idx > 0 ? await pinNeighbour(idx - 1) : null;
    const right = idx + 1 < pn.children.length ? await pinNeighbour(idx + 1) : null;
    invariant(left !== null || right !== null, () => `non-root node ${pin.blocknum} has no sibling`);

    // Try a merge: (left, pin) then (pin, right). The right node of the pair is freed.
    const pairs: Array<[Pinned, Pinned, number]> = [];
    if (left) pairs.push([left, pin, idx - 1]);
    if (right) pairs.push([pin, right, idx]);
    for (const [l, r, li] of pairs) {
      const merged = this.policy.merged(l.node, pn.pivots[li]!, r.node);
      if (this.policy.isOverfull(merged)) continue;
      assignNode(l.node, merged);
      st.dirty.add(l);
      pn.children.splice(li + 1, 1);
      pn.pivots.splice(li, 1);
      st.dirty.add(parent);
      await this.store.remove(r);
      st.removed.add(r);
      return;
    }
    if (!hard) return;

    // Borrow one entry through the parent.
    const node = pin.node;
    if (left && this.policy.canLend(left.node)) {
      const ln = left.node;
      if (node.kind === 'leaf' && ln.kind === 'leaf') {
        node.keys.unshift(ln.keys.pop()!);
        node.values.unshift(ln.values.pop()!);
        pn.pivots[idx - 1] = node.keys[0]!;
      } else if (node.kind === 'internal' && ln.kind === 'internal') {
        node.children.unshift(ln.children.pop()!);
        node.pivots.unshift(pn.pivots[idx - 1]!);
        pn.pivots[idx - 1] = ln.pivots.pop()!;
      }
      st.dirty.add(left);
    } else if (right && this.policy.canLend(right.node)) {
      const rn = right.node;
      if (node.kind === 'leaf' && rn.kind === 'leaf') {
        node.keys.push(rn.keys.shift()!);
        node.values.push(rn.values.shift()!);
        pn.pivots[idx] = rn.keys[0]!;
      } else if (node.kind === 'internal' && rn.kind === 'internal') {
        node.children.push(rn.children.shift()!);
        node.pivots.push(pn.pivots[idx]!);
        pn.pivots[idx] = rn.pivots.shift()!;
      }
      st.dirty.add(right);
    } else {
      invariant(false, () => `underfull node ${pin.blocknum} can neither merge nor borrow`);
    }
    st.dirty.add(pin);
    st.dirty.add(parent);
  }

  // ---------------------------------------------------------------- checking

  /** Verify every structure invariant listed at the top of this file; returns the stats. */
  async check(): Promise<BtreeStats> {
    return this.latch.read(() => this.walk(true));
  }

  /** Walks the tree and counts its levels, nodes, entries and bytes. */
  async stats(): Promise<BtreeStats> {
    return this.latch.read(() => this.walk(false));
  }

  private async walk(verify: boolean): Promise<BtreeStats> {
    const stats: BtreeStats = {
      height: 0,
      nodes: 0,
      leaves: 0,
      internalNodes: 0,
      entries: 0,
      keyBytes: 0,
      valueBytes: 0,
      encodedBytes: 0,
      minFill: 0,
      maxFill: 0,
    };
    const root = this.store.rootBlocknum;
    const seen = new Set<bigint>();
    let minFill = Infinity;
    let maxFill = 0;
    const visit = async (blocknum: bigint, lo: Uint8Array | null, hi: Uint8Array | null, expectHeight: number | null): Promise<number> => {
      const where = `blocknum ${blocknum}`;
      if (verify) invariant(!seen.has(blocknum), () => `${where} is reachable twice`);
      seen.add(blocknum);
      const p = await this.store.pin(blocknum, 'read');
      try {
        const node = p.node;
        const isRoot = blocknum === root;
        stats.nodes++;
        stats.encodedBytes += encodedNodeSize(node);
        if (!isRoot) {
          minFill = Math.min(minFill, entryCount(node));
          maxFill = Math.max(maxFill, entryCount(node));
        }
        if (verify) {
          checkNodeShape(node, where);
          if (expectHeight !== null) invariant(node.height === expectHeight, () => `${where}: height ${node.height}, expected ${expectHeight}`);
          invariant(!this.policy.isOverfull(node), () => `${where}: overfull (${entryCount(node)} entries, ${encodedNodeSize(node)} bytes)`);
          if (!isRoot) invariant(!this.policy.isHardUnderfull(node), () => `${where}: underfull (${entryCount(node)} entries)`);
          if (isRoot && node.kind === 'internal') invariant(node.childCount >= 2, () => `${where}: internal root with one child`);
          const bounded = node.kind === 'leaf' ? Array.from({ length: node.count }, (_, i) => node.key(i)) : Array.from({ length: node.childCount - 1 }, (_, i) => node.pivot(i));
          for (const k of bounded) {
            invariant(
              (lo === null || compareKeys(lo, k) <= 0) && (hi === null || compareKeys(k, hi) < 0),
              () => `${where}: key ${escapeKey(k)} outside its range [${lo ? escapeKey(lo) : '-inf'}, ${hi ? escapeKey(hi) : '+inf'})`,
            );
            if (node.kind === 'internal') invariant(lo === null || compareKeys(lo, k) < 0, () => `${where}: pivot equals its lower bound`);
          }
        }
        if (node.kind === 'leaf') {
          stats.leaves++;
          stats.entries += node.count;
          for (let i = 0; i < node.count; i++) {
            stats.keyBytes += node.key(i).length;
            stats.valueBytes += node.value(i).length;
          }
          return 1;
        }
        stats.internalNodes++;
        let depth = 0;
        for (let i = 0; i < node.childCount; i++) {
          const clo = i > 0 ? node.pivot(i - 1) : lo;
          const chi = i < node.childCount - 1 ? node.pivot(i) : hi;
          depth = (await visit(node.child(i), clo, chi, node.height - 1)) + 1;
        }
        return depth;
      } finally {
        await this.store.unpin(p, { dirty: false });
      }
    };
    if (root !== null) stats.height = await visit(root, null, null, null);
    if (verify && this.store.allocatedBlocknums) {
      const orphans = [...this.store.allocatedBlocknums()].filter((b) => !seen.has(b));
      invariant(orphans.length === 0, () => `orphan blocknums not reachable from the root: ${orphans.join(', ')}`);
    }
    stats.minFill = minFill === Infinity ? 0 : minFill;
    stats.maxFill = maxFill;
    return stats;
  }
}

/**
 * A cursor over a Btree. Its position is the key it last returned. Between calls it holds no
 * pin and no latch, only a snapshot of the last leaf it read (the leaf's packed rows
 * themselves, which are never written, or copies of its arrays) and the tree version at that
 * time; when the tree has changed since, it re-seeks from its last key, so it never returns a stale
 * row or the same row twice. A step that finds nothing leaves the position unchanged.
 */
export class BtreeCursor {
  /** The leaf copy held; the cursor's position is its row i (null: not placed). */
  private snap: LeafSnapshot | null = null;
  private i = -1;
  private seenVersion = -1;

  /** A cursor over tree, not yet placed; first(), last(), next() and prev() move it. */
  constructor(private readonly tree: Btree) {}

  /** Whether the cursor stands on key (the key it last returned equals key), without copying it. */
  isAt(key: Uint8Array): boolean {
    return this.snap !== null && this.snap.rows.compareKey(this.i, key) === 0;
  }

  /** The entry last returned, if the cursor is positioned. */
  current(): BtreeEntry | undefined {
    if (this.snap === null) return undefined;
    return this.entry();
  }

  /** Moves to the first entry and returns it (undefined for an empty tree). */
  first(): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.firstFrom(null, false), true);
  }

  /** Moves to the last entry and returns it (undefined for an empty tree). */
  last(): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.lastFrom(null, false), true);
  }

  /** Position at the first key >= key. */
  seek(key: Uint8Array): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.firstFrom(key.slice(), false), true);
  }

  /** Position at the first key > key. */
  seekAfter(key: Uint8Array): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.firstFrom(key.slice(), true), true);
  }

  /** Position at the last key <= key. */
  seekForPrev(key: Uint8Array): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.lastFrom(key.slice(), false), true);
  }

  /** Position at the last key < key. */
  seekBefore(key: Uint8Array): Promise<BtreeEntry | undefined> {
    return this.land(this.tree.lastFrom(key.slice(), true), true);
  }

  /** Moves to the next entry and returns it (the first when the cursor is not placed; undefined past the end). */
  async next(): Promise<BtreeEntry | undefined> {
    if (this.snap === null) return this.first();
    const held = this.nextHeld();
    if (held !== undefined) return held;
    // Past the end of an unchanged leaf the next key is the first one >= the leaf's upper
    // bound: descending there directly saves re-reading this leaf only to find it used up.
    if (this.fresh()) return this.snap.hi === null ? undefined : this.land(this.tree.firstFrom(this.snap.hi, false), false);
    return this.land(this.tree.firstFrom(this.position(), true), false);
  }

  /** Moves to the previous entry and returns it (the last when the cursor is not placed; undefined before the start). */
  async prev(): Promise<BtreeEntry | undefined> {
    if (this.snap === null) return this.last();
    const held = this.prevHeld();
    if (held !== undefined) return held;
    if (this.fresh()) return this.snap.lo === null ? undefined : this.land(this.tree.lastFrom(this.snap.lo, true), false);
    return this.land(this.tree.lastFrom(this.position(), true), false);
  }

  /**
   * The next entry when the leaf copy the cursor holds already has it and no write changed
   * the tree since, else undefined (then call next, which descends). Synchronous, so a scan
   * spends no promise on the rows of a leaf it already holds.
   */
  nextHeld(): BtreeEntry | undefined {
    if (!this.fresh() || this.i + 1 >= this.snap!.rows.count) return undefined;
    this.i++;
    return this.entry();
  }

  /** Like nextHeld, in descending order. */
  prevHeld(): BtreeEntry | undefined {
    if (!this.fresh() || this.i - 1 < 0) return undefined;
    this.i--;
    return this.entry();
  }

  private fresh(): boolean {
    return this.snap !== null && this.seenVersion === this.tree.version;
  }

  private async land(
    found: Promise<{ snap: LeafSnapshot; i: number } | null>,
    resetWhenMissing: boolean,
  ): Promise<BtreeEntry | undefined> {
    // Read the version before the search: a write that lands during it makes the copy stale.
    const version = this.tree.version;
    const r = await found;
    if (r === null) {
      if (resetWhenMissing) this.snap = null;
      return undefined;
    }
    this.snap = r.snap;
    this.i = r.i;
    this.seenVersion = version;
    return this.entry();
  }

  /** The key last returned (a view into the rows held). */
  private position(): Uint8Array {
    return this.snap!.rows.key(this.i);
  }

  private entry(): BtreeEntry {
    const rows = this.snap!.rows;
    return { key: rows.copyKey(this.i), value: rows.copyValue(this.i) };
  }
}
