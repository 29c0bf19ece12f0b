/**
 * `tokusim ftdump FILE [--header] [--rootnode] [--fragmentation] [--translation-table]
 * [--summary] [--garbage] [--both-headers]`: dump a PerconaFT dictionary the way tokuftdump
 * does, byte for byte (times in UTC; the "io time" line of a node carries our own measured
 * times, with decompression counted in the deserialize time), plus a side-by-side view of both
 * header slots. With no option: the three block translations, the header and every block in
 * blocknum order. Where tokuftdump aborts on a rollback-log node ("tokuroll" in
 * tokudb.rollback) we print the node (src/ft/rollback.ts); --summary and --garbage skip such
 * blocks as tokuftdump does. A block that is neither (tokusim's own node format) is named, not
 * decoded.
 *
 * A damaged node stops the dump: what was printed stays on stdout, one line on stderr names
 * file, blocknum, offset and expected vs actual, and the exit code is that of the error (3 for
 * corrupt input), where tokuftdump would abort.
 *
 * Exit codes: 0 on success; 1 when the dictionary cannot be deserialized (no valid header
 * slot, bad BTT or descriptor), exactly as tokuftdump exits in every mode, with one stderr
 * line "tokusim: can not deserialize from FILE error CODE: why" (--both-headers too, after
 * printing both slots: with no valid slot there is nothing to deserialize); the EXIT codes
 * of tools/cli-support.ts otherwise (2 usage, 5 I/O).
 *
 * --json prints the same sections as one JSON document instead of text (FtdumpJson, README
 * "JSON output"), with the same exit codes; on an error stdout holds no document (but
 * --both-headers, which prints both slots before it fails).
 */
import type { CommandModule } from 'yargs';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { readHeaderSlots } from '../../src/blocks/dictionary-file.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { FtDictionary, LeafMemory, type AnyNode } from '../../src/ft/dictionary.js';
import { decodeFtNode } from '../../src/ft/node-format.js';
import { decodeRollbackNode, isRollbackBlock } from '../../src/ft/rollback.js';
import { describeError, exitCodeFor } from '../cli-support.js';
import { OutputBuffer } from '../../src/extract/output.js';
import { collectText, formatBlockTranslations, formatFragmentation, writeNode, formatRollbackNode, fragmentationFigures, GarbageCounter, SummaryCounter, nodeJson, type NodeTimes } from './ftdump-nodes.js';
import { TokusimError } from '../../src/base/errors.js';
import {
  EINVAL,
  HeaderError,
  chooseHeader,
  TOKUDB_BAD_CHECKSUM,
  hex32,
  type FtHeader,
  type HeaderSlotReport,
} from '../../src/format/ft-header.js';
import type { TranslationImage } from '../../src/format/btt-format.js';
import { runCommand, stdoutChunkWriter } from '../cli-support.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) text without the newline, in UTC: "Sun Nov 22 02:44:51 2026". */
export function ctimeUtc(seconds: bigint): string {
  const d = new Date(Number(seconds) * 1000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

const i32 = (v: number) => v | 0;
const u32 = (v: number) => v >>> 0;
const i64 = (v: bigint) => BigInt.asIntN(64, v);
const u64 = (v: bigint) => BigInt.asUintN(64, v);

/** The text of tokuftdump --header for a header read from disk. */
export function formatHeader(h: FtHeader, layoutVersionReadFromDisk: number, descriptor: Uint8Array): string {
  const hexDesc = Array.from(descriptor, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
  return [
    'ft:',
    ` layout_version=29`,
    ` layout_version_original=${i32(h.layoutVersionOriginal)}`,
    ` layout_version_read_from_disk=${i32(layoutVersionReadFromDisk)}`,
    ` build_id=${i32(h.buildId)}`,
    ` build_id_original=${i32(h.buildIdOriginal)}`,
    ` time_of_creation=         ${u64(h.timeOfCreation)}    ${ctimeUtc(h.timeOfCreation)}`,
    ` time_of_last_modification=${u64(h.timeOfLastModification)}    ${ctimeUtc(h.timeOfLastModification)}`,
    ` dirty=0`,
    ` checkpoint_count=${i64(h.checkpointCount)}`,
    ` checkpoint_lsn=${i64(h.checkpointLsn)}`,
    ` nodesize=${u32(h.nodesize)}`,
    ` fanout=${u32(h.fanout)}`,
    ` basementnodesize=${u32(h.basementnodesize)}`,
    ` compression_method=${h.compressionMethod}`,
    ` unnamed_root=${i64(h.rootBlocknum)}`,
    ` flags=${u32(h.flags)}`,
    ` descriptor size ${descriptor.length} ${hexDesc}`,
    ` estimated numrows=${i64(h.numrows)}`,
    ` estimated numbytes=${i64(h.numbytes)}`,
    ` logical row count=${i64(h.onDiskLogicalRows)}`,
    '',
  ].join('\n');
}

/** The text of tokuftdump --translation-table: the checkpointed translation, tab separated. */
export function formatTranslationTable(t: TranslationImage): string {
  let out = '';
  for (let i = 0; i < t.diskoffs.length; i++) out += `${i}\t${t.diskoffs[i]}\t${t.sizes[i]}\n`;
  return out;
}

const SLOT_FIELDS: Array<[string, (h: FtHeader) => string]> = [
  ['checkpoint_count', (h) => String(h.checkpointCount)],
  ['checkpoint_lsn', (h) => String(h.checkpointLsn)],
  ['translation', (h) => `${h.translationLocation}+${h.translationSize}`],
  ['root_blocknum', (h) => String(h.rootBlocknum)],
  ['time_of_last_modification', (h) => String(h.timeOfLastModification)],
  ['numrows', (h) => String(h.numrows)],
  ['numbytes', (h) => String(h.numbytes)],
  ['max_msn_in_ft', (h) => String(h.maxMsnInFt)],
  ['logical_rows', (h) => String(h.onDiskLogicalRows)],
];

/** Both header slots side by side, with the validity of each and which one a reader picks. */
export function formatBothHeaders(slots: [HeaderSlotReport, HeaderSlotReport], chosen: 0 | 1 | null): string {
  const status = (s: HeaderSlotReport) => {
    if (s.status === 'ok') return `valid${chosen === s.slot ? ' (chosen)' : ''}`;
    const cs = s.storedChecksum !== undefined ? ` stored ${hex32(s.storedChecksum)} computed ${hex32(s.computedChecksum!)}` : '';
    return `${s.status} (${s.code})${cs}`;
  };
  const rows: Array<[string, string, string]> = [
    ['', 'slot 0 @0', 'slot 1 @4096'],
    ['status', status(slots[0]), status(slots[1])],
  ];
  for (const [name, get] of SLOT_FIELDS) {
    rows.push([name, slots[0].header ? get(slots[0].header) : '-', slots[1].header ? get(slots[1].header) : '-']);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`.trimEnd()).join('\n') + '\n';
}

/** PerconaFT's error number for a failure to deserialize a dictionary. */
export function perconaErrorCode(err: TokusimError): number {
  if (err instanceof HeaderError) return err.perconaCode;
  if (err.kind === 'bad-checksum' || (err.kind === 'bad-btt' && /checksum/.test(err.message))) return TOKUDB_BAD_CHECKSUM;
  return -EINVAL;
}

interface FtdumpArgs {
  file: string;
  header?: boolean;
  'translation-table'?: boolean;
  'both-headers'?: boolean;
  rootnode?: boolean;
  summary?: boolean;
  fragmentation?: boolean;
  garbage?: boolean;
  json?: boolean;
}

/** A header as JSON: every field by its name, 64-bit fields as decimal strings. */
export function headerJson(h: FtHeader): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = typeof v === 'bigint' ? String(v) : (v as number);
  return out;
}

/** What `tokusim ftdump --json` prints; a section is present when its text would be. */
export interface FtdumpJson {
  file: string;
  headerSlots?: Array<{ slot: 0 | 1; offset: number; status: string; code: number; storedChecksum: number | null; computedChecksum: number | null; header: Record<string, number | string> | null }>;
  /** The slot a reader picks (--both-headers), null when neither is valid. */
  chosenSlot?: 0 | 1 | null;
  header?: Record<string, number | string> & { layoutVersionReadFromDisk: number; descriptor: string };
  /** The checkpointed translation: blocknum, disk offset and size of each block. */
  translationTable?: Array<{ blocknum: number; diskoff: string; size: string }>;
  /** --rootnode: the root node. */
  rootNode?: unknown;
  /** --fragmentation. */
  fragmentation?: { usedSize: string; totalSize: string; fragSizes: string };
  /** --summary: the same figures as the text, by name. */
  summary?: Record<string, unknown>;
  /** --garbage: per leaf and in total. */
  garbage?: { leaves: Array<{ blocknum: string; basementNodes: number }>; totalSize: number; usedSize: number };
  /** The full dump (no option): every block with a node, in blocknum order. */
  nodes?: unknown[];
}

function translationJson(t: TranslationImage): FtdumpJson['translationTable'] {
  const rows: NonNullable<FtdumpJson['translationTable']> = [];
  for (let i = 0; i < t.diskoffs.length; i++) rows.push({ blocknum: i, diskoff: String(t.diskoffs[i]), size: String(t.sizes[i]) });
  return rows;
}

function fullHeaderJson(h: FtHeader, layoutVersionReadFromDisk: number, descriptor: Uint8Array): NonNullable<FtdumpJson['header']> {
  const hex = Array.from(descriptor, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
  return { ...headerJson(h), layoutVersionReadFromDisk, descriptor: hex };
}

/** Where a text dump goes as it is made (the CLI's stdout, a benchmark's counter). */
export interface FtdumpStream {
  /**
   * Takes the next part of stdout (ASCII bytes); resolves when more may be written. The chunk's
   * memory is reused once the returned promise settles (at once for a void return): copy it
   * to keep it.
   */
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Bytes of dump text gathered before they are handed on (a chunk is handed on at half of it). */
const DUMP_BUFFER_BYTES = 256 * 1024;

/**
 * Run ftdump and return stdout, stderr and the exit code (used by the CLI and by tests). With
 * `stream`, the text of the no-option dump is handed to it in chunks as it is made (so memory
 * holds one decoded node and one buffer of text, whatever the dictionary's size) and the
 * returned stdout is empty; the bytes of stream + stdout are the same as without it. JSON is
 * never streamed.
 */
export async function runFtdump(args: FtdumpArgs, stream?: FtdumpStream): Promise<{ stdout: string; stderr: string; code: number }> {
  registerNodeCodecs();
  const storage = new ReadOnlyStorage(new NodeStorage());
  let stdout = '';
  const doc: FtdumpJson = { file: args.file };
  const asJson = (): string => `${JSON.stringify(doc, null, 2)}\n`;
  if (args['both-headers']) {
    const handle = await storage.open(args.file, 'read');
    let chosen;
    let slots: [HeaderSlotReport, HeaderSlotReport];
    try {
      slots = await readHeaderSlots(handle, args.file);
      chosen = slots[0].status === 'ok' || slots[1].status === 'ok' ? pickNewest(slots) : null;
      stdout += formatBothHeaders(slots, chosen);
      doc.headerSlots = slots.map((sl) => ({
        slot: sl.slot,
        offset: sl.offset,
        status: sl.status,
        code: sl.code,
        storedChecksum: sl.storedChecksum ?? null,
        computedChecksum: sl.computedChecksum ?? null,
        header: sl.header !== undefined ? headerJson(sl.header) : null,
      }));
      doc.chosenSlot = chosen;
    } finally {
      await handle.close();
    }
    if (!args.header && !args['translation-table']) {
      // The table is printed either way; the exit code says whether a header could be chosen,
      // and a file with none cannot be deserialized: exit 1 as tokuftdump does in every mode.
      if (chosen === null) {
        const why = headerChoiceError(slots, args.file);
        return { stdout: args.json ? asJson() : stdout, stderr: `tokusim: can not deserialize from ${args.file} error ${perconaErrorCode(why)}: neither header slot is valid: ${why.message}\n`, code: EXIT_CANNOT_DESERIALIZE };
      }
      return { stdout: args.json ? asJson() : stdout, stderr: '', code: 0 };
    }
  }
  let dict: FtDictionary;
  try {
    dict = await FtDictionary.open(storage, args.file);
  } catch (err) {
    if (err instanceof TokusimError && err.kind !== 'io' && err.kind !== 'invariant') {
      return { stdout: args.json ? '' : stdout, stderr: `tokusim: can not deserialize from ${args.file} error ${perconaErrorCode(err)}: ${err.message}\n`, code: EXIT_CANNOT_DESERIALIZE };
    }
    throw err;
  }
  const modes = { header: !!args.header, rootnode: !!args.rootnode, fragmentation: !!args.fragmentation, translation: !!args['translation-table'], summary: !!args.summary, garbage: !!args.garbage };
  const full = !Object.values(modes).some(Boolean) && !args['both-headers'];
  const out: string[] = [stdout];
  // The full dump's text: handed to the stream, or gathered for the returned stdout.
  const dump = full && !args.json ? new OutputBuffer(stream !== undefined ? (c) => stream.write(c) : (c) => void out.push(latin1Text(c)), DUMP_BUFFER_BYTES) : undefined;
  try {
    const header = dict.header;
    const translation = dict.translation;
    if (modes.header) {
      out.push(formatHeader(header, dict.layoutVersionReadFromDisk, dict.descriptor));
      doc.header = fullHeaderJson(header, dict.layoutVersionReadFromDisk, dict.descriptor);
    }
    if (modes.rootnode) {
      const { any, times } = await readTimed(dict, dict.rootBlocknum);
      out.push(await collectText((o) => writeAny(o, any, times)));
      doc.rootNode = nodeJson(any);
    }
    if (modes.fragmentation) {
      out.push(formatFragmentation(translation));
      const f = fragmentationFigures(translation);
      doc.fragmentation = { usedSize: String(f.used), totalSize: String(f.total), fragSizes: String(f.total - f.used) };
    }
    if (modes.translation) {
      out.push(formatTranslationTable(translation));
      doc.translationTable = translationJson(translation);
    }
    if (modes.summary) {
      const sc = new SummaryCounter();
      for (const b of dict.nodeBlocknums()) {
        const any = await readForStats(dict, b);
        if (any !== null) sc.add(any);
      }
      out.push(sc.format());
      doc.summary = sc.json();
    }
    if (modes.garbage) {
      const gc = new GarbageCounter();
      const leaves: Array<{ blocknum: string; basementNodes: number }> = [];
      for (const b of dict.nodeBlocknums()) {
        const node = await readForStats(dict, b);
        if (node === null || node.height > 0) continue;
        out.push(gc.addLeaf(node));
        leaves.push({ blocknum: String(b), basementNodes: node.basements.length });
      }
      out.push(gc.footer());
      doc.garbage = { leaves, totalSize: gc.total, usedSize: gc.used };
    }
    if (full) {
      if (dump !== undefined) {
        dump.ascii(formatBlockTranslations(translation));
        dump.ascii(formatHeader(header, dict.layoutVersionReadFromDisk, dict.descriptor));
      }
      doc.header = fullHeaderJson(header, dict.layoutVersionReadFromDisk, dict.descriptor);
      doc.translationTable = translationJson(translation);
      doc.nodes = [];
      // Each block's text is written before the next block is read: one buffer serves them all.
      const memory = dump === undefined ? undefined : new LeafMemory();
      for (const b of dict.nodeBlocknums()) {
        const { any, times } = await readTimed(dict, b, memory);
        if (dump === undefined) doc.nodes.push(nodeJson(any));
        else {
          await writeAny(dump, any, times);
          if (dump.full) await dump.flush();
        }
      }
    }
    await dump?.flush();
  } catch (err) {
    if (err instanceof TokusimError && err.kind !== 'invariant') {
      // The text made before the damage is output, as tokuftdump's would be before it aborts.
      await dump?.flush();
      return { stdout: args.json ? '' : out.join(''), stderr: `tokusim: ${describeError(err)}\n`, code: exitCodeFor(err) };
    }
    throw err;
  } finally {
    await dict.close();
  }
  return { stdout: args.json ? asJson() : out.join(''), stderr: '', code: 0 };
}

/**
 * Read and decode one block, measuring the read and the decoding separately. With memory, the
 * block is read into it: the node returned is valid until memory is used again.
 */
async function readTimed(dict: FtDictionary, blocknum: bigint, memory?: LeafMemory): Promise<{ any: AnyNode; times: NodeTimes }> {
  const t0 = performance.now();
  const block = await dict.readBlock(blocknum, memory);
  const t1 = performance.now();
  const site = { file: dict.path, blocknum, diskOffset: dict.blockLocation(blocknum)!.diskOffset };
  let any: AnyNode;
  if (isRollbackBlock(block)) any = { kind: 'rollback', node: decodeRollbackNode(block, site) };
  else {
    const m = new TextDecoder('latin1').decode(block.subarray(0, 8));
    any = m === 'tokuleaf' || m === 'tokunode' ? { kind: 'ft', node: decodeFtNode(block, site) } : { kind: 'other', blocknum, diskOffset: site.diskOffset, diskSize: block.length, magic: block.slice(0, 8) };
  }
  const t2 = performance.now();
  // Decompression happens inside decoding; it is reported with it (as deserialize time).
  return { any, times: { io: (t1 - t0) / 1000, decompress: 0, deserialize: (t2 - t1) / 1000 } };
}

/**
 * A tree node for --summary and --garbage, or null for a block tokuftdump skips there (one
 * that is not a tree node: a rollback node, or tokusim's own node format).
 */
async function readForStats(dict: FtDictionary, blocknum: bigint) {
  const any = await dict.readAnyNode(blocknum);
  return any.kind === 'ft' ? any.node : null;
}

/** One block's text into out: a tree node, a rollback node, or a block that is neither. */
async function writeAny(out: OutputBuffer, any: AnyNode, times: NodeTimes): Promise<void> {
  if (any.kind === 'ft') return writeNode(out, any.node, times);
  if (any.kind === 'rollback') return out.ascii(formatRollbackNode(any.node));
  const magic = Array.from(any.magic, (b) => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.')).join('');
  out.ascii(`block\n blocknum=${any.blocknum}\n diskoffset  =${any.diskOffset}\n disksize    =${any.diskSize}\n not a PerconaFT node (magic "${magic}")\n`);
}

const latin1Text = (c: Uint8Array): string => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');

/** tokuftdump's exit status when a dictionary cannot be deserialized (README "Exit codes"). */
const EXIT_CANNOT_DESERIALIZE = 1;

/** Why no header slot can be chosen (chooseHeader's error, with PerconaFT's code). */
function headerChoiceError(slots: [HeaderSlotReport, HeaderSlotReport], file: string): TokusimError {
  try {
    chooseHeader(slots[0], slots[1], file);
  } catch (err) {
    if (err instanceof TokusimError) return err;
    throw err;
  }
  return new HeaderError('no valid header slot', EINVAL, { file });
}

function pickNewest(slots: [HeaderSlotReport, HeaderSlotReport]): 0 | 1 {
  const [a, b] = slots;
  if (a.status !== 'ok') return 1;
  if (b.status !== 'ok') return 0;
  return a.header!.checkpointCount > b.header!.checkpointCount ? 0 : 1;
}

export const ftdumpCommandModule: CommandModule<object, FtdumpArgs> = {
  command: 'ftdump <file>',
  describe: 'dump a dictionary like tokuftdump: with no option the translations, header and every node (exit 1 if it cannot be deserialized)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'a .tokudb dictionary (or tokudb.directory, ...)' })
      .option('header', { type: 'boolean', describe: 'print the chosen header (tokuftdump --header)' })
      .option('translation-table', { type: 'boolean', describe: 'print the checkpointed translation (tokuftdump --translation-table)' })
      .option('both-headers', { type: 'boolean', describe: 'print both header slots side by side with their validity' })
      .option('rootnode', { type: 'boolean', describe: 'print the root node (tokuftdump --rootnode)' })
      .option('summary', { type: 'boolean', describe: 'node, message and record counts and sizes per height (tokuftdump --summary)' })
      .option('fragmentation', { type: 'boolean', describe: 'used and total space of the checkpointed blocks (tokuftdump --fragmentation)' })
      .option('garbage', { type: 'boolean', describe: 'space taken by superseded leaf-entry versions, per leaf (tokuftdump --garbage)' })
      .option('json', { type: 'boolean', describe: 'print the same sections as one JSON document' })
      .example('$0 ftdump ./env/tokudb.directory', 'translations, header and every node, as tokuftdump prints them')
      .example('$0 ftdump ./env/t_5.tokudb --both-headers', 'both header slots side by side, and which one a reader picks')
      .example('$0 ftdump ./env/t_5.tokudb --header --json', 'the chosen header as JSON') as never,
  handler: async (argv) => {
    await runCommand(async () => {
      const r = await runFtdump(argv, argv.json ? undefined : { write: stdoutChunkWriter() });
      process.stdout.write(r.stdout);
      if (r.stderr) process.stderr.write(r.stderr);
      return r.code;
    });
  },
};
