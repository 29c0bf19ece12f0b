/**
 * The interface a B+tree uses to reach its nodes, shaped so a cachetable can implement it:
 * a node is named by a bigint blocknum, pinned for 'read' or 'write', and unpinned with a
 * dirty flag; create() allocates a blocknum (pinned for write), remove() frees a write-pinned
 * node. The root blocknum is kept by the owner (the dictionary header) and persisted by it.
 *
 * MemoryNodeStore keeps each node serialized (so every pin runs the codec) and checks pin
 * discipline.
 *
 * Invariants MemoryNodeStore checks (an InvariantError names the blocknum):
 *  - every pin is unpinned (or removed) exactly once; assertNoPins() finds none left over;
 *  - a write pin excludes every other pin of the same node; read pins may be shared;
 *  - a node is modified only under a write pin, marked dirty exactly when its bytes changed;
 *  - only allocated blocknums are pinned; remove() takes a write pin; blocknums are never
 *    handed out twice while allocated.
 */
import { invariant } from '../../base/errors.js';
import { bytesEqual, type BtreeNode } from './node.js';
import { decodeNode, encodeNode } from './node-codec.js';

/** Whether a node is pinned to read it or to change it. */
export type PinMode = 'read' | 'write';

/** A pinned node. The tree mutates `node` in place only when `mode` is 'write'. */
export interface Pinned {
  readonly blocknum: bigint;
  readonly mode: PinMode;
  readonly node: BtreeNode;
}

/** Where the B+tree's nodes live: pin, unpin, create and free by block number. */
export interface NodeStore {
  /** Pin a node and return its decoded object. */
  pin(blocknum: bigint, mode: PinMode): Promise<Pinned>;
  /**
   * Release a pin; dirty says the node was modified under this (write) pin. scan says a
   * cursor took what it needed from the node and moves on: a store that caches nodes may
   * then drop one that it read only for this pin (MemoryNodeStore ignores it).
   */
  unpin(pinned: Pinned, opts: { dirty: boolean; scan?: boolean }): void | Promise<void>;
  /** Allocate a blocknum for a new node; the result is pinned for write and counts as dirty. */
  create(node: BtreeNode): Promise<Pinned>;
  /** Free a write-pinned node; this also releases the pin. */
  remove(pinned: Pinned): void | Promise<void>;
  /** The root's blocknum, or null for a tree with no nodes yet; the owner persists it. */
  rootBlocknum: bigint | null;
  /** Every allocated blocknum, when the store can list them (lets Btree.check find orphans). */
  allocatedBlocknums?(): Iterable<bigint>;
}

interface ActivePin {
  readonly pinned: Pinned;
  /** The node's bytes when it was pinned (for the dirty check). */
  readonly before: Uint8Array | null;
}

/** Options for a {@link MemoryNodeStore}. */
export interface MemoryNodeStoreOptions {
  /** Awaited inside every pin() and create(), so a test scheduler can interleave callers. */
  onIo?: (what: string) => Promise<void>;
  /** Run the pin-discipline checks (default true). */
  checkDiscipline?: boolean;
}

/** An in-memory NodeStore for tests and tools; see the invariants at the top of this file. */
export class MemoryNodeStore implements NodeStore {
  /** The root's block number, or null for a tree with no nodes yet. */
  rootBlocknum: bigint | null = null;
  private readonly blocks = new Map<bigint, Uint8Array>();
  private readonly pins = new Map<bigint, ActivePin[]>();
  private nextBlocknum = 1n;
  private readonly checking: boolean;
  /** Counters for tests: how many pins, writes (dirty unpins and creates) and removes. */
  readonly counters = { pins: 0, writes: 0, removes: 0 };

  /** An empty in-memory node store. */
  constructor(private readonly options: MemoryNodeStoreOptions = {}) {
    this.checking = options.checkDiscipline ?? true;
  }

  async pin(blocknum: bigint, mode: PinMode): Promise<Pinned> {
    if (this.options.onIo) await this.options.onIo(`pin ${blocknum} ${mode}`);
    const bytes = this.blocks.get(blocknum);
    invariant(bytes !== undefined, () => `pin of unallocated blocknum ${blocknum}`);
    const held = this.pins.get(blocknum) ?? [];
    if (this.checking) {
      invariant(
        mode === 'read' ? held.every((p) => p.pinned.mode === 'read') : held.length === 0,
        () => `blocknum ${blocknum}: ${mode} pin conflicts with ${held.map((p) => p.pinned.mode).join(',')} pin(s) held`,
      );
    }
    const pinned: Pinned = { blocknum, mode, node: decodeNode(bytes, { blocknum }) };
    held.push({ pinned, before: bytes });
    this.pins.set(blocknum, held);
    this.counters.pins++;
    return pinned;
  }

  unpin(pinned: Pinned, opts: { dirty: boolean }): void {
    const active = this.takePin(pinned, 'unpin');
    const after = encodeNode(pinned.node);
    if (this.checking && active.before !== null) {
      const changed = !bytesEqual(after, active.before);
      invariant(
        pinned.mode === 'write' || !changed,
        () => `blocknum ${pinned.blocknum} was modified under a read pin`,
      );
      invariant(
        changed === opts.dirty,
        () =>
          changed
            ? `blocknum ${pinned.blocknum} was modified but unpinned clean`
            : `blocknum ${pinned.blocknum} was unpinned dirty but not modified`,
      );
    }
    invariant(
      !this.checking || active.before !== null || opts.dirty,
      () => `created blocknum ${pinned.blocknum} was unpinned clean`,
    );
    if (opts.dirty || active.before === null) {
      this.blocks.set(pinned.blocknum, after);
      this.counters.writes++;
    }
  }

  async create(node: BtreeNode): Promise<Pinned> {
    if (this.options.onIo) await this.options.onIo('create');
    const blocknum = this.nextBlocknum++;
    invariant(!this.blocks.has(blocknum), () => `blocknum ${blocknum} handed out twice`);
    this.blocks.set(blocknum, encodeNode(node));
    const pinned: Pinned = { blocknum, mode: 'write', node };
    // A created node has no "before" image: its first unpin always writes it.
    this.pins.set(blocknum, [{ pinned, before: null }]);
    return pinned;
  }

  remove(pinned: Pinned): void {
    invariant(pinned.mode === 'write', () => `remove of blocknum ${pinned.blocknum} without a write pin`);
    this.takePin(pinned, 'remove');
    this.blocks.delete(pinned.blocknum);
    this.counters.removes++;
  }

  allocatedBlocknums(): Iterable<bigint> {
    return [...this.blocks.keys()];
  }

  /** The stored bytes of a node (for corruption tests and dumps). */
  rawBlock(blocknum: bigint): Uint8Array | undefined {
    return this.blocks.get(blocknum);
  }

  /** Replace the stored bytes of a node (for corruption tests). */
  setRawBlock(blocknum: bigint, bytes: Uint8Array): void {
    invariant(this.blocks.has(blocknum), () => `setRawBlock of unallocated blocknum ${blocknum}`);
    this.blocks.set(blocknum, bytes);
  }

  /** How many pins are held now (0 when every pin was released). */
  pinCount(): number {
    let n = 0;
    for (const held of this.pins.values()) n += held.length;
    return n;
  }

  /** Throw if any pin is still held (call when all operations have finished). */
  assertNoPins(): void {
    const left = [...this.pins.entries()].filter(([, h]) => h.length > 0).map(([b, h]) => `${b}(${h.length})`);
    invariant(left.length === 0, () => `pins never released: ${left.join(', ')}`);
  }

  private takePin(pinned: Pinned, what: string): ActivePin {
    const held = this.pins.get(pinned.blocknum) ?? [];
    const at = held.findIndex((p) => p.pinned === pinned);
    invariant(at >= 0, () => `${what} of blocknum ${pinned.blocknum} that is not pinned (double unpin?)`);
    const [active] = held.splice(at, 1);
    if (held.length === 0) this.pins.delete(pinned.blocknum);
    return active!;
  }
}
