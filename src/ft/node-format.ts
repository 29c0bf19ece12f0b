/**
 * Decoding one fractal-tree node block of layout 29 (docs/ft-nodes.md; PerconaFT
 * ft/serialize/ft_node-serialize.cc `deserialize_ftnode_from_rbuf`, `deserialize_ftnode_info`,
 * `deserialize_ftnode_partition`, ft/bndata.cc `bn_data::deserialize_from_rbuf`,
 * ft/msg_buffer.cc `message_buffer::deserialize_from_rbuf`).
 *
 * Block layout (integers little-endian, u64 as high word then low word unless noted):
 *  - header: magic "tokuleaf" or "tokunode", i32 layout version, i32 original layout version,
 *    u32 build id, i32 n_children, n_children x (u32 partition start, u32 partition size),
 *    u32 x1764 of all the header bytes before it;
 *  - the node-info sub-block, then one sub-block per partition (at its start offset). A
 *    sub-block is u32 compressed size, u32 uncompressed size, the compressed bytes, u32 x1764
 *    of those three. Decompressed, its last four bytes are an x1764 of the rest;
 *  - node info: u64 max MSN applied to the node on disk, u32 unused, u32 flags, i32 height,
 *    u64 oldest referenced xid known, n_children - 1 pivot keys (u32 length + bytes), then
 *    for a non-leaf n_children u64 child blocknums;
 *  - a leaf partition (basement node): byte 0xaa, u32 entry count, a 14-byte header (u32 key
 *    bytes, u32 value bytes, u32 fixed key-pair length, u8 all keys same length, u8 keys and
 *    values apart), then either the entries each with its key inline, or (keys apart) the
 *    key-pairs (u32 entry offset + key) followed by the packed entries;
 *  - a non-leaf partition (message buffer): byte 0xbb, i32 message count, the messages (u8 type,
 *    u8 fresh, u64 MSN, u8 xid count, u64 xids, u32 key length, key, u32 value length, value),
 *    then three offset lists (fresh, stale, broadcast), each an i32 count and i32 offsets.
 *
 * Invariants:
 *  - decodeFtNode checks every checksum, count, length and offset against the bytes it has
 *    before using it, and throws one TokusimError ('bad-node', 'bad-checksum' or 'bad-magic')
 *    naming file, blocknum, the file offset of the part at fault and expected vs actual. It
 *    never returns a node whose bytes did not all check out. decodeFtNodeLazy checks a leaf's
 *    partitions the same way, each when it is decoded.
 *  - A decoded node reproduces every field tokuftdump prints (sizes included), so the dump can
 *    be made from it alone.
 */
import { TokusimError } from '../base/errors.js';
import { x1764 } from '../format/x1764.js';
import { decompressSubBlock } from './compression.js';
import { unpackLeafEntry, type Ule } from './leafentry.js';

/** The layout version this decoder reads. */
export const FT_LAYOUT_VERSION = 29;

const PARTITION_LEAF = 0xaa;
const PARTITION_MESSAGES = 0xbb;

/** One message of a non-leaf buffer. */
export interface FtMessage {
  type: number;
  /** Whether the message had not yet been applied to any basement below when written. */
  fresh: boolean;
  msn: bigint;
  /** The transaction stack, root first (empty for a message outside any transaction). */
  xids: bigint[];
  key: Uint8Array;
  value: Uint8Array;
}

/** A non-leaf node's buffer for one child. */
export interface MessageBuffer {
  messages: FtMessage[];
  /** The stored offset lists (offsets into PerconaFT's in-memory buffer), kept for the dump. */
  freshOffsets: number[];
  staleOffsets: number[];
  broadcastOffsets: number[];
}

/** One entry of a basement node. */
export interface LeafEntry {
  key: Uint8Array;
  ule: Ule;
  /** Bytes of the packed entry (type byte on, key excluded). */
  packedSize: number;
}

/** A leaf node's partition. */
export interface BasementNode {
  entries: LeafEntry[];
  /** Key bytes plus packed entry bytes as stored (PerconaFT `bn_data::get_disk_size`). */
  diskSize: number;
}

/** Sizes of one stored sub-block. */
export interface SubBlockInfo {
  /** File offset of the sub-block (its compressed-size word). */
  offset: number;
  compressedSize: number;
  uncompressedSize: number;
}

/** A decoded node. */
export interface FtNode {
  blocknum: bigint;
  /** File offset and size of the block (from the translation table). */
  diskOffset: number;
  diskSize: number;
  layoutVersion: number;
  layoutVersionOriginal: number;
  buildId: number;
  height: number;
  flags: number;
  maxMsnOnDisk: bigint;
  oldestReferencedXidKnown: bigint;
  pivots: Uint8Array[];
  /** Child blocknums (non-leaf nodes). */
  childBlocknums: bigint[];
  /** Message buffers, one per child (non-leaf nodes). */
  buffers: MessageBuffer[];
  /** Basement nodes (leaf nodes). */
  basements: BasementNode[];
  nodeInfo: SubBlockInfo;
  partitions: SubBlockInfo[];
}

/** Where a node block is, for errors. */
export interface NodeSite {
  file: string;
  blocknum: bigint;
  /** File offset of the block's first byte. */
  diskOffset: number;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function u64hl(b: Uint8Array, at: number): bigint {
  return (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));
}

/** A bounds-checked cursor over decompressed (or header) bytes. */
class Cursor {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
    private readonly fail: (msg: string, expected: string, actual: string, at: number) => never,
  ) {}
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) this.fail(`${what} runs past the end`, `${n} bytes`, `${Math.max(0, this.end - this.pos)} left`, this.pos);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = u32(this.buf, this.pos);
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    return this.u32(what) | 0;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = u64hl(this.buf, this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  fail0(msg: string, expected: string, actual: string): never {
    return this.fail(msg, expected, actual, this.pos);
  }
  failAt(at: number, msg: string, expected: string, actual: string): never {
    return this.fail(msg, expected, actual, at);
  }
  /** u32 length then that many bytes. */
  lenBytes(what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    return this.bytes(n, what);
  }
}

/** The node's header fields (the part before the node-info sub-block). */
export interface FtNodeHeader {
  magic: 'tokuleaf' | 'tokunode';
  layoutVersion: number;
  layoutVersionOriginal: number;
  buildId: number;
  nChildren: number;
  partitionStarts: number[];
  partitionSizes: number[];
  /** Bytes of the header, checksum included. */
  size: number;
}

const MAGIC_LEAF = [0x74, 0x6f, 0x6b, 0x75, 0x6c, 0x65, 0x61, 0x66];
const MAGIC_NODE = [0x74, 0x6f, 0x6b, 0x75, 0x6e, 0x6f, 0x64, 0x65];

function err(kind: 'bad-node' | 'bad-checksum' | 'bad-magic', site: NodeSite, msg: string, at: number | undefined, expected?: string, actual?: string): TokusimError {
  const where: { file: string; blocknum: bigint; offset?: number; expected?: string; actual?: string } = { file: site.file, blocknum: site.blocknum };
  if (at !== undefined) where.offset = site.diskOffset + at;
  if (expected !== undefined) where.expected = expected;
  if (actual !== undefined) where.actual = actual;
  return new TokusimError(kind, msg, where);
}

/** Decode and check the header at the start of a node block. */
export function decodeFtNodeHeader(block: Uint8Array, site: NodeSite): FtNodeHeader {
  const c = new Cursor(block, block.length, (m, e, a, at) => {
    throw err('bad-node', site, `node header: ${m}`, at, e, a);
  });
  const magicBytes = c.bytes(8, 'magic');
  const isLeaf = MAGIC_LEAF.every((b, i) => magicBytes[i] === b);
  const isNode = MAGIC_NODE.every((b, i) => magicBytes[i] === b);
  if (!isLeaf && !isNode) {
    throw err('bad-magic', site, 'not a fractal-tree node', 0, '"tokuleaf" or "tokunode"', Array.from(magicBytes, (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  const layoutVersion = c.i32('layout version');
  if (layoutVersion !== FT_LAYOUT_VERSION) {
    throw err('bad-node', site, 'unsupported node layout version', 8, String(FT_LAYOUT_VERSION), String(layoutVersion));
  }
  const layoutVersionOriginal = c.i32('original layout version');
  const buildId = c.u32('build id');
  const nChildrenAt = c.pos;
  const nChildren = c.i32('n_children');
  const maxChildren = Math.floor((block.length - c.pos - 4) / 8);
  if (nChildren < 1 || nChildren > maxChildren) throw err('bad-node', site, 'n_children out of range', nChildrenAt, `1..${Math.max(1, maxChildren)}`, String(nChildren));
  const partitionStarts: number[] = [];
  const partitionSizes: number[] = [];
  for (let i = 0; i < nChildren; i++) {
    partitionStarts.push(c.u32('partition start'));
    partitionSizes.push(c.u32('partition size'));
  }
  const sumAt = c.pos;
  const stored = c.u32('header checksum');
  const actual = x1764(block, 0, sumAt);
  if (stored !== actual) throw err('bad-checksum', site, 'node header checksum mismatch', sumAt, `x1764 0x${actual.toString(16).padStart(8, '0')}`, `0x${stored.toString(16).padStart(8, '0')}`);
  return { magic: isLeaf ? 'tokuleaf' : 'tokunode', layoutVersion, layoutVersionOriginal, buildId, nChildren, partitionStarts, partitionSizes, size: c.pos };
}

/**
 * Read one sub-block at `at` (within `limit`), check its outer checksum, decompress it and
 * check the inner checksum. Returns the data without the inner checksum.
 */
function readSubBlock(block: Uint8Array, at: number, limit: number, site: NodeSite, what: string): { data: Uint8Array; info: SubBlockInfo; next: number } {
  if (at + 8 > limit) throw err('bad-node', site, `${what}: sub-block sizes run past the end`, at, `8 bytes`, `${Math.max(0, limit - at)} left`);
  const compressedSize = u32(block, at);
  const uncompressedSize = u32(block, at + 4);
  if (compressedSize < 1 || at + 8 + compressedSize + 4 > limit) {
    throw err('bad-node', site, `${what}: compressed size out of range`, at, `1..${Math.max(1, limit - at - 12)}`, String(compressedSize));
  }
  if (uncompressedSize < 4) throw err('bad-node', site, `${what}: uncompressed size out of range`, at + 4, 'at least 4 (the checksum)', String(uncompressedSize));
  const sumAt = at + 8 + compressedSize;
  const stored = u32(block, sumAt);
  const actual = x1764(block, at, sumAt);
  if (stored !== actual) {
    throw err('bad-checksum', site, `${what}: compressed sub-block checksum mismatch`, sumAt, `x1764 0x${actual.toString(16).padStart(8, '0')}`, `0x${stored.toString(16).padStart(8, '0')}`);
  }
  const raw = decompressSubBlock(block.subarray(at + 8, sumAt), uncompressedSize, { file: site.file, blocknum: site.blocknum, offset: site.diskOffset + at + 8, what });
  const dataEnd = uncompressedSize - 4;
  const innerStored = u32(raw, dataEnd);
  const innerActual = x1764(raw, 0, dataEnd);
  if (innerStored !== innerActual) {
    throw err('bad-checksum', site, `${what}: checksum of the decompressed data mismatch`, at, `x1764 0x${innerActual.toString(16).padStart(8, '0')}`, `0x${innerStored.toString(16).padStart(8, '0')}`);
  }
  return { data: raw.subarray(0, dataEnd), info: { offset: at, compressedSize, uncompressedSize }, next: sumAt + 4 };
}

/** A failure inside decompressed bytes: the offset is that of the sub-block, the position inside it is in the message. */
function innerFail(site: NodeSite, what: string, subBlockAt: number): (m: string, e: string, a: string, at: number) => never {
  return (m, e, a, at) => {
    throw err('bad-node', site, `${what}, byte ${at} of its data: ${m}`, subBlockAt, e, a);
  };
}

function decodeMessageBuffer(data: Uint8Array, site: NodeSite, what: string, at: number): MessageBuffer {
  const c = new Cursor(data, data.length, innerFail(site, what, at));
  if (c.u8('partition type') !== PARTITION_MESSAGES) {
    throw err('bad-node', site, `${what}: not a message buffer`, at, '0xbb', `0x${data[0]!.toString(16)}`);
  }
  const n = c.i32('message count');
  // Each message takes at least 19 bytes (type, fresh, MSN, xid count, two lengths).
  if (n < 0 || n > (data.length - c.pos) / 19) c.fail0('message count out of range', `0..${Math.floor((data.length - c.pos) / 19)}`, String(n));
  const messages: FtMessage[] = [];
  for (let i = 0; i < n; i++) {
    const type = c.u8('message type');
    if (type > 15 || type === 3 || type === 5 || type === 7) c.fail0(`message ${i}: unknown message type`, 'a PerconaFT ft_msg_type', String(type));
    const fresh = c.u8('freshness') !== 0;
    const msn = c.u64('MSN');
    const nx = c.u8('xid count');
    const xids: bigint[] = [];
    for (let j = 0; j < nx; j++) xids.push(c.u64('xid'));
    const key = c.lenBytes('key');
    const value = c.lenBytes('value');
    messages.push({ type, fresh, msn, xids, key, value });
  }
  const list = (what2: string): number[] => {
    const k = c.i32(`${what2} count`);
    if (k < 0 || k > n) c.fail0(`${what2} count out of range`, `0..${n}`, String(k));
    const out: number[] = [];
    for (let i = 0; i < k; i++) out.push(c.i32(`${what2} offset`));
    return out;
  };
  const freshOffsets = list('fresh offsets');
  const staleOffsets = list('stale offsets');
  const broadcastOffsets = list('broadcast offsets');
  if (c.pos !== data.length) c.fail0('bytes left over after the offset lists', `${data.length - 0} bytes used`, `${c.pos} used`);
  return { messages, freshOffsets, staleOffsets, broadcastOffsets };
}

function decodeBasement(data: Uint8Array, site: NodeSite, what: string, at: number): BasementNode {
  const fail = innerFail(site, what, at);
  const c = new Cursor(data, data.length, fail);
  if (c.u8('partition type') !== PARTITION_LEAF) {
    throw err('bad-node', site, `${what}: not a basement node`, at, '0xaa', `0x${data[0]!.toString(16)}`);
  }
  const n = c.u32('entry count');
  const keyBytes = c.u32('key bytes');
  const valBytes = c.u32('value bytes');
  const fixedPairLength = c.u32('fixed key-pair length');
  const sameLength = c.u8('all keys same length');
  const separate = c.u8('keys and values apart');
  const left = data.length - c.pos;
  if (sameLength !== separate) c.fail0('"all keys same length" and "keys and values apart" disagree', 'equal flags', `${sameLength} and ${separate}`);
  const site2 = { file: site.file, blocknum: site.blocknum, what };
  const entries: LeafEntry[] = [];
  if (separate) {
    if (keyBytes + valBytes !== left) c.fail0('key and value bytes do not fill the partition', `${left}`, `${keyBytes} + ${valBytes}`);
    if (n > 0 && (fixedPairLength < 4 || n * fixedPairLength !== keyBytes)) c.fail0('fixed key-pair length does not match', `${n} x length = ${keyBytes}, length >= 4`, String(fixedPairLength));
    const keysAt = c.pos;
    const valsAt = keysAt + keyBytes;
    const valsEnd = valsAt + valBytes;
    let expectOffset = 0;
    for (let i = 0; i < n; i++) {
      const kp = keysAt + i * fixedPairLength;
      const leOffset = u32(data, kp);
      if (leOffset !== expectOffset) c.failAt(kp, `entry ${i}: leaf entry offset out of order`, String(expectOffset), String(leOffset));
      const key = data.subarray(kp + 4, kp + fixedPairLength);
      const { ule, size } = unpackLeafEntry(data, valsAt + leOffset, valsEnd, site2);
      expectOffset += size;
      entries.push({ key, ule, packedSize: size });
    }
    if (expectOffset !== valBytes) c.fail0('leaf entries do not fill the value bytes', String(valBytes), String(expectOffset));
    return { entries, diskSize: keyBytes + valBytes };
  }
  // Keys inline: each entry is its type byte, u32 key length, the entry's fixed fields, the
  // key, then the rest of the entry.
  let p = c.pos;
  let disk = 0;
  for (let i = 0; i < n; i++) {
    const { ule, size, key, consumed } = unpackLeafEntry(data, p, data.length, site2, true);
    entries.push({ key: key!, ule, packedSize: size });
    p += consumed;
    disk += 4 + key!.length + size;
  }
  if (p !== data.length) c.failAt(p, 'bytes left over after the leaf entries', `${data.length - c.pos} bytes of entries`, `${p - c.pos}`);
  return { entries, diskSize: disk };
}

/** Decode one node block read from the file at `site.diskOffset`. */
export function decodeFtNode(block: Uint8Array, site: NodeSite): FtNode {
  return decodeNode(block, site, false).node;
}

/**
 * A node whose leaf partitions are decoded one at a time, when asked for: `node.basements` is
 * empty, and `basement(i)` reads, checks and decodes partition i (throwing as decodeFtNode
 * would). A reader that streams rows holds one basement's entries at a time instead of the
 * whole leaf's. For a non-leaf node everything is decoded at once, as by decodeFtNode.
 */
export interface LazyFtNode {
  /** The node; for a leaf, `basements` is empty and `partitions` holds the stored sizes, checked when decoded. */
  node: FtNode;
  /** Decode leaf partition i. */
  basement(i: number): BasementNode;
}

/** Decode one node block, deferring its leaf partitions (see {@link LazyFtNode}). */
export function decodeFtNodeLazy(block: Uint8Array, site: NodeSite): LazyFtNode {
  return decodeNode(block, site, true);
}

function decodeNode(block: Uint8Array, site: NodeSite, lazy: boolean): LazyFtNode {
  const h = decodeFtNodeHeader(block, site);
  const info = readSubBlock(block, h.size, block.length, site, 'node info');
  const c = new Cursor(info.data, info.data.length, innerFail(site, 'node info', h.size));
  const maxMsnOnDisk = c.u64('max MSN');
  c.u32('unused size');
  const flags = c.u32('flags');
  const height = c.i32('height');
  if (height < 0 || height > 64 || (height === 0) !== (h.magic === 'tokuleaf')) {
    c.fail0('height does not match the magic', h.magic === 'tokuleaf' ? '0' : '1..64', String(height));
  }
  const oldestReferencedXidKnown = c.u64('oldest referenced xid');
  const pivots: Uint8Array[] = [];
  for (let i = 0; i < h.nChildren - 1; i++) pivots.push(c.lenBytes('pivot key'));
  const childBlocknums: bigint[] = [];
  if (height > 0) for (let i = 0; i < h.nChildren; i++) childBlocknums.push(c.u64('child blocknum'));
  if (c.pos !== info.data.length) c.fail0('bytes left over after the node info', String(c.pos), String(info.data.length));

  const buffers: MessageBuffer[] = [];
  const basements: BasementNode[] = [];
  const partitions: SubBlockInfo[] = [];
  for (let i = 0; i < h.nChildren; i++) {
    const start = h.partitionStarts[i]!;
    const size = h.partitionSizes[i]!;
    const what = `partition ${i}`;
    if (start < info.next || start + size > block.length || size < 13) {
      throw err('bad-node', site, `${what} lies outside the block`, h.size - 4 - 8 * (h.nChildren - i), `within [${info.next}, ${block.length}), at least 13 bytes`, `[${start}, ${start + size})`);
    }
    if (lazy && height === 0) {
      partitions.push({ offset: start, compressedSize: u32(block, start), uncompressedSize: u32(block, start + 4) });
      continue;
    }
    const sb = readPartition(block, start, size, site, what);
    partitions.push(sb.info);
    if (height > 0) buffers.push(decodeMessageBuffer(sb.data, site, what, start));
    else basements.push(decodeBasement(sb.data, site, what, start));
  }
  const basement = (i: number): BasementNode => {
    if (!lazy || height > 0) return basements[i]!;
    const start = h.partitionStarts[i]!;
    const what = `partition ${i}`;
    const sb = readPartition(block, start, h.partitionSizes[i]!, site, what);
    return decodeBasement(sb.data, site, what, start);
  };
  const node: FtNode = {
    blocknum: site.blocknum,
    diskOffset: site.diskOffset,
    diskSize: block.length,
    layoutVersion: h.layoutVersion,
    layoutVersionOriginal: h.layoutVersionOriginal,
    buildId: h.buildId,
    height,
    flags,
    maxMsnOnDisk,
    oldestReferencedXidKnown,
    pivots,
    childBlocknums,
    buffers,
    basements,
    nodeInfo: info.info,
    partitions,
  };
  return { node, basement };
}

/** Read one partition's sub-block, which must fill the partition's stored size exactly. */
function readPartition(block: Uint8Array, start: number, size: number, site: NodeSite, what: string): { data: Uint8Array; info: SubBlockInfo } {
  const sb = readSubBlock(block, start, start + size, site, what);
  if (sb.next !== start + size) throw err('bad-node', site, `${what}: size does not match its sub-block`, start, String(size), String(sb.next - start));
  return sb;
}
