/**
 * A writer of PerconaFT layout-29 dictionary files, for benchmarks and tests only: it makes
 * large, valid dictionaries that the decoder of src/ft/ (and PerconaFT's own tools) can read,
 * written from the format facts in docs/ft-nodes.md (PerconaFT ft/serialize/
 * ft_node-serialize.cc `toku_serialize_ftnode_to_memory`, ft/bndata.cc
 * `bn_data::serialize_to_wbuf`, ft/serialize/compress.cc `toku_compress`) in our own code.
 *
 * What it writes: rows given in strictly increasing key order become committed ("clean")
 * leafentries, or, through addEntry, any MVCC stack (committed records, then provisional
 * ones of nested transactions, placeholders included; PerconaFT ft/ule.cc `le_pack`),
 * packed into basement nodes of about `basementNodeSize` uncompressed bytes, leaves of about
 * `nodeSize`, and non-leaf levels of at most `fanout` children, up to one root. The message
 * buffers of the non-leaf nodes are empty unless messages are given (option `messages`):
 * each is put into the buffers of the nodes at its height, in the child whose key range holds
 * its key, or, for a broadcast, into every child's buffer (PerconaFT ft/node.cc
 * `ft_nonleaf_msg_all`). Then the block translation table and one header (slot of
 * checkpoint_count 1). Sub-blocks are compressed with none, zlib or zlib without checksum.
 *
 * Invariants (checked):
 *  - Keys arrive in strictly increasing byte order.
 *  - Every node block starts 4096-aligned at or after 8192 and is padded to 512 bytes; the
 *    translation follows the last node.
 *  - Only one leaf and one pending key list per level are held in memory, never the rows
 *    (plus the given messages).
 *  - Every given message lands in exactly one buffer, or in every child buffer of each node
 *    at its height for a broadcast; a message at a height the tree does not reach is an error.
 *  - A node closed while rows are still coming is never the last of its level (a level closes
 *    a node once it holds fanout + 1 children), so only the last node's key range is open
 *    above.
 */
import { deflateRawSync, deflateSync } from 'node:zlib';
import { invariant } from '../../src/base/errors.js';
import { DISKOFF_UNUSED, FIRST_BLOCK_OFFSET, encodeTranslationPadded, translationSizeOnDisk, type TranslationImage } from '../../src/format/btt-format.js';
import { encodeFtHeaderSector, headerSlotForCount, headerSlotOffset, newFtHeader } from '../../src/format/ft-header.js';
import { x1764 } from '../../src/format/x1764.js';
import { XR_INSERT, XR_PLACEHOLDER, isBroadcast, type Ule, type Uxr } from '../../src/ft/leafentry.js';

/** Compression methods this writer can produce (PerconaFT's enum values). */
export const WRITER_COMPRESSION = { none: 0, zlib: 8, zlibWithoutChecksum: 11 } as const;
export type WriterCompression = (typeof WRITER_COMPRESSION)[keyof typeof WRITER_COMPRESSION];

/** Where the writer puts bytes (a file, or memory in tests). */
export interface ByteSink {
  pwrite(bytes: Uint8Array, offset: number): void;
}

/** A sink that keeps the file's bytes in memory (tests), growing as needed. */
export class MemorySink implements ByteSink {
  private buf = new Uint8Array(0);
  private size = 0;

  pwrite(bytes: Uint8Array, offset: number): void {
    const end = offset + bytes.length;
    if (end > this.buf.length) {
      const bigger = new Uint8Array(Math.max(end, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.size));
      this.buf = bigger;
    }
    this.buf.set(bytes, offset);
    this.size = Math.max(this.size, end);
  }

  /** The bytes written so far (the file's image). */
  get image(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }
}

export interface FtWriterOptions {
  sink: ByteSink;
  /** Uncompressed bytes of a leaf before a new one starts (PerconaFT nodesize; default 4 MiB). */
  nodeSize?: number;
  /** Uncompressed bytes of a basement node (default 128 KiB). */
  basementNodeSize?: number;
  /** Children of a non-leaf node (default 16). */
  fanout?: number;
  compression?: WriterCompression;
  /** The header's checkpoint_lsn (default 1). */
  checkpointLsn?: bigint;
  /** Seconds for time_of_creation / last modification (fixed, so output is deterministic). */
  now?: bigint;
  /** Messages for the non-leaf buffers (default none). */
  messages?: readonly WriterMessage[];
  /** Every leaf's "max MSN applied on disk" (default 0): buffered messages at or below it are already in the leaves. */
  leafMaxMsn?: bigint;
}

/** A message to put into non-leaf buffers (PerconaFT's ft_msg as serialized). */
export interface WriterMessage {
  /** An ft_msg_type (src/ft/leafentry.ts FT_MSG). */
  type: number;
  msn: bigint;
  /** The transaction stack, root first (default: none, a message outside any transaction). */
  xids?: readonly bigint[];
  /** The key (ignored for broadcasts, which are written with an empty key). */
  key?: Uint8Array;
  /** The value: the row for inserts, the update function's extra for updates (default empty). */
  value?: Uint8Array;
  /** Height of the nodes whose buffers hold it (default 1: the leaves' parents). */
  height?: number;
  /** Not yet applied to any basement below (default true). */
  fresh?: boolean;
}

const BLOCK_ALIGN = 4096;
const LE_CLEAN = 0;
const LE_MVCC = 1;
/** PerconaFT's limit on the provisional records of one entry (MAX_TRANSACTION_RECORDS - 1). */
const MAX_PROVISIONAL = 254;
const BASEMENT_HEADER = 4 + 4 + 4 + 1 + 1;

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** A little-endian byte builder with PerconaFT's u64 convention (high word first). */
class Out {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }
  u64(v: bigint): void {
    this.u32(Number((v >> 32n) & 0xffffffffn));
    this.u32(Number(v & 0xffffffffn));
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Appends the x1764 of everything written so far. */
  checksum(): void {
    this.u32(x1764(this.buf, 0, this.pos));
  }
  done(): Uint8Array {
    invariant(this.pos === this.buf.length, `writer buffer filled ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }
}

function compress(method: WriterCompression, raw: Uint8Array): Uint8Array {
  if (method === WRITER_COMPRESSION.none) {
    const out = new Uint8Array(raw.length + 1);
    out[0] = 0;
    out.set(raw, 1);
    return out;
  }
  if (method === WRITER_COMPRESSION.zlib) return deflateSync(raw, { level: 5 });
  const body = deflateRawSync(raw, { level: 5 });
  const out = new Uint8Array(body.length + 2);
  out[0] = WRITER_COMPRESSION.zlibWithoutChecksum + (5 << 4);
  out[1] = 0xf1; // window bits -15 as a signed byte
  out.set(body, 2);
  return out;
}

/** A sub-block: u32 compressed size, u32 uncompressed size, the compressed bytes, x1764 of the three. */
function subBlock(method: WriterCompression, raw: Uint8Array): Uint8Array {
  const c = compress(method, raw);
  const o = new Out(8 + c.length + 4);
  o.u32(c.length);
  o.u32(raw.length);
  o.bytes(c);
  o.checksum();
  return o.done();
}

/** A packed leaf entry without its key: the type byte and fixed fields (`head`), then the rest. */
interface PackedEntry {
  head: Uint8Array;
  rest: Uint8Array;
}

interface Row {
  key: Uint8Array;
  entry: PackedEntry;
}

function cleanEntry(value: Uint8Array): PackedEntry {
  const head = new Out(5);
  head.u8(LE_CLEAN);
  head.u32(value.length);
  return { head: head.done(), rest: value };
}

/**
 * Packs an MVCC stack as PerconaFT's `le_pack` lays it out (docs/ft-nodes.md "Leaf entries"):
 * the outermost provisional xid, the committed xids newest first (not uxrs[0]'s), the length
 * words of the innermost provisional record and of each committed record newest first,
 * their values in the same order, then (two or more provisional records) the outermost's
 * type and value, each middle one's xid, type and value, and the innermost's xid. Xids here
 * are u64 little-endian (the entry is copied from memory, not written word by word).
 */
function packEntry(u: Ule): PackedEntry {
  const nc = u.nc;
  const np = u.uxrs.length - nc;
  invariant(nc >= 1 && u.uxrs[0]!.xid === 0n, 'a leaf entry starts with a committed record of xid 0');
  invariant(np <= MAX_PROVISIONAL, `at most ${MAX_PROVISIONAL} provisional records`);
  invariant(u.uxrs.some((r) => r.type === XR_INSERT), 'an entry with no insert anywhere is not stored (PerconaFT packs nothing)');
  const inner = u.uxrs[u.uxrs.length - 1]!;
  invariant(inner.type !== XR_PLACEHOLDER, 'the innermost record is not a placeholder');
  for (let i = 0; i < nc; i++) invariant(u.uxrs[i]!.type !== XR_PLACEHOLDER, 'committed records are inserts or deletes');
  if (nc === 1 && np === 0) return cleanEntry(u.uxrs[0]!.value!);
  const valueLen = (r: Uxr): number => (r.type === XR_INSERT ? r.value!.length : 0);
  let size = 8 * (np > 0 ? 1 : 0) + 8 * (nc - 1) + 4 * (nc + (np > 0 ? 1 : 0));
  for (let i = 0; i < nc; i++) size += valueLen(u.uxrs[i]!);
  if (np > 0) size += valueLen(inner);
  if (np > 1) {
    for (let i = nc; i < nc + np - 1; i++) size += (i > nc ? 8 : 0) + 1 + (u.uxrs[i]!.type === XR_INSERT ? 4 : 0) + valueLen(u.uxrs[i]!);
    size += 8;
  }
  const head = new Out(6);
  head.u8(LE_MVCC);
  head.u32(nc);
  head.u8(np);
  const o = new Out(size);
  const xid = (r: Uxr): void => {
    o.view.setBigUint64(o.pos, r.xid, true);
    o.pos += 8;
  };
  const lengthWord = (r: Uxr): void => o.u32(r.type === XR_INSERT ? (0x80000000 | r.value!.length) >>> 0 : 0);
  const data = (r: Uxr): void => {
    if (r.type === XR_INSERT) o.bytes(r.value!);
  };
  const typeAndLength = (r: Uxr): void => {
    o.u8(r.type);
    if (r.type === XR_INSERT) o.u32(r.value!.length);
  };
  if (np > 0) xid(u.uxrs[nc]!);
  for (let i = nc - 1; i >= 1; i--) xid(u.uxrs[i]!);
  if (np > 0) lengthWord(inner);
  for (let i = nc - 1; i >= 0; i--) lengthWord(u.uxrs[i]!);
  if (np > 0) data(inner);
  for (let i = nc - 1; i >= 0; i--) data(u.uxrs[i]!);
  if (np > 1) {
    typeAndLength(u.uxrs[nc]!);
    data(u.uxrs[nc]!);
    for (let i = nc + 1; i < nc + np - 1; i++) {
      xid(u.uxrs[i]!);
      typeAndLength(u.uxrs[i]!);
      data(u.uxrs[i]!);
    }
    xid(inner);
  }
  return { head: head.done(), rest: o.done() };
}

function entrySize(e: PackedEntry): number {
  return e.head.length + e.rest.length;
}

/** One basement node's uncompressed partition: 0xaa, count, header, the entries with keys inline, x1764. */
function basementPartition(rows: readonly Row[]): Uint8Array {
  let keyBytes = 0;
  let valBytes = 0;
  for (const r of rows) {
    keyBytes += 4 + r.key.length;
    valBytes += entrySize(r.entry);
  }
  const o = new Out(1 + 4 + BASEMENT_HEADER + keyBytes + valBytes + 4);
  o.u8(0xaa);
  o.u32(rows.length);
  o.u32(keyBytes);
  o.u32(valBytes);
  o.u32(0); // fixed key-pair length: keys are inline
  o.u8(0); // all keys same length
  o.u8(0); // keys and values apart
  for (const r of rows) {
    // Inline form: the type byte, the key length, the entry's fixed fields, the key, the rest.
    o.u8(r.entry.head[0]!);
    o.u32(r.key.length);
    o.bytes(r.entry.head.subarray(1));
    o.bytes(r.key);
    o.bytes(r.entry.rest);
  }
  o.checksum();
  return o.done();
}

/**
 * A message buffer partition: 0xbb, the message count, the messages in MSN order (type,
 * fresh, MSN, xid count and xids, key, value), then the fresh, stale and broadcast offset
 * lists, x1764. PerconaFT's offsets point into its in-memory buffer and it rebuilds them on
 * reading; here each is the message's byte offset in the serialized list, the fresh and
 * stale lists sorted by key then MSN as PerconaFT keeps them.
 */
function bufferPartition(messages: readonly WriterMessage[]): Uint8Array {
  const sorted = [...messages].sort((a, b) => (a.msn < b.msn ? -1 : a.msn > b.msn ? 1 : 0));
  const keyOf = (m: WriterMessage): Uint8Array => (isBroadcast(m.type) ? new Uint8Array(0) : m.key ?? new Uint8Array(0));
  const sizeOf = (m: WriterMessage): number => 1 + 1 + 8 + 1 + 8 * (m.xids?.length ?? 0) + 4 + keyOf(m).length + 4 + (m.value?.length ?? 0);
  const offsets: number[] = [];
  let at = 0;
  for (const m of sorted) {
    offsets.push(at);
    at += sizeOf(m);
  }
  const byKey = (i: number, j: number): number => Buffer.compare(keyOf(sorted[i]!), keyOf(sorted[j]!)) || (sorted[i]!.msn < sorted[j]!.msn ? -1 : 1);
  const idx = sorted.map((_, i) => i);
  const fresh = idx.filter((i) => !isBroadcast(sorted[i]!.type) && sorted[i]!.fresh !== false).sort(byKey);
  const stale = idx.filter((i) => !isBroadcast(sorted[i]!.type) && sorted[i]!.fresh === false).sort(byKey);
  const broadcast = idx.filter((i) => isBroadcast(sorted[i]!.type));
  const o = new Out(1 + 4 + at + 3 * 4 + 4 * sorted.length + 4);
  o.u8(0xbb);
  o.u32(sorted.length);
  for (const m of sorted) {
    const xids = m.xids ?? [];
    invariant(xids.length <= 255, 'at most 255 xids in a message');
    o.u8(m.type);
    o.u8(m.fresh === false ? 0 : 1);
    o.u64(m.msn);
    o.u8(xids.length);
    for (const x of xids) o.u64(x);
    const key = keyOf(m);
    o.u32(key.length);
    o.bytes(key);
    const value = m.value ?? new Uint8Array(0);
    o.u32(value.length);
    o.bytes(value);
  }
  for (const list of [fresh, stale, broadcast]) {
    o.u32(list.length);
    for (const i of list) o.u32(offsets[i]!);
  }
  o.checksum();
  return o.done();
}

/** The node-info sub-block content: MSN, unused, flags, height, oldest xid, pivots, children, x1764. */
function nodeInfo(height: number, pivots: readonly Uint8Array[], children: readonly bigint[], maxMsn: bigint): Uint8Array {
  const size = 8 + 4 + 4 + 4 + 8 + pivots.reduce((n, p) => n + 4 + p.length, 0) + 8 * children.length + 4;
  const o = new Out(size);
  o.u64(maxMsn); // max MSN applied on disk
  o.u32(0); // where nodesize used to be
  o.u32(0); // flags
  o.u32(height);
  o.u64(0n); // oldest referenced xid known
  for (const p of pivots) {
    o.u32(p.length);
    o.bytes(p);
  }
  for (const c of children) o.u64(c);
  o.checksum();
  return o.done();
}

/** A whole node block, padded to 512 bytes. */
function nodeBlock(method: WriterCompression, height: number, pivots: readonly Uint8Array[], children: readonly bigint[], partitions: readonly Uint8Array[], maxMsn: bigint): Uint8Array {
  const n = partitions.length;
  const headerSize = 8 + 4 + 4 + 4 + 4 + 8 * n + 4;
  const info = subBlock(method, nodeInfo(height, pivots, children, maxMsn));
  const parts = partitions.map((p) => subBlock(method, p));
  const total = headerSize + info.length + parts.reduce((s, p) => s + p.length, 0);
  const block = new Uint8Array(align(total, 512));
  const h = new Out(headerSize);
  h.bytes(new TextEncoder().encode(height === 0 ? 'tokuleaf' : 'tokunode'));
  h.u32(29);
  h.u32(29);
  h.u32(0); // build id
  h.u32(n);
  let start = headerSize + info.length;
  for (const p of parts) {
    h.u32(start);
    h.u32(p.length);
    start += p.length;
  }
  h.checksum();
  block.set(h.done(), 0);
  block.set(info, headerSize);
  let at = headerSize + info.length;
  for (const p of parts) {
    block.set(p, at);
    at += p.length;
  }
  return block;
}

/** What a finished file holds. */
export interface FtWriterResult {
  rows: number;
  /** Key and value bytes of all rows. */
  dataBytes: number;
  /** Bytes of the file. */
  fileSize: number;
  height: number;
  nodes: number;
}

interface ChildRef {
  blocknum: bigint;
  lastKey: Uint8Array;
  /** The node's max MSN applied (of its own buffers and everything below). */
  msn: bigint;
}

/** Streams rows into a layout-29 dictionary file. */
export class FtLayout29Writer {
  private readonly sink: ByteSink;
  private readonly nodeSize: number;
  private readonly basementSize: number;
  private readonly fanout: number;
  private readonly method: WriterCompression;
  private readonly checkpointLsn: bigint;
  private readonly now: bigint;
  private offset = Number(FIRST_BLOCK_OFFSET);
  /** diskoff and size per blocknum (0..2 reserved). */
  private readonly diskoffs: bigint[] = [DISKOFF_UNUSED, DISKOFF_UNUSED, DISKOFF_UNUSED];
  private readonly sizes: bigint[] = [0n, 0n, 0n];
  private basement: Row[] = [];
  private basementBytes = 0;
  private leaf: Uint8Array[][] = [];
  private leafPivots: Uint8Array[] = [];
  private leafBytes = 0;
  /** Pending children per level (level 0 = leaves' parents' children). */
  private readonly levels: ChildRef[][] = [[]];
  private lastKey: Uint8Array | undefined;
  private rowCount = 0;
  private dataBytes = 0;
  /** The rows of the basement closed last (its last key is a pivot). */
  private prevBasement: Row[] = [];
  private finished = false;
  private readonly leafMaxMsn: bigint;
  /** Messages not yet placed, per height. */
  private readonly messagesAt = new Map<number, WriterMessage[]>();
  /** Per level, the last key of the node closed last there (the next node's exclusive lower bound). */
  private readonly levelLower: Array<Uint8Array | undefined> = [];

  constructor(opts: FtWriterOptions) {
    this.sink = opts.sink;
    this.nodeSize = opts.nodeSize ?? 4 << 20;
    this.basementSize = opts.basementNodeSize ?? 128 << 10;
    this.fanout = opts.fanout ?? 16;
    this.method = opts.compression ?? WRITER_COMPRESSION.none;
    this.checkpointLsn = opts.checkpointLsn ?? 1n;
    this.now = opts.now ?? 1_795_000_000n;
    invariant(this.fanout >= 2, 'fanout of at least 2');
    this.leafMaxMsn = opts.leafMaxMsn ?? 0n;
    for (const m of opts.messages ?? []) {
      const h = m.height ?? 1;
      invariant(Number.isInteger(h) && h >= 1, 'a message height of at least 1');
      let list = this.messagesAt.get(h);
      if (list === undefined) this.messagesAt.set(h, (list = []));
      list.push(m);
    }
  }

  /** Adds the next row as a committed (clean) entry; keys must increase strictly (bytewise). */
  add(key: Uint8Array, value: Uint8Array): void {
    this.addPacked(key, cleanEntry(value), key.length + value.length);
  }

  /**
   * Adds the next key with any MVCC stack: `uxrs[0 .. nc)` committed (uxrs[0] with xid 0),
   * then provisional records outermost first, each with the xid PerconaFT stores for its
   * level (the root's id, then each child's own id); a middle record may be a placeholder.
   */
  addEntry(key: Uint8Array, ule: Ule): void {
    this.addPacked(key, packEntry(ule), key.length + ule.uxrs.reduce((n, r) => n + (r.type === XR_INSERT ? r.value!.length : 0), 0));
  }

  private addPacked(key: Uint8Array, entry: PackedEntry, dataBytes: number): void {
    invariant(!this.finished, 'add() after finish()');
    if (this.lastKey !== undefined) invariant(Buffer.compare(this.lastKey, key) < 0, 'keys must be added in strictly increasing order');
    this.lastKey = key;
    this.rowCount++;
    this.dataBytes += dataBytes;
    const size = 4 + key.length + entrySize(entry);
    if (this.basement.length > 0 && this.basementBytes + size > this.basementSize) this.closeBasement();
    if (this.leaf.length > 0 && this.basement.length === 0 && this.leafBytes + size > this.nodeSize) this.closeLeaf();
    this.basement.push({ key, entry });
    this.basementBytes += size;
    this.leafBytes += size;
  }

  private closeBasement(): void {
    if (this.basement.length === 0) return;
    if (this.leaf.length > 0) this.leafPivots.push(this.prevBasement[this.prevBasement.length - 1]!.key);
    this.leaf.push([basementPartition(this.basement)]);
    this.prevBasement = this.basement;
    this.basement = [];
    this.basementBytes = 0;
  }

  private writeBlock(block: Uint8Array): bigint {
    const blocknum = BigInt(this.diskoffs.length);
    this.sink.pwrite(block, this.offset);
    this.diskoffs.push(BigInt(this.offset));
    this.sizes.push(BigInt(block.length));
    this.offset = align(this.offset + block.length, BLOCK_ALIGN);
    return blocknum;
  }

  private closeLeaf(): void {
    this.closeBasement();
    if (this.leaf.length === 0) return;
    const lastKey = this.prevBasement[this.prevBasement.length - 1]!.key;
    const blocknum = this.writeBlock(nodeBlock(this.method, 0, this.leafPivots, [], this.leaf.map((p) => p[0]!), this.leafMaxMsn));
    this.leaf = [];
    this.leafPivots = [];
    this.leafBytes = 0;
    this.push(0, { blocknum, lastKey, msn: this.leafMaxMsn });
  }

  /** Adds a child at a level; a level holding fanout + 1 children closes a node of the first fanout. */
  private push(level: number, child: ChildRef): void {
    const pending = (this.levels[level] ??= []);
    pending.push(child);
    if (pending.length > this.fanout) this.closeLevel(level, this.fanout, false);
  }

  /**
   * Writes a node one level up over the first `count` pending children of `level`, with the
   * messages of its height whose keys fall in its range (the last node of a level, `last`,
   * has no upper bound).
   */
  private closeLevel(level: number, count: number, last: boolean): void {
    const pending = this.levels[level]!;
    if (pending.length === 0) return;
    const children = pending.slice(0, count);
    const lower = this.levelLower[level];
    const upper = last ? undefined : children[children.length - 1]!.lastKey;
    const buffers: WriterMessage[][] = children.map(() => []);
    const waiting = this.messagesAt.get(level + 1) ?? [];
    const stay: WriterMessage[] = [];
    for (const m of waiting) {
      if (isBroadcast(m.type)) {
        for (const b of buffers) b.push(m);
        stay.push(m); // every node at this height gets it
        continue;
      }
      const key = m.key ?? new Uint8Array(0);
      if ((lower !== undefined && Buffer.compare(key, lower) <= 0) || (upper !== undefined && Buffer.compare(key, upper) > 0)) {
        stay.push(m);
        continue;
      }
      let i = children.findIndex((c) => Buffer.compare(key, c.lastKey) <= 0);
      if (i < 0) i = children.length - 1;
      buffers[i]!.push(m);
    }
    if (waiting.length > 0) this.messagesAt.set(level + 1, stay);
    const pivots = children.slice(0, -1).map((c) => c.lastKey);
    let msn = 0n;
    for (const c of children) if (c.msn > msn) msn = c.msn;
    for (const b of buffers) for (const m of b) if (m.msn > msn) msn = m.msn;
    const blocknum = this.writeBlock(nodeBlock(this.method, level + 1, pivots, children.map((c) => c.blocknum), buffers.map(bufferPartition), msn));
    const lastKey = children[children.length - 1]!.lastKey;
    this.levelLower[level] = lastKey;
    this.levels[level] = pending.slice(count);
    this.push(level + 1, { blocknum, lastKey, msn });
  }

  /** Writes what is pending, the translation and the header. */
  finish(): FtWriterResult {
    invariant(!this.finished, 'finish() twice');
    this.finished = true;
    if (this.rowCount === 0) {
      // An empty dictionary is one empty leaf with one empty basement.
      this.leaf.push([basementPartition([])]);
      this.prevBasement = [{ key: new Uint8Array(0), entry: cleanEntry(new Uint8Array(0)) }];
    }
    this.closeLeaf();
    // Close levels bottom-up until one node is left at the top.
    let root: bigint;
    let height = 0;
    for (let level = 0; ; level++) {
      const pending = this.levels[level] ?? [];
      const above = (this.levels[level + 1] ?? []).length;
      if (pending.length === 1 && above === 0 && this.levels.slice(level + 2).every((l) => l.length === 0)) {
        root = pending[0]!.blocknum;
        height = level;
        break;
      }
      this.closeLevel(level, pending.length, true);
    }
    // Broadcasts stay listed for every node of their height; a keyed message left over, or a
    // height above the root, means the tree has no node to hold it.
    for (const [h, list] of this.messagesAt) {
      invariant(h <= height, `messages at height ${h} but the tree is ${height} high`);
      invariant(list.every((m) => isBroadcast(m.type)), `a message at height ${h} found no node`);
    }
    const n = this.diskoffs.length;
    const bttLocation = align(this.offset, BLOCK_ALIGN);
    const t: TranslationImage = { smallestNeverUsed: BigInt(n), freelistHead: -1n, diskoffs: BigInt64Array.from(this.diskoffs), sizes: BigInt64Array.from(this.sizes) };
    t.diskoffs[1] = BigInt(bttLocation);
    t.sizes[1] = translationSizeOnDisk(n);
    const btt = encodeTranslationPadded(t);
    this.sink.pwrite(btt, bttLocation);
    const header = {
      ...newFtHeader({ now: this.now, nodesize: this.nodeSize, basementnodesize: this.basementSize, compressionMethod: this.method }),
      checkpointCount: 1n,
      checkpointLsn: this.checkpointLsn,
      translationLocation: BigInt(bttLocation),
      translationSize: translationSizeOnDisk(n),
      rootBlocknum: root,
      numrows: BigInt(this.rowCount),
      numbytes: BigInt(this.dataBytes),
      onDiskLogicalRows: BigInt(this.rowCount),
    };
    this.sink.pwrite(encodeFtHeaderSector(header), headerSlotOffset(headerSlotForCount(1n)));
    return { rows: this.rowCount, dataBytes: this.dataBytes, fileSize: bttLocation + btt.length, height, nodes: n - 3 };
  }
}
