/**
 * Reading a real PerconaFT dictionary file (layout 29) through a {@link Storage}: its chosen
 * header, checkpointed translation and nodes, and the committed rows of its checkpointed tree
 * (docs/ft-nodes.md "Reading rows").
 *
 * Rows are produced by walking the tree from the root in key order, holding one root-to-leaf
 * path of nodes at a time. For each basement node, the messages buffered above it (in the
 * path's non-leaf nodes, restricted to the basement's key range, broadcasts included) whose MSN
 * is above the leaf's "max MSN applied on disk" are applied in MSN order, as PerconaFT does
 * when it reads a leaf (ft/node.cc `toku_apply_ancestors_messages_to_node`). Each entry is then
 * resolved to its committed value (src/ft/leafentry.ts `resolveEntry`), level by level of its
 * provisional stack.
 *
 * Invariants:
 *  - Nothing is ever written: the file is opened read-only.
 *  - Rows come out in strictly increasing key order (by the comparator), each key once; a
 *    tree whose keys are out of order or outside their pivots is corrupt, and says so.
 *  - At most one node per tree level is held by the walk; of a leaf, only the basement being
 *    resolved is decoded (its other partitions stay compressed bytes of the block).
 *  - Every error about the tree's bytes is a TokusimError naming file, blocknum and offset.
 */
import { TokusimError } from '../base/errors.js';
import { DictionaryFile } from '../blocks/dictionary-file.js';
import type { FtHeader } from '../format/ft-header.js';
import type { TranslationImage } from '../format/btt-format.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import { FT_MSG, XR_INSERT, XR_PLACEHOLDER, applyMessage, emptyUle, isBroadcast, resolveEntry, rootOnly, type LevelCommitted, type Ule, type XidCommitted } from './leafentry.js';
import { decodeFtNode, decodeFtNodeLazy, type BasementNode, type FtMessage, type FtNode, type LazyFtNode } from './node-format.js';
import { decodeRollbackNode, isRollbackBlock, type RollbackNode } from './rollback.js';

/** A block as {@link FtDictionary.readAnyNode} finds it. */
export type AnyNode =
  | { kind: 'ft'; node: FtNode }
  | { kind: 'rollback'; node: RollbackNode }
  /** Neither a PerconaFT tree node nor a rollback node (e.g. tokusim's own node format); the first 8 bytes. */
  | { kind: 'other'; blocknum: bigint; diskOffset: number; diskSize: number; magic: Uint8Array };

/** Key order: negative, zero or positive like memcmp. */
export type KeyCompare = (a: Uint8Array, b: Uint8Array) => number;

/** PerconaFT's default comparator: bytewise, then the shorter key first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * An update function (PerconaFT's `update_fun`): given the key, the value the update message
 * finds (null when there is none) and the message's extra bytes, return the new value or null
 * to delete the row.
 */
export type FtUpdateFunction = (key: Uint8Array, oldValue: Uint8Array | null, extra: Uint8Array) => Uint8Array | null;

/** How rows are resolved. */
export interface RowOptions {
  /**
   * Whether the root transaction with this xid committed; a provisional record of a
   * transaction that did not is skipped. Default: every transaction committed (true of a
   * cleanly closed environment, where aborted transactions have left ABORT messages in the
   * tree). A caller that knows which transactions were live at a crash passes them here.
   */
  committed?: XidCommitted;
  /**
   * Whether each level of a provisional stack survived, asked outermost first (see
   * {@link LevelCommitted}). It replaces `committed` when given: a caller that knows which
   * child transactions aborted after the checkpoint (their ABORT messages never reached the
   * tree) leaves their records out here. With only `committed`, every level below a
   * committed root is taken as committed.
   */
  committedLevel?: LevelCommitted;
  /**
   * Called once for each entry whose provisional records were partly or wholly left out,
   * with the xids from the root down to the outermost level that did not survive, and the
   * entry's key. The row yielded for that key (if any) is the resolved one.
   */
  onLeftOut?: (xids: readonly bigint[], key: Uint8Array) => void;
  /** The key comparator the dictionary was built with (default: {@link compareBytes}). */
  compare?: KeyCompare;
  /** Needed only when the tree holds UPDATE messages; without it such a tree is refused. */
  update?: FtUpdateFunction;
  /**
   * Read every leaf into this memory, reused from leaf to leaf (and from dictionary to
   * dictionary when the same one is passed again), so that memory holds one block per tree
   * level however many leaves are read. The rows' keys and values (and the keys given to
   * onLeftOut) then point into it: they are valid only until the next batch is asked for
   * ({@link FtDictionary.committedRowBatches}) or the next row ({@link FtDictionary.committedRows});
   * copy what you keep. Default: each leaf in its own buffer, every row's bytes stay valid.
   */
  leafMemory?: LeafMemory;
}

/** Memory that blocks are read into, one at a time (leaves: see {@link RowOptions.leafMemory}). */
export class LeafMemory {
  private buffer = new Uint8Array(0);

  /** A buffer of at least size bytes; the previous one's contents are dead once this is asked for. */
  take(size: number): Uint8Array {
    // Leaves of one tree differ in size by a few KiB: grow to the next MiB so they all fit.
    if (size > this.buffer.length) this.buffer = new Uint8Array(Math.ceil(size / LEAF_MEMORY_STEP) * LEAF_MEMORY_STEP);
    return this.buffer;
  }
}

const LEAF_MEMORY_STEP = 1 << 20;

/** One committed row. */
export interface FtRow {
  key: Uint8Array;
  value: Uint8Array;
}

/** Options for opening a dictionary. */
export interface OpenFtOptions {
  /** Choose the newest header slot whose checkpoint LSN is at most this (default: any). */
  maxAcceptableLsn?: bigint;
}

async function readExactly(f: StorageFile, offset: number, len: number, into?: Uint8Array): Promise<Uint8Array> {
  const buf = into !== undefined ? into.subarray(0, len) : new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = await f.pread(buf.subarray(got), offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? buf : buf.subarray(0, got);
}

/**
 * An open PerconaFT dictionary: the header a reader picks, its checkpointed translation, and
 * node access. Use {@link openFtDictionary}; close it when done.
 */
export class FtDictionary {
  private constructor(
    /** The path it was opened with (used in errors). */
    readonly path: string,
    private readonly file: DictionaryFile,
    /** The chosen header. */
    readonly header: FtHeader,
    /** The layout version stored in the chosen header slot. */
    readonly layoutVersionReadFromDisk: number,
    /** The header slot chosen (0 or 1). */
    readonly headerSlot: 0 | 1,
    /** The descriptor bytes (empty when there is none). */
    readonly descriptor: Uint8Array,
    /** The checkpointed block translation. */
    readonly translation: TranslationImage,
    private readonly fileSize: number,
  ) {}

  /** Open the dictionary at `path` read-only and choose its header. */
  static async open(storage: Storage, path: string, opts: OpenFtOptions = {}): Promise<FtDictionary> {
    const openOpts: { mode: 'read'; maxAcceptableLsn?: bigint } = { mode: 'read' };
    if (opts.maxAcceptableLsn !== undefined) openOpts.maxAcceptableLsn = opts.maxAcceptableLsn;
    const { file, chosen } = await DictionaryFile.open(storage, path, openOpts);
    try {
      const translation = file.blockTable.snapshot('checkpointed');
      if (translation === null) throw new TokusimError('bad-btt', 'no checkpointed translation', { file: path });
      const size = await file.handle.size();
      return new FtDictionary(path, file, file.header, chosen.header.layoutVersion, chosen.slot, file.descriptor, translation, size);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /** The root node's blocknum. */
  get rootBlocknum(): bigint {
    return this.header.rootBlocknum;
  }

  /** Disk offset and size of a blocknum in the checkpointed translation, or null when it has no block. */
  blockLocation(blocknum: bigint): { diskOffset: number; size: number } | null {
    const n = this.translation.diskoffs.length;
    if (blocknum < 0n || blocknum >= BigInt(n)) return null;
    const size = this.translation.sizes[Number(blocknum)]!;
    if (size <= 0n) return null;
    return { diskOffset: Number(this.translation.diskoffs[Number(blocknum)]!), size: Number(size) };
  }

  /** Blocknums (3 and up) that have a block on disk, in blocknum order. */
  nodeBlocknums(): bigint[] {
    const out: bigint[] = [];
    for (let b = 3; b < this.translation.diskoffs.length; b++) if (this.translation.sizes[b]! > 0n) out.push(BigInt(b));
    return out;
  }

  /**
   * The raw bytes of a block; with `into`, read into that memory (valid until it is used
   * again) instead of a new buffer. The block's place is checked against the file first, so
   * a damaged translation never makes it allocate more than the file holds.
   */
  async readBlock(blocknum: bigint, into?: LeafMemory): Promise<Uint8Array> {
    const loc = this.blockLocation(blocknum);
    if (loc === null) {
      throw new TokusimError('bad-node', 'blocknum has no block in the checkpointed translation', {
        file: this.path,
        blocknum,
        expected: `a blocknum in [3, ${this.translation.diskoffs.length}) with a block on disk`,
        actual: blocknum >= 0n && blocknum < BigInt(this.translation.diskoffs.length) ? `size ${this.translation.sizes[Number(blocknum)]}` : 'out of range',
      });
    }
    if (loc.diskOffset + loc.size > this.fileSize) {
      throw new TokusimError('truncated', 'block lies past the end of the file', { file: this.path, blocknum, offset: loc.diskOffset, expected: `${loc.size} bytes`, actual: `${Math.max(0, this.fileSize - loc.diskOffset)} in the file` });
    }
    return readExactly(this.file.handle, loc.diskOffset, loc.size, into?.take(loc.size));
  }

  /** Read and decode one node. */
  async readNode(blocknum: bigint): Promise<FtNode> {
    const block = await this.readBlock(blocknum);
    return decodeFtNode(block, { file: this.path, blocknum, diskOffset: this.blockLocation(blocknum)!.diskOffset });
  }

  /** Read one node, its leaf partitions decoded only when asked for (see LazyFtNode). */
  async readNodeLazy(blocknum: bigint): Promise<LazyFtNode> {
    const block = await this.readBlock(blocknum);
    return decodeFtNodeLazy(block, { file: this.path, blocknum, diskOffset: this.blockLocation(blocknum)!.diskOffset });
  }

  /**
   * Read one block and decode it by its magic: a tree node ("tokuleaf"/"tokunode"), a
   * rollback-log node ("tokuroll"), or anything else (returned undecoded).
   */
  async readAnyNode(blocknum: bigint): Promise<AnyNode> {
    const block = await this.readBlock(blocknum);
    const site = { file: this.path, blocknum, diskOffset: this.blockLocation(blocknum)!.diskOffset };
    if (isRollbackBlock(block)) return { kind: 'rollback', node: decodeRollbackNode(block, site) };
    const m = new TextDecoder('latin1').decode(block.subarray(0, 8));
    if (m === 'tokuleaf' || m === 'tokunode') return { kind: 'ft', node: decodeFtNode(block, site) };
    return { kind: 'other', blocknum, diskOffset: site.diskOffset, diskSize: block.length, magic: block.slice(0, 8) };
  }

  /**
   * The committed rows of the checkpointed tree, in key order, streamed: one root-to-leaf path
   * of nodes is in memory at a time.
   */
  async *committedRows(opts: RowOptions = {}): AsyncGenerator<FtRow> {
    for await (const batch of this.committedRowBatches(opts)) yield* batch;
  }

  /**
   * The same rows as {@link committedRows}, one array per basement node (none empty): a
   * reader that takes rows in batches pays the cost of the asynchronous walk once per
   * basement instead of once per row.
   */
  committedRowBatches(opts: RowOptions = {}): AsyncGenerator<FtRow[]> {
    return new RowWalker(this, opts).walk(this.rootBlocknum, [], null, null, new Set());
  }

  /** Close the file. */
  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Open a PerconaFT dictionary file read-only (see {@link FtDictionary}). */
export function openFtDictionary(storage: Storage, path: string, opts: OpenFtOptions = {}): Promise<FtDictionary> {
  return FtDictionary.open(storage, path, opts);
}

/** The messages one ancestor holds for the child on the path, with the ancestor's blocknum. */
interface PathBuffer {
  blocknum: bigint;
  messages: FtMessage[];
}

class RowWalker {
  private readonly compare: KeyCompare;
  private readonly committed: LevelCommitted;
  constructor(
    private readonly dict: FtDictionary,
    private readonly opts: RowOptions,
  ) {
    this.compare = opts.compare ?? compareBytes;
    this.committed = opts.committedLevel ?? rootOnly(opts.committed ?? (() => true));
  }

  private inBounds(key: Uint8Array, lower: Uint8Array | null, upper: Uint8Array | null): boolean {
    return (lower === null || this.compare(key, lower) > 0) && (upper === null || this.compare(key, upper) <= 0);
  }

  /** Reads a node; with leafMemory a leaf's block lands in it, a non-leaf's in its own buffer (it stays on the path). */
  private async readNode(blocknum: bigint): Promise<LazyFtNode> {
    const memory = this.opts.leafMemory;
    if (memory === undefined) return this.dict.readNodeLazy(blocknum);
    let block = await this.dict.readBlock(blocknum, memory);
    if (!isLeafBlock(block)) block = block.slice();
    return decodeFtNodeLazy(block, { file: this.dict.path, blocknum, diskOffset: this.dict.blockLocation(blocknum)!.diskOffset });
  }

  async *walk(blocknum: bigint, path: PathBuffer[], lower: Uint8Array | null, upper: Uint8Array | null, seen: Set<bigint>): AsyncGenerator<FtRow[]> {
    if (seen.has(blocknum)) {
      throw new TokusimError('bad-node', 'the tree refers to this node twice on one path (a cycle)', { file: this.dict.path, blocknum });
    }
    const { node, basement } = await this.readNode(blocknum);
    this.checkPivots(node, lower, upper);
    const bound = (i: number): [Uint8Array | null, Uint8Array | null] => [i === 0 ? lower : node.pivots[i - 1]!, i === node.pivots.length ? upper : node.pivots[i]!];
    if (node.height > 0) {
      seen.add(blocknum);
      for (let i = 0; i < node.childBlocknums.length; i++) {
        const [lo, hi] = bound(i);
        const buf = node.buffers[i]!;
        for (const m of buf.messages) {
          if (!isBroadcast(m.type) && !this.inBounds(m.key, lo, hi)) {
            throw new TokusimError('bad-node', `child ${i}'s buffer holds a message whose key lies outside the child's pivots`, { file: this.dict.path, blocknum, offset: node.diskOffset + node.partitions[i]!.offset });
          }
        }
        yield* this.walk(node.childBlocknums[i]!, [...path, { blocknum, messages: buf.messages }], lo, hi, seen);
      }
      seen.delete(blocknum);
      return;
    }
    // One basement's entries at a time: a leaf's are decoded as its rows are reached.
    for (let i = 0; i < node.partitions.length; i++) {
      const [lo, hi] = bound(i);
      const rows = this.basementRows(node, basement(i), i, path, lo, hi);
      if (rows.length > 0) yield rows;
    }
  }

  private checkPivots(node: FtNode, lower: Uint8Array | null, upper: Uint8Array | null): void {
    for (let i = 0; i < node.pivots.length; i++) {
      const p = node.pivots[i]!;
      const ordered = (i === 0 || this.compare(node.pivots[i - 1]!, p) < 0) && this.inBounds(p, lower, upper);
      if (!ordered) {
        throw new TokusimError('bad-node', `pivot ${i} is out of order or outside the parent's bounds`, { file: this.dict.path, blocknum: node.blocknum, offset: node.diskOffset + node.nodeInfo.offset });
      }
    }
  }

  private basementRows(node: FtNode, bn: BasementNode, index: number, path: PathBuffer[], lower: Uint8Array | null, upper: Uint8Array | null): FtRow[] {
    const keys: Uint8Array[] = [];
    const ules: Ule[] = [];
    for (let k = 0; k < bn.entries.length; k++) {
      const e = bn.entries[k]!;
      if (!this.inBounds(e.key, lower, upper) || (k > 0 && this.compare(keys[k - 1]!, e.key) >= 0)) {
        throw new TokusimError('bad-node', `basement ${index}, entry ${k}: key out of order or outside the basement's pivots`, { file: this.dict.path, blocknum: node.blocknum, offset: node.diskOffset + node.partitions[index]!.offset });
      }
      keys.push(e.key);
      ules.push(e.ule);
    }
    const pending: FtMessage[] = [];
    for (const pb of path) {
      for (const m of pb.messages) {
        if (m.msn <= node.maxMsnOnDisk) continue;
        if (isBroadcast(m.type) || this.inBounds(m.key, lower, upper)) pending.push(m);
      }
    }
    if (pending.length > 0) {
      pending.sort((a, b) => (a.msn < b.msn ? -1 : a.msn > b.msn ? 1 : 0));
      for (const m of pending) this.apply(m, keys, ules);
    }
    const rows: FtRow[] = [];
    for (let k = 0; k < keys.length; k++) {
      const u = ules[k]!;
      if (u.uxrs.length === u.nc) {
        // No provisional records: the newest committed one is the row.
        const top = u.uxrs[u.nc - 1]!;
        if (top.type === XR_INSERT) rows.push({ key: keys[k]!, value: top.value! });
        continue;
      }
      const r = resolveEntry(u, this.committed);
      if (r.leftOut !== undefined) this.opts.onLeftOut?.(r.leftOut, keys[k]!);
      if (r.value !== null) rows.push({ key: keys[k]!, value: r.value });
    }
    return rows;
  }

  private find(keys: Uint8Array[], key: Uint8Array): { at: number; found: boolean } {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compare(keys[mid]!, key);
      if (c === 0) return { at: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { at: lo, found: false };
  }

  /**
   * Applies one message to the basement's entries. An entry left with no insert anywhere on
   * its stack is removed, as PerconaFT removes it (ft/ule.cc `le_pack` stores nothing for
   * it): a later message finds no entry there (a broadcast skips the key; a keyed message
   * starts from an empty entry).
   */
  private apply(m: FtMessage, keys: Uint8Array[], ules: Ule[]): void {
    if (isBroadcast(m.type)) {
      let kept = 0;
      for (let k = 0; k < keys.length; k++) {
        this.applyOne(m, keys[k]!, ules[k]!);
        if (hasInsert(ules[k]!)) {
          keys[kept] = keys[k]!;
          ules[kept++] = ules[k]!;
        }
      }
      keys.length = kept;
      ules.length = kept;
      return;
    }
    const { at, found } = this.find(keys, m.key);
    if (!found) {
      keys.splice(at, 0, m.key);
      ules.splice(at, 0, emptyUle());
    }
    this.applyOne(m, keys[at]!, ules[at]!);
    if (!hasInsert(ules[at]!)) {
      keys.splice(at, 1);
      ules.splice(at, 1);
    }
  }

  private applyOne(m: FtMessage, key: Uint8Array, ule: Ule): void {
    if (m.type !== FT_MSG.UPDATE && m.type !== FT_MSG.UPDATE_BROADCAST_ALL) {
      applyMessage(ule, m.type, m.xids, m.value);
      return;
    }
    const update = this.opts.update;
    if (update === undefined) {
      throw new TokusimError('needs-application', `an ${m.type === FT_MSG.UPDATE ? 'UPDATE' : 'UPDATE_BROADCAST_ALL'} message (msn ${m.msn}) needs the application's update function`, { file: this.dict.path });
    }
    const latest = latestValue(ule);
    const next = update(key, latest, m.value);
    if (next === null) {
      if (latest !== null) applyMessage(ule, FT_MSG.DELETE_ANY, m.xids, new Uint8Array(0));
    } else {
      applyMessage(ule, FT_MSG.INSERT, m.xids, next);
    }
  }
}

/** True when the block starts with a leaf node's magic ("tokuleaf"). */
function isLeafBlock(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x74 && b[1] === 0x6f && b[2] === 0x6b && b[3] === 0x75 && b[4] === 0x6c && b[5] === 0x65 && b[6] === 0x61 && b[7] === 0x66;
}

/** True when some record of the entry's stack is an insert (else PerconaFT stores no entry). */
function hasInsert(u: Ule): boolean {
  for (const r of u.uxrs) if (r.type === XR_INSERT) return true;
  return false;
}

/** The innermost (newest, provisional or not) value of an entry, or null for a delete. */
function latestValue(u: Ule): Uint8Array | null {
  for (let i = u.uxrs.length - 1; i >= 0; i--) {
    const r = u.uxrs[i]!;
    if (r.type === XR_PLACEHOLDER) continue;
    return r.type === XR_INSERT ? r.value! : null;
  }
  return null;
}
