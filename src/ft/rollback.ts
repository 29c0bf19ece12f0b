/**
 * Rollback-log nodes ("tokuroll" blocks of tokudb.rollback; docs/ft-nodes.md "Rollback
 * nodes"; PerconaFT ft/serialize/ft_node-serialize.cc `deserialize_rollback_log_from_rbuf`,
 * `decompress_from_raw_block_into_rbuf`, ft/logger/logformat.cc `rollbacks[]`).
 *
 * Block layout: "tokuroll", i32 layout version, i32 original layout version, u32 build id;
 * u32 sub-block count n (1..8), n x (u32 compressed size, u32 uncompressed size, u32 x1764 of
 * the compressed bytes), u32 x1764 of the header so far; then the n compressed sub-blocks back
 * to back (each with its method byte). Their concatenated data holds: TXNID_PAIR of the owning
 * transaction (two u64), u64 sequence, u64 blocknum (must equal the block's own), u64 previous
 * blocknum, u64 resident byte count, u64 arena size, then roll entries newest first, each a u32
 * size (counting itself), a command letter and the fields of that rollback type.
 *
 * Invariants:
 *  - Every size, count and checksum is checked before use; a failure is one TokusimError naming
 *    file, blocknum and offset.
 */
import { TokusimError } from '../base/errors.js';
import { x1764 } from '../format/x1764.js';
import { decompressSubBlock } from './compression.js';
import type { NodeSite } from './node-format.js';

/** The type of a roll entry's field, as PerconaFT's rollback log format names it. */
export type RollbackFieldType = 'FILENUM' | 'BYTESTRING' | 'TXNID_PAIR' | 'uint64_t' | 'BLOCKNUM' | 'FILENUMS' | 'bool';

/** The rollback entry types: command letter, name, fields (PerconaFT logformat.cc `rollbacks[]`). */
export const ROLLBACK_TYPES: ReadonlyArray<{ cmd: string; name: string; fields: ReadonlyArray<[RollbackFieldType, string]> }> = [
  { cmd: 'U', name: 'fdelete', fields: [['FILENUM', 'filenum']] },
  { cmd: 'F', name: 'fcreate', fields: [['FILENUM', 'filenum'], ['BYTESTRING', 'iname']] },
  { cmd: 'n', name: 'frename', fields: [['BYTESTRING', 'old_iname'], ['BYTESTRING', 'new_iname']] },
  { cmd: 'i', name: 'cmdinsert', fields: [['FILENUM', 'filenum'], ['BYTESTRING', 'key']] },
  { cmd: 'd', name: 'cmddelete', fields: [['FILENUM', 'filenum'], ['BYTESTRING', 'key']] },
  { cmd: 'r', name: 'rollinclude', fields: [['TXNID_PAIR', 'xid'], ['uint64_t', 'num_nodes'], ['BLOCKNUM', 'spilled_head'], ['BLOCKNUM', 'spilled_tail']] },
  { cmd: 'l', name: 'load', fields: [['FILENUM', 'old_filenum'], ['BYTESTRING', 'new_iname']] },
  { cmd: 'h', name: 'hot_index', fields: [['FILENUMS', 'hot_index_filenums']] },
  { cmd: 'R', name: 'dictionary_redirect', fields: [['FILENUM', 'old_filenum'], ['FILENUM', 'new_filenum']] },
  { cmd: 'u', name: 'cmdupdate', fields: [['FILENUM', 'filenum'], ['BYTESTRING', 'key']] },
  { cmd: 'B', name: 'cmdupdatebroadcast', fields: [['FILENUM', 'filenum'], ['bool', 'is_resetting_op']] },
  { cmd: 'D', name: 'change_fdescriptor', fields: [['FILENUM', 'filenum'], ['BYTESTRING', 'old_descriptor']] },
];

/** A field value: numbers as bigint or number, byte strings as bytes, FILENUMS as a list, TXNID_PAIR as [parent, child]. */
export type RollbackFieldValue = number | bigint | boolean | Uint8Array | number[] | [bigint, bigint];

/** One roll entry. */
export interface RollEntry {
  name: string;
  cmd: string;
  fields: Array<{ name: string; type: RollbackFieldType; value: RollbackFieldValue }>;
}

/** A decoded rollback-log node. */
export interface RollbackNode {
  blocknum: bigint;
  diskOffset: number;
  diskSize: number;
  layoutVersion: number;
  layoutVersionOriginal: number;
  buildId: number;
  subBlocks: Array<{ compressedSize: number; uncompressedSize: number }>;
  txnid: [bigint, bigint];
  sequence: bigint;
  previous: bigint;
  residentBytecount: bigint;
  arenaSize: bigint;
  /** Entries as stored: newest first. */
  entries: RollEntry[];
}

const MAGIC = [0x74, 0x6f, 0x6b, 0x75, 0x72, 0x6f, 0x6c, 0x6c];

/** True when a block starts with "tokuroll". */
export function isRollbackBlock(block: Uint8Array): boolean {
  return block.length >= 8 && MAGIC.every((b, i) => block[i] === b);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function u64(b: Uint8Array, at: number): bigint {
  return (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));
}

/** Decode a rollback-log node block. */
export function decodeRollbackNode(block: Uint8Array, site: NodeSite): RollbackNode {
  const fail = (msg: string, at: number | undefined, expected: string, actual: string): never => {
    const where: { file: string; blocknum: bigint; offset?: number; expected: string; actual: string } = { file: site.file, blocknum: site.blocknum, expected, actual };
    if (at !== undefined) where.offset = site.diskOffset + at;
    throw new TokusimError('bad-node', `rollback node: ${msg}`, where);
  };
  if (!isRollbackBlock(block)) fail('not a rollback node', 0, '"tokuroll"', Array.from(block.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' '));
  if (block.length < 24) fail('header runs past the end of the block', 0, 'at least 24 bytes', String(block.length));
  const layoutVersion = u32(block, 8) | 0;
  if (layoutVersion !== 29) fail('unsupported layout version', 8, '29', String(layoutVersion));
  const layoutVersionOriginal = u32(block, 12) | 0;
  const buildId = u32(block, 16);
  const n = u32(block, 20);
  if (n < 1 || n > 8) fail('sub-block count out of range', 20, '1..8', String(n));
  const headerLength = 24 + 12 * n;
  if (headerLength + 4 > block.length) fail('sub-block table runs past the end of the block', 24, `${headerLength + 4} bytes`, String(block.length));
  const storedSum = u32(block, headerLength);
  const actualSum = x1764(block, 0, headerLength);
  if (storedSum !== actualSum) {
    throw new TokusimError('bad-checksum', 'rollback node: header checksum mismatch', { file: site.file, blocknum: site.blocknum, offset: site.diskOffset + headerLength, expected: `x1764 0x${actualSum.toString(16).padStart(8, '0')}`, actual: `0x${storedSum.toString(16).padStart(8, '0')}` });
  }
  const parts: Uint8Array[] = [];
  const subBlocks: RollbackNode['subBlocks'] = [];
  let at = headerLength + 4;
  for (let i = 0; i < n; i++) {
    const cs = u32(block, 24 + 12 * i);
    const us = u32(block, 28 + 12 * i);
    const sum = u32(block, 32 + 12 * i);
    if (cs < 1 || at + cs > block.length) fail(`sub-block ${i}: compressed size out of range`, 24 + 12 * i, `1..${block.length - at}`, String(cs));
    if (us < 1 || us > 1 << 30) fail(`sub-block ${i}: uncompressed size out of range`, 28 + 12 * i, `1..${1 << 30}`, String(us));
    const data = block.subarray(at, at + cs);
    const actual = x1764(data);
    if (actual !== sum) {
      throw new TokusimError('bad-checksum', `rollback node: sub-block ${i} checksum mismatch`, { file: site.file, blocknum: site.blocknum, offset: site.diskOffset + at, expected: `x1764 0x${actual.toString(16).padStart(8, '0')}`, actual: `0x${sum.toString(16).padStart(8, '0')}` });
    }
    parts.push(decompressSubBlock(data, us, { file: site.file, blocknum: site.blocknum, offset: site.diskOffset + at, what: `rollback sub-block ${i}` }));
    subBlocks.push({ compressedSize: cs, uncompressedSize: us });
    at += cs;
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const body = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    body.set(p, o);
    o += p.length;
  }
  const inner = (msg: string, pos: number, expected: string, actual: string): never => fail(`${msg} (byte ${pos} of the decompressed data)`, undefined, expected, actual);
  if (body.length < 56) inner('fixed fields run past the end', 0, '56 bytes', String(body.length));
  const txnid: [bigint, bigint] = [u64(body, 0), u64(body, 8)];
  const sequence = u64(body, 16);
  const blocknum = BigInt.asIntN(64, u64(body, 24));
  if (blocknum !== site.blocknum) inner('the node names another blocknum', 24, String(site.blocknum), String(blocknum));
  const previous = BigInt.asIntN(64, u64(body, 32));
  const residentBytecount = u64(body, 40);
  const arenaSize = u64(body, 48);
  const entries: RollEntry[] = [];
  let p = 56;
  while (p < body.length) {
    if (p + 5 > body.length) inner('roll entry header runs past the end', p, '5 bytes', String(body.length - p));
    const size = u32(body, p);
    if (size < 5 || p + size > body.length) inner('roll entry size out of range', p, `5..${body.length - p}`, String(size));
    const end = p + size;
    const cmd = String.fromCharCode(body[p + 4]!);
    const type = ROLLBACK_TYPES.find((t) => t.cmd === cmd);
    if (type === undefined) inner('unknown roll entry type', p + 4, 'a command letter of logformat.cc rollbacks[]', `0x${body[p + 4]!.toString(16)}`);
    let q = p + 5;
    const need = (k: number) => {
      if (q + k > end) inner(`${type!.name}: field runs past the entry`, q, `${k} bytes`, String(end - q));
    };
    const fields: RollEntry['fields'] = [];
    for (const [ft, name] of type!.fields) {
      let value: RollbackFieldValue;
      switch (ft) {
        case 'FILENUM':
          need(4);
          value = u32(body, q);
          q += 4;
          break;
        case 'bool':
          need(1);
          value = body[q]! !== 0;
          q += 1;
          break;
        case 'uint64_t':
        case 'BLOCKNUM':
          need(8);
          value = ft === 'BLOCKNUM' ? BigInt.asIntN(64, u64(body, q)) : u64(body, q);
          q += 8;
          break;
        case 'TXNID_PAIR':
          need(16);
          value = [u64(body, q), u64(body, q + 8)];
          q += 16;
          break;
        case 'BYTESTRING': {
          need(4);
          const len = u32(body, q);
          q += 4;
          need(len);
          value = body.slice(q, q + len);
          q += len;
          break;
        }
        case 'FILENUMS': {
          need(4);
          const k = u32(body, q);
          q += 4;
          need(4 * k);
          const list: number[] = [];
          for (let j = 0; j < k; j++, q += 4) list.push(u32(body, q));
          value = list;
          break;
        }
      }
      fields.push({ name, type: ft, value });
    }
    if (q !== end) inner(`${type!.name}: entry size does not match its fields`, p, String(q - p), String(size));
    entries.push({ name: type!.name, cmd, fields });
    p = end;
  }
  return {
    blocknum: site.blocknum,
    diskOffset: site.diskOffset,
    diskSize: block.length,
    layoutVersion,
    layoutVersionOriginal,
    buildId,
    subBlocks,
    txnid,
    sequence,
    previous,
    residentBytecount,
    arenaSize,
    entries,
  };
}
