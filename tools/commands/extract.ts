/**
 * `tokusim extract ENVDIR [--json] [--dict NAME]...`: the committed rows of every dictionary
 * of a PerconaFT or tokusim environment, crashed or not, read without writing to it
 * (docs/extract.md).
 *
 * Output contract:
 *  - stdout (default): one line per committed row, `INAME<TAB>KEY<TAB>VALUE`, each field with
 *    the printer's BYTESTRING escaping, exactly as `tokusim replay --dump` prints rows.
 *    Dictionaries are sorted by iname bytes (tokudb.directory and tokudb.environment
 *    included), rows by key.
 *  - stdout with --json: one JSON document (ExtractJson in docs/extract.md), streamed: the
 *    environment, the log summary and the unresolved transactions first, then each dictionary
 *    with its rows and, after them, its counts.
 *  - stderr (both forms): a summary, the transactions still open or prepared at the end of the
 *    log (not applied, with their number of writes), the rows withheld because they need the
 *    application, per dictionary the provisional entries of its file left out per transaction
 *    (aborted, or still live or prepared), anomalies, and any damage.
 *  - exit code (tools/cli-support.ts EXIT): 0 when everything was read; 4 (truncated) or 3
 *    (corrupt) for a damaged log tail, after printing every row (the log up to the damage is
 *    used); 3 for a damaged dictionary file, after the other dictionaries (the damaged one's
 *    rows stop where the damage is, and stderr names file, blocknum, offset, expected and
 *    actual), and likewise for a tree holding update messages (TOKUSIM_NEEDS_APPLICATION); 9 when ENVDIR is not an environment; 2 for an unknown --dict; 5 for I/O.
 */
import type { CommandModule } from 'yargs';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { TokusimError } from '../../src/base/errors.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { openExtraction, type ExtractOptions, type Extraction, type ExtractedDictionary, type ProvisionalLeftOut } from '../../src/extract/extract.js';
import { OutputBuffer, bytesJsonText, escapeToString, writeTsvRow } from '../../src/extract/output.js';
import type { ReplayNote } from '../../src/extract/replay-api.js';
import { EXIT, describeError, exitCodeFor, runCommand, stdoutChunkWriter } from '../cli-support.js';

export interface ExtractCommandOptions {
  envdir: string;
  json: boolean;
  dicts: string[];
  /** How PerconaFT trees are read (tests and benchmarks). */
  openTree?: ExtractOptions['openTree'];
}

export interface ExtractOutput {
  /** Writes a chunk of stdout; resolves when more may be written. */
  stdout(chunk: Uint8Array): void | Promise<void>;
  stderr(text: string): void;
}

/** Version of the --json document. */
export const EXTRACT_JSON_VERSION = 1;

/** Anomalies listed one per line on stderr; the rest are counted. */
const MAX_ANOMALIES = 20;

function noteText(n: ReplayNote): string {
  const where = n.iname !== undefined ? ` on ${escapeToString(n.iname)}` : '';
  return `lsn ${n.lsn} ${n.record}${where}: ${n.detail}`;
}

function noteJson(n: ReplayNote): string {
  const iname = n.iname !== undefined ? `,"iname":${bytesJsonText(n.iname)}` : '';
  return `{"lsn":"${n.lsn}","record":"${n.record}"${iname},"detail":${JSON.stringify(n.detail)}}`;
}

/** Run the extraction and write its output; returns the exit code. Throws for a refused environment. */
export async function extractCommand(storage: Storage, opts: ExtractCommandOptions, out: ExtractOutput): Promise<number> {
  registerNodeCodecs();
  const ex = await openExtraction(storage, opts.envdir, { dicts: opts.dicts, ...(opts.openTree !== undefined ? { openTree: opts.openTree } : {}) });
  const buf = new OutputBuffer(out.stdout);
  const failures: Array<{ d: ExtractedDictionary; err: unknown }> = [];
  try {
    if (opts.json) await writeJson(ex, buf, failures);
    else await writeTsv(ex, buf, failures);
    await buf.flush();
  } finally {
    await ex.close();
  }
  writeReport(ex, failures, out);
  if (failures.length > 0) return exitCodeFor(failures[0]!.err);
  return ex.log.damage === undefined ? EXIT.OK : exitCodeFor(ex.log.damage);
}

/**
 * Reads one dictionary's rows through `each`, a batch at a time; damage in its file is
 * recorded, not thrown. A row's bytes are valid only during its call (the file's leaves are
 * read into reused memory).
 */
async function eachRow(d: ExtractedDictionary, failures: Array<{ d: ExtractedDictionary; err: unknown }>, each: (key: Uint8Array, value: Uint8Array) => void | Promise<void>): Promise<void> {
  try {
    for await (const batch of d.rowBatches({ reuseMemory: true })) {
      for (let i = 0; i < batch.length; i++) {
        const p = each(batch[i]!.key, batch[i]!.value);
        if (p !== undefined) await p;
      }
    }
  } catch (err) {
    // Only damage in the file is reported and skipped; a bug or an I/O failure stops everything.
    if (!(err instanceof TokusimError) || err.kind === 'invariant' || err.kind === 'io') throw err;
    failures.push({ d, err });
  }
}

async function writeTsv(ex: Extraction, buf: OutputBuffer, failures: Array<{ d: ExtractedDictionary; err: unknown }>): Promise<void> {
  for (const d of ex.dictionaries) {
    const iname = Buffer.from(escapeToString(d.iname), 'latin1');
    await eachRow(d, failures, (key, value) => {
      writeTsvRow(buf, iname, key, value);
      if (buf.full) return buf.flush();
    });
  }
}

async function writeJson(ex: Extraction, buf: OutputBuffer, failures: Array<{ d: ExtractedDictionary; err: unknown }>): Promise<void> {
  const log = ex.log;
  const pending = ex.pending.map((p) => {
    const xa = p.xaXid !== undefined ? `,"xa":{"formatID":${p.xaXid.formatID >>> 0},"gtrid_length":${p.xaXid.gtridLength},"bqual_length":${p.xaXid.bqualLength},"data":${bytesJsonText(p.xaXid.data)}}` : '';
    return `{"xid":{"parent":"${p.xid.parent}","child":"${p.xid.child}"},"state":"${p.state}","begin_lsn":"${p.beginLsn}","open_children":${p.openChildren},"pending_writes":${p.pendingWrites}${xa}}`;
  });
  buf.text(
    `{"format":"tokusim-extract","version":${EXTRACT_JSON_VERSION},"environment":{"dir":${JSON.stringify(ex.dir)},"kind":"${ex.kind}"},` +
      `"log":{"files":${JSON.stringify(log.files)},"records":${log.records},"first_lsn":${log.firstLsn === undefined ? 'null' : `"${log.firstLsn}"`},` +
      `"last_lsn":${log.lastLsn === undefined ? 'null' : `"${log.lastLsn}"`},"partial":${log.partial},"damage":${log.damage === undefined ? 'null' : JSON.stringify(describeError(log.damage))}},` +
      `"pending":[${pending.join(',')}],"needs_application":[${ex.notApplied.map(noteJson).join(',')}],"anomalies":[${ex.anomalies.map(noteJson).join(',')}],` +
      `"dictionaries":[`,
  );
  let first = true;
  for (const d of ex.dictionaries) {
    const f = d.file;
    buf.text(
      `${first ? '' : ','}{"iname":${bytesJsonText(d.iname)},"dname":${d.dname === undefined ? 'null' : bytesJsonText(d.dname)},"system":${d.system},` +
        `"file":"${f.kind}","checkpoint_lsn":${f.kind === 'checkpointed' ? `"${f.checkpointLsn}"` : 'null'},"rows":[`,
    );
    first = false;
    let firstRow = true;
    await eachRow(d, failures, (key, value) => {
      buf.ascii(`${firstRow ? '' : ','}{"key":${bytesJsonText(key)},"value":${bytesJsonText(value)}}`);
      firstRow = false;
      if (buf.full) return buf.flush();
    });
    const failed = failures.find((x) => x.d === d);
    const c = d.counts;
    buf.text(
      `],"complete":${failed === undefined},"error":${failed === undefined ? 'null' : JSON.stringify(describeError(failed.err))},` +
        `"counts":{"from_file":${c.fromFile},"from_log":${c.fromLog},"deleted_by_log":${c.deletedByLog},"withheld":${c.withheld}},` +
        `"provisional_left_out":[${sortedLeftOut(d).map((l) => `{"xid":{"parent":"${l.xid.parent}","child":"${l.xid.child}"},"state":"${l.state}","entries":${l.entries}}`).join(',')}],` +
        `"undetermined_keys":[${d.overlay.undeterminedKeys.map(bytesJsonText).join(',')}],"older_rows_undetermined":${d.overlay.olderRowsUndetermined},` +
        `"unknown_rows":${d.unknownRows},"notes":[${d.notes.map(noteJson).join(',')}]}`,
    );
  }
  buf.ascii(']}\n');
}

/** A dictionary's left-out provisional entries, by xid. */
function sortedLeftOut(d: ExtractedDictionary): ProvisionalLeftOut[] {
  const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...d.leftOut].sort((a, b) => cmp(a.xid.parent, b.xid.parent) || cmp(a.xid.child, b.xid.child));
}

const LEFT_OUT_WHY: Record<ProvisionalLeftOut['state'], string> = { aborted: 'aborted', live: 'still live at the end of the log', prepared: 'still prepared at the end of the log' };

function writeReport(ex: Extraction, failures: Array<{ d: ExtractedDictionary; err: unknown }>, out: ExtractOutput): void {
  const err: string[] = [];
  const log = ex.log;
  const range = log.firstLsn === undefined ? 'no log records' : `LSN ${log.firstLsn}..${log.lastLsn}${log.partial ? ' (older log files are gone: partial replay)' : ''}`;
  const rows = ex.dictionaries.reduce((n, d) => n + d.counts.fromFile + d.counts.fromLog, 0);
  err.push(`extract: ${ex.kind} environment, ${ex.dictionaries.length} dictionaries, ${rows} rows; log: ${log.records} records, ${range}, ${log.files.length} file(s)\n`);
  for (const p of ex.pending) {
    const xa = p.xaXid !== undefined ? ` xa formatID=0x${p.xaXid.formatID.toString(16)} data="${escapeToString(p.xaXid.data)}"` : '';
    const kids = p.openChildren > 0 ? `, ${p.openChildren} open child txn(s)` : '';
    err.push(`not applied: txn ${p.xid.parent},${p.xid.child} still ${p.state} at the end of the log (begun at lsn ${p.beginLsn}${kids}): ${p.pendingWrites} write(s) in the log and its provisional entries in the files left out${xa}\n`);
  }
  for (const n of ex.notApplied) err.push(`needs the application: ${noteText(n)}\n`);
  for (const d of ex.dictionaries) {
    for (const l of sortedLeftOut(d)) {
      err.push(`left out: ${escapeToString(d.iname)}: ${l.entries} provisional entr${l.entries === 1 ? 'y' : 'ies'} of txn ${l.xid.parent},${l.xid.child} (${LEFT_OUT_WHY[l.state]})\n`);
    }
  }
  for (const d of ex.dictionaries) {
    const parts: string[] = [];
    const und = d.overlay.undeterminedKeys;
    if (und.length > 0) {
      const shown = und.slice(0, 8).map((k) => `"${escapeToString(k)}"`).join(', ');
      parts.push(`rows not printed, their fate is undetermined: ${shown}${und.length > 8 ? `, ... (${und.length} in all)` : ''}`);
    }
    if (d.counts.withheld > 0) parts.push(`${d.counts.withheld} row(s) of the file withheld (a later record that needs the application may have changed them)`);
    if (d.unknownRows) parts.push(d.file.kind === 'missing' ? 'the file is missing and the log does not hold all its rows' : 'may hold rows neither the file nor the log shows');
    if (d.counts.outOfOrder) parts.push('the file\'s rows are not in byte order (an application comparator?): rows from the log follow the file\'s rows');
    if (parts.length > 0) err.push(`incomplete: ${escapeToString(d.iname)}: ${parts.join('; ')}\n`);
  }
  for (const a of ex.anomalies.slice(0, MAX_ANOMALIES)) err.push(`anomaly: ${noteText(a)}\n`);
  if (ex.anomalies.length > MAX_ANOMALIES) err.push(`anomaly: ... ${ex.anomalies.length - MAX_ANOMALIES} more\n`);
  if (log.damage !== undefined) err.push(`tokusim: the log is damaged, rows reflect it up to lsn ${log.lastLsn ?? 'none'}: ${describeError(log.damage)}\n`);
  for (const f of failures) {
    const where = f.err instanceof TokusimError && f.err.kind === 'needs-application' ? 'where the tree needs the application' : 'at the damage';
    err.push(`tokusim: ${escapeToString(f.d.iname)}: rows stop ${where}: ${describeError(f.err)}\n`);
  }
  out.stderr(err.join(''));
}

interface Args {
  envdir: string;
  json: boolean;
  dict: string[] | undefined;
}

export const extractCommandModule: CommandModule<object, Args> = {
  command: 'extract <envdir>',
  describe: 'print the committed rows of every dictionary of a PerconaFT or tokusim environment (read-only)',
  builder: (y) =>
    y
      .positional('envdir', { type: 'string', demandOption: true, describe: 'environment directory (dictionaries and logs)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON document instead of INAME<TAB>KEY<TAB>VALUE lines' })
      .option('dict', { type: 'string', array: true, describe: 'only this dictionary (dname or iname); repeat for more' })
      .example('$0 extract ./env', 'every committed row: INAME<TAB>KEY<TAB>VALUE')
      .example('$0 extract ./env --dict orders.db --json', 'one dictionary as a JSON document') as never,
  handler: (argv) =>
    runCommand(() =>
      extractCommand(
        new ReadOnlyStorage(new NodeStorage()),
        { envdir: argv.envdir, json: argv.json, dicts: argv.dict ?? [] },
        { stdout: stdoutChunkWriter(), stderr: (s) => void process.stderr.write(s) },
      ),
    ),
};
