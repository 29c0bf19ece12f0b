/**
 * The node-level sections of `tokusim ftdump`, in tokuftdump's exact text (PerconaFT
 * tools/tokuftdump.cc `dump_node`, `dump_summary`, `dump_fragmentation`, `dump_garbage_stats`,
 * ft/serialize/block_table.cc `dump_translation_table`, ft/ft.cc `toku_ft_get_garbage`): the
 * node dump, the summary, the fragmentation and garbage figures, and the three-translation
 * listing that opens the full dump.
 *
 * Invariants:
 *  - Every figure is computed from decoded node contents, never from a guess: sizes follow
 *    PerconaFT's serialize-size and in-memory buffer-size rules (docs/ft-nodes.md "Sizes").
 *  - Numbers that tokuftdump prints through C's printf("%f") or float arithmetic are
 *    formatted by cFixed / cFloat rules, so ties and single-precision rounding come out the same.
 */
import type { TranslationImage } from '../../src/format/btt-format.js';
import { escapeBytes } from '../../src/format/json.js';
import { FT_MSG, XR_DELETE, XR_INSERT, XR_PLACEHOLDER, type Ule } from '../../src/ft/leafentry.js';
import type { FtNode, LeafEntry } from '../../src/ft/node-format.js';
import type { AnyNode } from '../../src/ft/dictionary.js';
import { OutputBuffer, byteEscapes } from '../../src/extract/output.js';
import type { RollbackNode, RollEntry } from '../../src/ft/rollback.js';

/**
 * printf("%.<digits>f") of a double, exactly: the decimal expansion of the binary value,
 * rounded half to even (glibc's rule); "-nan"/"nan"/"inf" like glibc.
 */
export function cFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return '-nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  // a = mant * 2^exp exactly.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const bits = buf.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (e === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = e - 1075;
  }
  const scale = 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * scale;
  else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const r = num % den;
    if (r * 2n > den || (r * 2n === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString().padStart(digits + 1, '0');
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return (neg && q !== 0n ? '-' : neg ? '-' : '') + s;
}

/** `(1 - used/total) * 100` computed in single precision, as tokuftdump's float variables do. */
function garbagePercent(used: number, total: number): number {
  const f = Math.fround;
  const a = f(used);
  const b = f(total);
  return f(f(1 - f(a / b)) * 100);
}

/** tokuftdump's `print_item` escaping: printable bytes as is except `\` and `"`, the rest as \ooo. */
const ITEM_ESCAPES = byteEscapes((c) => (c >= 0x20 && c <= 0x7e && c !== 0x5c && c !== 0x22 ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`));

/** `{len=N data="..."}` as PerconaFT's toku_print_BYTESTRING prints it. */
function byteString(b: Uint8Array): string {
  return `{len=${b.length} data="${escapeBytes(b)}"}`;
}

const MSG_NAMES: Record<number, string> = {
  [FT_MSG.NONE]: 'NONE',
  [FT_MSG.INSERT]: 'INSERT',
  [FT_MSG.INSERT_NO_OVERWRITE]: 'INSERT_NO_OVERWRITE',
  [FT_MSG.DELETE_ANY]: 'DELETE_ANY',
  [FT_MSG.ABORT_ANY]: 'ABORT_ANY',
  [FT_MSG.COMMIT_ANY]: 'COMMIT_ANY',
  [FT_MSG.COMMIT_BROADCAST_ALL]: 'COMMIT_BROADCAST_ALL',
  [FT_MSG.COMMIT_BROADCAST_TXN]: 'COMMIT_BROADCAST_TXN',
  [FT_MSG.ABORT_BROADCAST_TXN]: 'ABORT_BROADCAST_TXN',
  [FT_MSG.OPTIMIZE]: 'OPTIMIZE',
  [FT_MSG.OPTIMIZE_FOR_UPGRADE]: 'OPTIMIZE_FOR_UPGRADE',
  [FT_MSG.UPDATE]: 'UPDATE',
  [FT_MSG.UPDATE_BROADCAST_ALL]: 'UPDATE_BROADCAST_ALL',
};

/** The name tokuftdump prints for a message type. */
export function messageTypeName(type: number): string {
  return MSG_NAMES[type] ?? 'HUH?';
}

/** Bytes one message takes in PerconaFT's in-memory buffer (19-byte entry header, key, value, 8 per xid). */
export function messageMemSize(m: { key: Uint8Array; value: Uint8Array; xids: readonly bigint[] }): number {
  return 19 + m.key.length + m.value.length + 8 * m.xids.length;
}

/** PerconaFT `toku_bnc_nbytesinbuf` of one buffer. */
export function bufferBytes(node: FtNode, i: number): number {
  let n = 0;
  for (const m of node.buffers[i]!.messages) n += messageMemSize(m);
  return n;
}

/** PerconaFT `pivotkeys.total_size()`: 4-aligned length times count when all pivots have one length, else the sum. */
export function pivotsTotalSize(pivots: readonly Uint8Array[]): number {
  if (pivots.length === 0) return 0;
  const same = pivots.every((p) => p.length === pivots[0]!.length);
  if (same) return ((pivots[0]!.length + 3) & ~3) * pivots.length;
  return pivots.reduce((s, p) => s + p.length, 0);
}

/** PerconaFT `toku_serialize_ftnode_size`: the node's uncompressed serialized size. */
export function serializeSize(node: FtNode): number {
  const n = node.height > 0 ? node.childBlocknums.length : node.basements.length;
  let size = 8 + 4 + 4 + 4 + 4 + 8 * n + 4;
  size += 8 + 4 + 4 + 4 + 8 + node.pivots.reduce((s, p) => s + p.length + 4, 0) + (node.height > 0 ? 8 * n : 0) + 4;
  for (let i = 0; i < n; i++) {
    if (node.height > 0) {
      const b = node.buffers[i]!;
      size += 1 + 4 + bufferBytes(node, i) + 4 + 4 * b.freshOffsets.length + 4 + 4 * b.staleOffsets.length + 4 + 4 * b.broadcastOffsets.length + 4;
    } else {
      size += 1 + 4 + 14 + node.basements[i]!.diskSize + 4;
    }
  }
  return size;
}

function hex16(x: bigint): string {
  return x.toString(16).padStart(16, '0');
}

/** Timings printed on the "io time" line (seconds); tokuftdump's are measured, and so are ours. */
export interface NodeTimes {
  io: number;
  decompress: number;
  deserialize: number;
}

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const ENTRY_KEY = latin1(': {key={len=');
const DATA = latin1(' data="');
const CLOSE_BYTES = latin1('"}');
const PLACEHOLDER = latin1(' P: xid=');
const DELETE_XID = latin1('D: xid=');
const INSERT_XID = latin1('I: xid=');
const VAL = latin1(' val={len=');
const ENTRY_END = latin1('}\n');

/** 16 lowercase hex digits of a 64-bit xid; the last one is kept, as entries of one leaf mostly repeat it. */
class Hex16 {
  private last = -1n;
  private text: Uint8Array = new Uint8Array(16);
  of(x: bigint): Uint8Array {
    if (x !== this.last) {
      this.text = latin1(hex16(x));
      this.last = x;
    }
    return this.text;
  }
}

/** `{len=N data="..."}` (toku_print_BYTESTRING) into out. */
function writeByteString(out: OutputBuffer, b: Uint8Array): void {
  out.uint(b.length);
  out.bytes(DATA);
  out.escaped(b);
  out.bytes(CLOSE_BYTES);
}

/** The `print_klpair` text of a basement's entries, one line each, handing out full buffers. */
async function writeLeafEntries(out: OutputBuffer, entries: readonly LeafEntry[]): Promise<void> {
  const hex = new Hex16();
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    out.uint(k);
    out.bytes(ENTRY_KEY);
    writeByteString(out, e.key);
    const { uxrs, nc } = e.ule;
    for (let i = 0; i < uxrs.length; i++) {
      const u = uxrs[i]!;
      if (u.type === XR_PLACEHOLDER) {
        out.bytes(PLACEHOLDER);
        out.bytes(hex.of(u.xid));
        continue;
      }
      out.byte(0x20);
      out.byte(i < nc ? 0x63 : 0x70);
      if (u.type === XR_DELETE) {
        out.bytes(DELETE_XID);
        out.bytes(hex.of(u.xid));
      } else {
        out.bytes(INSERT_XID);
        out.bytes(hex.of(u.xid));
        out.bytes(VAL);
        writeByteString(out, u.value!);
      }
    }
    out.bytes(ENTRY_END);
    if (out.full) await out.flush();
  }
}

/**
 * tokuftdump's `dump_node` text for one node, written into out; whenever out fills up it is
 * flushed (awaited), so a large leaf passes through in buffer-sized chunks.
 */
export async function writeNode(out: OutputBuffer, node: FtNode, times: NodeTimes): Promise<void> {
  const n = node.height > 0 ? node.childBlocknums.length : node.basements.length;
  out.ascii(
    `ftnode\n diskoffset  =${node.diskOffset}\n disksize    =${node.diskSize}\n serialize_size =${serializeSize(node)}\n flags       =${node.flags >>> 0}\n` +
      ` blocknum=${node.blocknum}\n height      =${node.height}\n layout_version=${node.layoutVersion}\n layout_version_original=${node.layoutVersionOriginal}\n` +
      ` layout_version_read_from_disk=${node.layoutVersion}\n build_id=${node.buildId | 0}\n` +
      ` max_msn_applied_to_node_on_disk=${BigInt.asIntN(64, node.maxMsnOnDisk)} (0x${node.maxMsnOnDisk.toString(16)})\n` +
      ` io time ${cFixed(times.io, 6)} decompress time ${cFixed(times.decompress, 6)} deserialize time ${cFixed(times.deserialize, 6)}\n` +
      ` n_children=${n}\n pivotkeys.total_size()=${pivotsTotalSize(node.pivots)}\n${node.height > 0 ? ' pivots:' : 'LEAF keys:'}\n`,
  );
  const flags = node.flags !== 0 ? ` flags=${(node.flags >>> 0).toString(16)} ` : '';
  for (let i = 0; i < node.pivots.length; i++) {
    out.ascii(`  pivot ${String(i).padStart(2, ' ')}:${flags}"`);
    out.escaped(node.pivots[i]!, ITEM_ESCAPES);
    out.ascii('"\n');
    if (out.full) await out.flush();
  }
  out.ascii(node.height > 0 ? ' children:\n' : 'LEAF data:\n');
  for (let i = 0; i < n; i++) {
    if (node.height > 0) {
      out.ascii(`  child ${i}: ${node.childBlocknums[i]}\n`);
      const msgs = node.buffers[i]!.messages;
      const bytes = bufferBytes(node, i);
      if (bytes > 0 || msgs.length > 0) out.ascii(`   buffer contains ${bytes} bytes (${msgs.length} items)\n`);
      for (const m of msgs) {
        out.ascii(`    msn=${m.msn} (0x${m.msn.toString(16)})     TYPE=${messageTypeName(m.type)} xid=[|${m.xids.length}| ${m.xids.map((x) => x.toString(16)).join(',')}] "`);
        out.escaped(m.key, ITEM_ESCAPES);
        out.byte(0x22);
        if (m.value.length > 0) {
          out.ascii(' "');
          out.escaped(m.value, ITEM_ESCAPES);
          out.byte(0x22);
        }
        out.byte(0x0a);
        if (out.full) await out.flush();
      }
    } else {
      const bn = node.basements[i]!;
      out.ascii(`  child ${i}:  n_bytes_in_buffer= ${bn.diskSize} items_in_buffer=${bn.entries.length}\n`);
      await writeLeafEntries(out, bn.entries);
    }
  }
}

/** The text `out` receives, as one string (ftdump's output is ASCII). */
export async function collectText(write: (out: OutputBuffer) => Promise<void>): Promise<string> {
  const parts: string[] = [];
  const out = new OutputBuffer((c) => void parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1')), 1 << 16);
  await write(out);
  await out.flush();
  return parts.join('');
}

/** tokuftdump's `dump_node` text for one node, as a string. */
export function formatNode(node: FtNode, times: NodeTimes): Promise<string> {
  return collectText((out) => writeNode(out, node, times));
}

function translationListing(t: TranslationImage, current: boolean): string {
  const n = t.diskoffs.length;
  const size1 = current ? 0n : t.sizes[1]!;
  const loc1 = current ? -2n : t.diskoffs[1]!;
  let s = ` length_of_array[${n}] smallest_never_used_blocknum[${t.smallestNeverUsed}] blocknum_free_list_head[${BigInt.asIntN(64, t.freelistHead)}] size_on_disk[${size1}] location_on_disk[${loc1}]\n`;
  for (let i = 0; i < n; i++) {
    const off = i === 1 && current ? -2n : BigInt.asIntN(64, t.diskoffs[i]!);
    const size = i === 1 && current ? 0n : BigInt.asIntN(64, t.sizes[i]!);
    s += ` ${i}: ${off} ${size}\n`;
  }
  return `${s}\n`;
}

/** The "Block translation:" section that opens the full dump (current, in progress, checkpointed). */
export function formatBlockTranslations(t: TranslationImage): string {
  return `Block translation:Current block translation:${translationListing(t, true)}Checkpoint in progress block translation: does not exist\nCheckpointed block translation:${translationListing(t, false)}`;
}

/** `--fragmentation`: used and total space of the checkpointed blocks (translation included). */
export function fragmentationFigures(t: TranslationImage): { used: bigint; total: bigint } {
  let used = 0n;
  let total = 0n;
  for (let i = 0; i < t.diskoffs.length; i++) {
    const size = BigInt.asIntN(64, t.sizes[i]!);
    if (size <= 0n) continue;
    const end = size + BigInt.asIntN(64, t.diskoffs[i]!);
    if (end > total) total = end;
    used += size;
  }
  return { used, total };
}

export function formatFragmentation(t: TranslationImage): string {
  const { used, total } = fragmentationFigures(t);
  const frag = total - used;
  return `used_size\t${used}\ntotal_size\t${total}\nfragsizes\t${frag}\nfragmentation\t${cFixed(100 * (Number(frag) / Number(total)), 1)}\n`;
}

/** The innermost record's value length, or null when it deletes (le_latest_is_del / le_latest_vallen). */
function latestLength(u: Ule): number | null {
  for (let i = u.uxrs.length - 1; i >= 0; i--) {
    const r = u.uxrs[i]!;
    if (r.type === XR_PLACEHOLDER) continue;
    return r.type === XR_INSERT ? r.value!.length : null;
  }
  return null;
}

/** Accumulates `--garbage` over the leaves, in blocknum order. */
export class GarbageCounter {
  total = 0;
  used = 0;
  /** Add a leaf; returns its "LeafNode# ..." line (with the running percentage, as tokuftdump prints it). */
  addLeaf(node: FtNode): string {
    for (const bn of node.basements) {
      for (const e of bn.entries) {
        this.total += e.packedSize + e.key.length + 4;
        const len = latestLength(e.ule);
        if (len !== null) this.used += 1 + 4 + len + e.key.length + 4;
      }
    }
    return `LeafNode# ${node.blocknum} has ${node.basements.length} BasementNodes and ${cFixed(garbagePercent(this.used, this.total), 1)}% of the allocated space is garbage\n`;
  }
  footer(): string {
    return `garbage total size :${String(this.total).padStart(20, ' ')}\ngarbage used size  :${String(this.used).padStart(20, ' ')}\nTotal garbage : ${cFixed(garbagePercent(this.used, this.total), 3)}%\n`;
  }
}

function humanNumber(v: number): string {
  return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Accumulates `--summary` over the nodes, in blocknum order. */
export class SummaryCounter {
  private blocksizes = 0;
  private leafsizes = 0;
  private serialsize = 0;
  private leafblocks = 0;
  private nonleaf = 0;
  private maxheight = 0;
  private msgCnt = 0;
  private msgSize = 0;
  private pairs = 0;
  private readonly heightCnt = new Map<number, number>();
  private readonly hmsgCnt = new Map<number, number>();
  private readonly hmsgSize = new Map<number, number>();
  private readonly hdisk = new Map<number, number>();
  private readonly hserial = new Map<number, number>();

  add(node: FtNode): void {
    const bump = (m: Map<number, number>, k: number, v: number) => m.set(k, (m.get(k) ?? 0) + v);
    const h = node.height;
    this.blocksizes += node.diskSize;
    bump(this.heightCnt, h, 1);
    if (h === 0) {
      this.leafsizes += node.diskSize;
      this.leafblocks++;
    } else this.nonleaf++;
    bump(this.hdisk, h, node.diskSize);
    const ss = serializeSize(node);
    this.serialsize += ss;
    bump(this.hserial, h, ss);
    if (h > this.maxheight) this.maxheight = h;
    if (h > 0) {
      node.buffers.forEach((b, i) => {
        const bytes = bufferBytes(node, i);
        this.msgCnt += b.messages.length;
        this.msgSize += bytes;
        bump(this.hmsgCnt, h, b.messages.length);
        bump(this.hmsgSize, h, bytes);
      });
    } else {
      for (const bn of node.basements) this.pairs += bn.entries.length;
      bump(this.hmsgCnt, 0, node.basements.length);
    }
  }

  /** The figures by name (for --json). */
  json(): Record<string, unknown> {
    const heights = [...this.heightCnt.keys()].sort((a, b) => a - b);
    return {
      leafNodes: this.leafblocks,
      nonLeafNodes: this.nonleaf,
      leafSize: this.leafsizes,
      totalSize: this.blocksizes,
      totalUncompressedSize: this.serialsize,
      messagesCount: this.msgCnt,
      messagesSize: this.msgSize,
      recordsCount: this.pairs,
      treeHeight: this.maxheight,
      heights: heights.map((h) => ({
        height: h,
        nodes: this.heightCnt.get(h)!,
        [h === 0 ? 'basementNodes' : 'messages']: this.hmsgCnt.get(h) ?? 0,
        messageSize: this.hmsgSize.get(h) ?? 0,
        diskSize: this.hdisk.get(h) ?? 0,
        uncompressedSize: this.hserial.get(h) ?? 0,
      })),
    };
  }

  format(): string {
    let s = '';
    s += `leaf nodes:\t${this.leafblocks}\n`;
    s += `non-leaf nodes:\t${this.nonleaf}\n`;
    s += `Leaf size:\t${humanNumber(this.leafsizes)}\n`;
    s += `Total size:\t${humanNumber(this.blocksizes)}\n`;
    s += `Total uncompressed size:\t${humanNumber(this.serialsize)}\n`;
    s += `Messages count:\t${this.msgCnt}\n`;
    s += `Messages size:\t${humanNumber(this.msgSize)}\n`;
    s += `Records count:\t${this.pairs}\n`;
    s += `Tree height:\t${this.maxheight}\n`;
    const get = (m: Map<number, number>, k: number) => {
      if (!m.has(k)) m.set(k, 0);
      return m.get(k)!;
    };
    for (const h of [...this.heightCnt.keys()].sort((a, b) => a - b)) {
      const count = this.heightCnt.get(h)!;
      const hdr = h === 0 ? 'basement nodes' : 'msg cnt';
      const perNode = h === 0 ? get(this.hmsgCnt, 0) / count : get(this.heightCnt, h - 1) / count;
      const disk = get(this.hdisk, h);
      const serial = get(this.hserial, h);
      s += `height: ${h}, nodes count: ${count}; avg children/node: ${cFixed(perNode, 6)}\n\t ${hdr}: ${get(this.hmsgCnt, h)}; msg size: ${humanNumber(get(this.hmsgSize, h))}; disksize: ${humanNumber(disk)}; uncompressed size: ${humanNumber(serial)}; ratio: ${cFixed(serial / disk, 6)}\n`;
    }
    return s;
  }
}

function fieldText(f: RollEntry['fields'][number]): string {
  const v = f.value;
  switch (f.type) {
    case 'BYTESTRING':
      return `${f.name}=${byteString(v as Uint8Array)}`;
    case 'TXNID_PAIR': {
      const [p, c] = v as [bigint, bigint];
      return `${f.name}=${p.toString(16)},${c.toString(16)}`;
    }
    case 'FILENUMS':
      return `${f.name}={num=${(v as number[]).length} filenums="${(v as number[]).join(',')}"}`;
    case 'bool':
      return `${f.name}=${v ? 1 : 0}`;
    default:
      return `${f.name}=${String(v)}`;
  }
}

/**
 * A rollback-log node, where tokuftdump aborts (tokusim's own layout, in the style of the node
 * dump; roll entries newest first, their fields as tokuft_logprint prints log fields).
 */
export function formatRollbackNode(r: RollbackNode): string {
  const out: string[] = [];
  out.push('rollback log node');
  out.push(` diskoffset  =${r.diskOffset}`);
  out.push(` disksize    =${r.diskSize}`);
  out.push(` blocknum=${r.blocknum}`);
  out.push(` layout_version=${r.layoutVersion}`);
  out.push(` layout_version_original=${r.layoutVersionOriginal}`);
  out.push(` build_id=${r.buildId | 0}`);
  out.push(` sub_blocks=${r.subBlocks.map((s) => `${s.compressedSize}/${s.uncompressedSize}`).join(' ')}`);
  out.push(` txnid=${r.txnid[0].toString(16)},${r.txnid[1].toString(16)}`);
  out.push(` sequence=${r.sequence}`);
  out.push(` previous=${r.previous}`);
  out.push(` rollentry_resident_bytecount=${r.residentBytecount}`);
  out.push(` memarena_size=${r.arenaSize}`);
  out.push(` n_entries=${r.entries.length}`);
  r.entries.forEach((e, i) => out.push(`  ${i}: ${e.name} '${e.cmd}'${e.fields.map((f) => ` ${fieldText(f)}`).join('')}`));
  return `${out.join('\n')}\n`;
}

const hexOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** A block as JSON (`ftdump --json`): 64-bit numbers as decimal strings, bytes as escaped text and hex. */
export function nodeJson(any: AnyNode): unknown {
  const bytes = (b: Uint8Array) => ({ len: b.length, text: escapeBytes(b), hex: hexOf(b) });
  if (any.kind === 'other') return { kind: 'other', blocknum: String(any.blocknum), diskOffset: any.diskOffset, diskSize: any.diskSize, magic: hexOf(any.magic) };
  if (any.kind === 'rollback') {
    const r = any.node;
    return {
      kind: 'rollback',
      blocknum: String(r.blocknum),
      diskOffset: r.diskOffset,
      diskSize: r.diskSize,
      txnid: r.txnid.map(String),
      sequence: String(r.sequence),
      previous: String(r.previous),
      entries: r.entries.map((e) => ({
        type: e.name,
        fields: Object.fromEntries(
          e.fields.map((f) => [f.name, f.type === 'BYTESTRING' ? bytes(f.value as Uint8Array) : f.type === 'TXNID_PAIR' ? (f.value as bigint[]).map(String) : typeof f.value === 'bigint' ? String(f.value) : f.value]),
        ),
      })),
    };
  }
  const n = any.node;
  const uxr = (u: Ule['uxrs'][number], committed: boolean) => ({
    committed,
    type: u.type === XR_INSERT ? 'insert' : u.type === XR_DELETE ? 'delete' : 'placeholder',
    xid: String(u.xid),
    ...(u.value !== undefined ? { value: bytes(u.value) } : {}),
  });
  return {
    kind: 'ftnode',
    blocknum: String(n.blocknum),
    diskOffset: n.diskOffset,
    diskSize: n.diskSize,
    serializeSize: serializeSize(n),
    height: n.height,
    flags: n.flags,
    layoutVersion: n.layoutVersion,
    layoutVersionOriginal: n.layoutVersionOriginal,
    buildId: n.buildId,
    maxMsnAppliedToNodeOnDisk: String(n.maxMsnOnDisk),
    pivots: n.pivots.map(bytes),
    children:
      n.height > 0
        ? n.childBlocknums.map((b, i) => ({
            blocknum: String(b),
            bufferBytes: bufferBytes(n, i),
            messages: n.buffers[i]!.messages.map((m) => ({ msn: String(m.msn), type: messageTypeName(m.type), fresh: m.fresh, xids: m.xids.map(String), key: bytes(m.key), value: bytes(m.value) })),
          }))
        : n.basements.map((bn) => ({
            bytesInBuffer: bn.diskSize,
            entries: bn.entries.map((e) => ({ key: bytes(e.key), records: e.ule.uxrs.map((u, i) => uxr(u, i < e.ule.nc)) })),
          })),
  };
}
