/**
 * The serialized form of a B+tree node (our own format, documented in docs/node-format.md):
 * a 28-byte header (magic "tokubtnd", version, kind, reserved zeros, height, entry count,
 * payload length), the payload (leaf entries, or child blocknums then pivots), and a crc-32
 * of everything before it.
 *
 * Invariants:
 *  - encodeNode(n).length === encodedNodeSize(n), and decodeNode(encodeNode(n)) equals n.
 *  - decodeNode never returns a node for bytes that fail any check: a wrong length gives
 *    'truncated' or 'bad-length', any changed byte gives 'bad-checksum' (crc-32 detects every
 *    error burst of up to 32 bits), and fields that pass the checksum but are impossible give
 *    'bad-magic' / 'bad-version' / 'bad-header', and a length field running past the payload
 *    gives 'bad-length'. Errors name the blocknum and byte offset.
 *  - Only nodes that pass checkNodeShape are encoded.
 */
import CRC32 from 'crc-32';
import { ByteReader, ByteWriter, readU32At } from '../../base/bytes.js';
import { TokusimError } from '../../base/errors.js';
import { compareRanges, PackedRows } from './leaf-rows.js';
import { type BtreeNode, checkNodeShape, newPackedInternal, newPackedLeaf, PackedPivots } from './node.js';

/** The 8 ASCII bytes every serialized node starts with. */
export const NODE_MAGIC = 'tokubtnd';
/** The version of tokusim's own node format. */
export const NODE_FORMAT_VERSION = 1;
/** Size in bytes of a serialized node's header. */
export const NODE_HEADER_SIZE = 28;
/** Size in bytes of the checksum that ends a serialized node. */
export const NODE_CHECKSUM_SIZE = 4;
const KIND_LEAF = 1;
const KIND_INTERNAL = 2;
const MAGIC_BYTES = new TextEncoder().encode(NODE_MAGIC);

/** Where a node came from, for error messages. */
export interface NodeLocation {
  blocknum?: bigint;
  /** The file holding the node, when known. */
  file?: string;
  /** Offset of the node's first byte in that file (added to offsets in errors). */
  baseOffset?: number;
}

/** Exact size in bytes of encodeNode(node), computed without encoding. */
export function encodedNodeSize(node: BtreeNode): number {
  return NODE_HEADER_SIZE + payloadSize(node) + NODE_CHECKSUM_SIZE;
}

function payloadSize(node: BtreeNode): number {
  let n = 0;
  if (node.kind === 'leaf') {
    const packed = node.packedRows;
    if (packed !== null) return packed.bytes.length;
    for (let i = 0; i < node.keys.length; i++) n += 8 + node.keys[i]!.length + node.values[i]!.length;
  } else {
    const packed = node.packedPivots;
    if (packed !== null) return packed.bytes.length;
    n += 8 * node.children.length;
    for (const p of node.pivots) n += 4 + p.length;
  }
  return n;
}

/** The checksum stored at the end of a serialized node (CRC-32 of the bytes before it). */
export function nodeChecksum(bytes: Uint8Array): number {
  return CRC32.buf(bytes) >>> 0;
}

/** Serializes a B+tree node (header, entries, checksum); throws when the node is malformed. */
export function encodeNode(node: BtreeNode): Uint8Array {
  checkNodeShape(node, 'encodeNode');
  const payload = payloadSize(node);
  const w = new ByteWriter(NODE_HEADER_SIZE + payload + NODE_CHECKSUM_SIZE);
  w.bytes(MAGIC_BYTES);
  w.u32(NODE_FORMAT_VERSION);
  w.u8(node.kind === 'leaf' ? KIND_LEAF : KIND_INTERNAL);
  w.u8(0).u8(0).u8(0);
  w.u32(node.height);
  w.u32(node.kind === 'leaf' ? node.count : node.childCount);
  w.u32(payload);
  if (node.kind === 'leaf' && node.packedRows !== null) {
    // Packed rows are already laid out as the payload.
    w.bytes(node.packedRows.bytes);
  } else if (node.kind === 'leaf') {
    for (let i = 0; i < node.keys.length; i++) {
      const k = node.keys[i]!;
      const v = node.values[i]!;
      w.u32(k.length).bytes(k).u32(v.length).bytes(v);
    }
  } else if (node.packedPivots !== null) {
    // Packed pivots are the payload as it was read.
    w.bytes(node.packedPivots.bytes);
  } else {
    for (const c of node.children) w.u64(c);
    for (const p of node.pivots) w.u32(p.length).bytes(p);
  }
  w.u32(nodeChecksum(w.bytesView()));
  return w.toBytes();
}

function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Decode a node, verifying length, checksum and every field (see the invariants above). */
export function decodeNode(bytes: Uint8Array, loc: NodeLocation = {}): BtreeNode {
  const base = loc.baseOffset ?? 0;
  const label = loc.blocknum !== undefined ? `btree node blocknum ${loc.blocknum}` : 'btree node';
  const file = loc.file ?? (loc.blocknum !== undefined ? `blocknum ${loc.blocknum}` : 'btree node');
  const fail = (
    kind: 'truncated' | 'bad-length' | 'bad-checksum' | 'bad-magic' | 'bad-version' | 'bad-header',
    msg: string,
    offset: number,
    expected?: string,
    actual?: string,
  ): never => {
    throw new TokusimError(kind, `${label}: ${msg}`, {
      file,
      offset: base + offset,
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
    });
  };

  const minSize = NODE_HEADER_SIZE + NODE_CHECKSUM_SIZE;
  if (bytes.length < minSize) {
    fail('truncated', 'shorter than a node header and checksum', bytes.length, `>= ${minSize} bytes`, `${bytes.length} bytes`);
  }
  const payload = readU32At(bytes, 24);
  // Check the total length against the declared payload before trusting the checksum position.
  const declared = NODE_HEADER_SIZE + payload + NODE_CHECKSUM_SIZE;
  if (declared !== bytes.length) {
    fail(
      declared > bytes.length ? 'truncated' : 'bad-length',
      'node length does not match its declared payload length',
      24,
      `${declared} bytes`,
      `${bytes.length} bytes`,
    );
  }
  const sumAt = bytes.length - NODE_CHECKSUM_SIZE;
  const stored = readU32At(bytes, sumAt);
  const computed = nodeChecksum(bytes.subarray(0, sumAt));
  if (stored !== computed) {
    fail('bad-checksum', 'checksum mismatch', sumAt, hex32(stored), hex32(computed));
  }

  // Field-level short reads name the blocknum through the reader's label. The node is whole
  // (its length and checksum held), so a length field running past it is damage, 'bad-length'.
  const readerLabel = loc.file !== undefined && loc.blocknum !== undefined ? `${loc.file} blocknum ${loc.blocknum}` : file;
  const r = new ByteReader(bytes, 0, sumAt, readerLabel, base, 'bad-length');
  const magic = r.bytes(8, 'magic');
  for (let i = 0; i < 8; i++) {
    if (magic[i] !== MAGIC_BYTES[i]) fail('bad-magic', 'bad magic', 0, NODE_MAGIC, new TextDecoder('latin1').decode(magic));
  }
  const version = r.u32('version');
  if (version !== NODE_FORMAT_VERSION) fail('bad-version', 'unsupported node format version', 8, String(NODE_FORMAT_VERSION), String(version));
  const kind = r.u8('kind');
  if (kind !== KIND_LEAF && kind !== KIND_INTERNAL) fail('bad-header', 'unknown node kind', 12, '1 (leaf) or 2 (internal)', String(kind));
  for (let i = 0; i < 3; i++) {
    const z = r.u8('reserved');
    if (z !== 0) fail('bad-header', 'reserved byte is not zero', 13 + i, '0', String(z));
  }
  const height = r.u32('height');
  const count = r.u32('count');
  r.u32('payload length');

  if (kind === KIND_LEAF) {
    if (height !== 0) fail('bad-header', 'leaf with nonzero height', 16, '0', String(height));
    // Each entry needs at least 8 bytes, so a count larger than that is impossible.
    if (count * 8 > payload) fail('bad-header', 'entry count does not fit the payload', 20, `<= ${Math.floor(payload / 8)}`, String(count));
    // The leaf keeps one copy of the payload with its offset table after it, in one array
    // buffer (leaf-rows.ts); offsets are relative to the payload.
    const payloadLen = sumAt - NODE_HEADER_SIZE;
    const startsAt = (payloadLen + 3) & ~3;
    const buffer = new ArrayBuffer(startsAt + 4 * (2 * count + 1));
    const starts = new Uint32Array(buffer, startsAt, 2 * count + 1);
    let prevKey = -1;
    let prevKeyEnd = -1;
    for (let i = 0; i < count; i++) {
      const kAt = r.pos;
      const kLen = r.u32('key length');
      r.need(kLen, 'key');
      if (prevKey >= 0 && compareRanges(bytes, prevKey, prevKeyEnd, r.pos, r.pos + kLen) >= 0) {
        fail('bad-header', `leaf keys out of order at entry ${i}`, kAt);
      }
      prevKey = r.pos;
      prevKeyEnd = r.pos + kLen;
      starts[2 * i] = r.pos - NODE_HEADER_SIZE;
      r.pos += kLen;
      const vLen = r.u32('value length');
      r.need(vLen, 'value');
      starts[2 * i + 1] = r.pos - NODE_HEADER_SIZE;
      r.pos += vLen;
    }
    if (r.pos !== sumAt) fail('bad-length', 'bytes left over after the last leaf entry', r.pos, `${sumAt - NODE_HEADER_SIZE} payload bytes`, `${r.pos - NODE_HEADER_SIZE}`);
    starts[2 * count] = payloadLen + 4;
    const rowBytes = new Uint8Array(buffer, 0, payloadLen);
    rowBytes.set(bytes.subarray(NODE_HEADER_SIZE, sumAt));
    return newPackedLeaf(new PackedRows(rowBytes, starts));
  }

  if (height === 0) fail('bad-header', 'internal node with height 0', 16, '>= 1', '0');
  if (count === 0 || count * 8 > payload) fail('bad-header', 'child count does not fit the payload', 20, `1..${Math.floor(payload / 8)}`, String(count));
  // Like a leaf, the node keeps one copy of the payload, then its children decoded and the
  // pivots' offsets, in one array buffer (PackedPivots in node.ts); offsets are relative to
  // the payload.
  const payloadLen = sumAt - NODE_HEADER_SIZE;
  const childrenAt = (payloadLen + 7) & ~7;
  const startsAt = childrenAt + 8 * count;
  const buffer = new ArrayBuffer(startsAt + 4 * count);
  const children = new BigUint64Array(buffer, childrenAt, count);
  for (let i = 0; i < count; i++) children[i] = r.u64('child blocknum');
  const starts = new Uint32Array(buffer, startsAt, count);
  let prev = -1;
  let prevEnd = -1;
  for (let i = 0; i + 1 < count; i++) {
    const pAt = r.pos;
    const len = r.u32('pivot length');
    r.need(len, 'pivot');
    if (prev >= 0 && compareRanges(bytes, prev, prevEnd, r.pos, r.pos + len) >= 0) fail('bad-header', `pivots out of order at pivot ${i}`, pAt);
    prev = r.pos;
    prevEnd = r.pos + len;
    starts[i] = r.pos - NODE_HEADER_SIZE;
    r.pos += len;
  }
  if (r.pos !== sumAt) fail('bad-length', 'bytes left over after the last pivot', r.pos, `${sumAt - NODE_HEADER_SIZE} payload bytes`, `${r.pos - NODE_HEADER_SIZE}`);
  starts[count - 1] = payloadLen + 4;
  const payloadBytes = new Uint8Array(buffer, 0, payloadLen);
  payloadBytes.set(bytes.subarray(NODE_HEADER_SIZE, sumAt));
  return newPackedInternal(height, new PackedPivots(payloadBytes, children, starts));
}
