/**
 * The B+tree's NodeStore over the cachetable: every node is a PAIR of the dictionary's
 * cachefile, pinned and unpinned through the Cachetable (so checkpoint pending bits, clones
 * and eviction apply to tree nodes), and new blocknums come from the dictionary's BTT.
 * The root blocknum lives in the dictionary header (0 = no root yet); changing it dirties the
 * header so the next checkpoint writes it.
 *
 * Invariants:
 *  - Every Pinned handed out maps to exactly one cachetable pin, released exactly once
 *    (unpin or remove); a second release is an invariant failure.
 *  - A dirty unpin reports the node's new encoded size to the cachetable.
 */
import { invariant } from '../base/errors.js';
import type { Cachetable } from '../cachetable/cachetable.js';
import type { Pair } from '../cachetable/pair.js';
import type { CheckpointableDictionary, NodeCodec } from '../checkpoint/checkpointable-dictionary.js';
import { cloneNode, type BtreeNode } from './btree/node.js';
import { decodeNode, encodeNode, encodedNodeSize } from './btree/node-codec.js';
import type { NodeStore, Pinned, PinMode } from './btree/node-store.js';

/** Blocknum 0 is the BTT's own reserved number, never a node: it marks "no root". */
export const NO_ROOT = 0n;

/** How tree nodes are written to and read from dictionary blocks. */
export const BTREE_NODE_CODEC: NodeCodec<BtreeNode> = {
  serialize: (node) => encodeNode(node),
  deserialize: (bytes, blocknum) => decodeNode(bytes, { blocknum }),
  clone: (node) => cloneNode(node),
  sizeOf: (node) => encodedNodeSize(node),
};

/** The same codec without clone: the cachetable then takes its no-clone paths (write before a change). */
export const BTREE_NODE_CODEC_NO_CLONE: NodeCodec<BtreeNode> = {
  serialize: BTREE_NODE_CODEC.serialize,
  deserialize: BTREE_NODE_CODEC.deserialize,
  sizeOf: BTREE_NODE_CODEC.sizeOf,
};

const SCAN_UNPIN = Object.freeze({ scan: true });

export class CachetableNodeStore implements NodeStore {
  private readonly pins = new Map<Pinned, Pair<BtreeNode>>();

  constructor(
    private readonly ct: Cachetable,
    private readonly dict: CheckpointableDictionary<BtreeNode>,
  ) {}

  get rootBlocknum(): bigint | null {
    const r = this.dict.header.rootBlocknum;
    return r === NO_ROOT ? null : r;
  }

  set rootBlocknum(b: bigint | null) {
    this.dict.header.rootBlocknum = b ?? NO_ROOT;
    this.dict.markHeaderDirty();
  }

  async pin(blocknum: bigint, mode: PinMode): Promise<Pinned> {
    const p = await this.ct.getAndPin(this.dict.cachefile, blocknum, { mode });
    const pinned: Pinned = { blocknum, mode, node: p.value };
    this.pins.set(pinned, p);
    return pinned;
  }

  private take(pinned: Pinned, what: string): Pair<BtreeNode> {
    const p = this.pins.get(pinned);
    invariant(p !== undefined, () => `${what} of blocknum ${pinned.blocknum} that is not pinned`);
    this.pins.delete(pinned);
    return p;
  }

  unpin(pinned: Pinned, opts: { dirty: boolean; scan?: boolean }): void {
    const p = this.take(pinned, 'unpin');
    if (opts.dirty) {
      p.value = pinned.node;
      this.ct.unpin(p, { dirty: true, size: encodedNodeSize(pinned.node) });
    } else {
      this.ct.unpin(p, opts.scan === true ? SCAN_UNPIN : undefined);
    }
  }

  async create(node: BtreeNode): Promise<Pinned> {
    const p = await this.ct.put(this.dict.cachefile, () => this.dict.allocateBlocknum(), node, encodedNodeSize(node));
    const pinned: Pinned = { blocknum: p.blocknum, mode: 'write', node };
    this.pins.set(pinned, p);
    return pinned;
  }

  async remove(pinned: Pinned): Promise<void> {
    const p = this.take(pinned, 'remove');
    await this.ct.unpinAndRemove(p);
  }

  get pinCount(): number {
    return this.pins.size;
  }
}
