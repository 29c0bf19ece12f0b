/**
 * `tokusim replay LOGDIR... [--dump] [--user-only] [--partial]`: a forensic tool that rebuilds
 * the committed rows of every dictionary purely from a redo log that starts at environment
 * creation (LSN 1), e.g. a real PerconaFT log.
 *
 * Output contract:
 *  - stdout with --dump: one line per committed row, `INAME<TAB>KEY<TAB>VALUE`, each of the
 *    three written with the printer's BYTESTRING escaping (the text between the quotes of
 *    `data="..."`), so every row is exactly one line and tabs only separate fields.
 *    Dictionaries are sorted by iname bytes, rows by key bytes. The environment's own
 *    dictionaries (tokudb.directory, tokudb.environment) hold real rows and are printed too,
 *    unless --user-only. Without --dump: one summary line per dictionary.
 *  - stderr: a summary (records, LSN range), the transactions still open or prepared at the
 *    end (not applied), the committed records that need the application's callbacks (their
 *    rows are listed as undetermined, never guessed), anomalies, and the damage that stopped
 *    the replay, if any.
 *  - exit code (tools/cli-support.ts EXIT): 0 when the whole log was read; TRUNCATED (4) for a
 *    torn tail and CORRUPT (3) for damage or an LSN gap, after printing everything read before
 *    the damage; CORRUPT (3) without output for a log that does not start at LSN 1 (unless
 *    --partial); IO (5) when a directory cannot be read.
 *
 * Several LOGDIRs may be given (e.g. a directory of trimmed files and the live one); their log
 * files are read together in PerconaFT's file order (version, then index).
 */
import { escapeBytes } from '../../src/format/json.js';
import type { CommandModule } from 'yargs';
import { TokusimError } from '../../src/base/errors.js';
import { LogCursor } from '../../src/log/cursor.js';
import { compareLogFiles, findLogFiles, type LogFileEntry } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { LogReplayer, type ReplayNote, type ReplayResult } from '../../src/log/replay.js';
import type { TxnidPair } from '../../src/format/record-types.js';
import { EXIT, describeError, exitCodeFor, runCommand } from '../cli-support.js';
import { startProgress, type ProgressStream } from '../progress.js';

export interface ReplayCommandOptions {
  logdirs: string[];
  dump: boolean;
  userOnly: boolean;
  partial: boolean;
  /** Where progress is drawn (default process.stderr). */
  progress?: ProgressStream;
}

export interface ReplayOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The printer's BYTESTRING escaping (the text between the quotes of `data="..."`). */
export { escapeBytes };

/** Anomalies listed one per line on stderr; the rest are counted. */
const MAX_ANOMALIES = 20;

const xidText = (x: TxnidPair): string => `${x.parent},${x.child}`;

function noteText(n: ReplayNote): string {
  const where = n.iname !== undefined ? ` on ${escapeBytes(n.iname)}` : '';
  return `lsn ${n.lsn} ${n.record}${where}: ${n.detail}`;
}

/** Collect the log files of every dir, in reading order; the same file name twice is an error. */
async function logFilesOf(storage: Storage, dirs: string[]): Promise<LogFileEntry[]> {
  const all: LogFileEntry[] = [];
  for (const d of dirs) all.push(...(await findLogFiles(storage, d)));
  all.sort(compareLogFiles);
  for (let i = 1; i < all.length; i++) {
    if (compareLogFiles(all[i - 1]!, all[i]!) === 0) {
      throw new TokusimError('bad-argument', `log file ${all[i]!.name} appears in more than one LOGDIR`, {
        file: all[i]!.path,
      });
    }
  }
  return all;
}

/** Run the replay and write its output; returns the exit code. Throws for a refused log. */
export async function replayCommand(storage: Storage, opts: ReplayCommandOptions, out: ReplayOutput): Promise<number> {
  const files = await logFilesOf(storage, opts.logdirs);
  if (files.length === 0) {
    throw new TokusimError('io', `no log files (log<N>.tokulog<V>) in ${opts.logdirs.join(', ')}`);
  }
  // Progress counts bytes read: where each file starts in the concatenated log.
  const startOf = new Map<string, number>();
  let totalBytes = 0;
  for (const f of files) {
    startOf.set(f.path, totalBytes);
    const h = await storage.open(f.path, 'read');
    try {
      totalBytes += await h.size();
    } finally {
      await h.close();
    }
  }
  const progress = startProgress({ title: 'replay', unit: 'MiB', ...(opts.progress !== undefined ? { stream: opts.progress } : {}) });
  const mib = (b: number) => Math.round(b / (1 << 20));
  let seen = 0;
  const cursor = new LogCursor(storage, files.map((f) => f.path));
  const replayer = new LogReplayer({ partial: opts.partial });
  let damage: TokusimError | undefined;
  try {
    for (;;) {
      let entry;
      try {
        entry = await cursor.next();
      } catch (err) {
        if (!(err instanceof TokusimError) || err.kind === 'io' || err.kind === 'invariant') throw err;
        damage = err;
        break;
      }
      if (entry === undefined) break;
      if (++seen % 1024 === 0) progress.update(mib((startOf.get(entry.file) ?? 0) + entry.offset), mib(totalBytes));
      try {
        replayer.apply(entry.record);
      } catch (err) {
        // A log that does not start at LSN 1 is refused outright (nothing trustworthy to print).
        if (err instanceof TokusimError && err.kind === 'lsn-gap' && replayer.count === 0) {
          const why = 'the log does not start at environment creation (older log files are missing or were trimmed); ' +
            'give every log directory, or use --partial';
          throw new TokusimError('lsn-gap', why, {
            file: entry.file,
            offset: entry.offset,
            expected: 'first LSN 1',
            actual: `first LSN ${entry.record.lsn}`,
          });
        }
        throw err;
      }
    }
  } finally {
    progress.stop();
    await cursor.close();
  }
  const result = replayer.finish();
  writeRows(result, opts, out);
  writeReport(result, files.length, damage, out);
  return damage === undefined ? EXIT.OK : exitCodeFor(damage);
}

function writeRows(result: ReplayResult, opts: ReplayCommandOptions, out: ReplayOutput): void {
  const lines: string[] = [];
  for (const d of result.dictionaries) {
    if (opts.userOnly && d.system) continue;
    const iname = escapeBytes(d.iname);
    if (opts.dump) {
      for (const row of d.rows) lines.push(`${iname}\t${escapeBytes(row.key)}\t${escapeBytes(row.value)}\n`);
    } else {
      const extra = d.undeterminedKeys.length > 0 ? `\tundetermined=${d.undeterminedKeys.length}` : '';
      lines.push(`${iname}\trows=${d.rows.length}${extra}${d.unknownRows ? '\tunknown-rows' : ''}\n`);
    }
    if (lines.length >= 4096) {
      out.stdout(lines.join(''));
      lines.length = 0;
    }
  }
  if (lines.length > 0) out.stdout(lines.join(''));
}

function writeReport(result: ReplayResult, nfiles: number, damage: TokusimError | undefined, out: ReplayOutput): void {
  const err: string[] = [];
  const range = result.firstLsn === undefined ? 'no records' : `LSN ${result.firstLsn}..${result.lastLsn}`;
  err.push(`replay: ${result.records} records, ${range}, ${nfiles} log file(s); ${result.dictionaries.length} dictionaries at the end\n`);
  for (const p of result.pending) {
    const xa = p.xaXid !== undefined ? ` xa formatID=0x${p.xaXid.formatID.toString(16)} data="${escapeBytes(p.xaXid.data)}"` : '';
    const kids = p.openChildren > 0 ? `, ${p.openChildren} open child txn(s)` : '';
    err.push(`not applied: txn ${xidText(p.xid)} still ${p.state} at the end of the log (begun at lsn ${p.beginLsn}${kids}): ${p.pendingWrites} write(s) discarded${xa}\n`);
  }
  for (const n of result.notApplied) err.push(`needs the application: ${noteText(n)}\n`);
  for (const d of result.dictionaries) {
    if (d.undeterminedKeys.length === 0 && !d.unknownRows) continue;
    const parts: string[] = [];
    if (d.undeterminedKeys.length > 0) {
      const shown = d.undeterminedKeys.slice(0, 8).map((k) => `"${escapeBytes(k)}"`).join(', ');
      const more = d.undeterminedKeys.length > 8 ? `, ... (${d.undeterminedKeys.length} in all)` : '';
      parts.push(`rows not printed, their fate is undetermined: ${shown}${more}`);
    }
    if (d.unknownRows) parts.push('may hold rows the log does not show');
    err.push(`incomplete: ${escapeBytes(d.iname)}: ${parts.join('; ')}\n`);
  }
  for (const a of result.anomalies.slice(0, MAX_ANOMALIES)) err.push(`anomaly: ${noteText(a)}\n`);
  if (result.anomalies.length > MAX_ANOMALIES) err.push(`anomaly: ... ${result.anomalies.length - MAX_ANOMALIES} more\n`);
  if (damage !== undefined) {
    err.push(`tokusim: replay stopped early, rows above reflect the log up to lsn ${result.lastLsn ?? 'none'}: ${describeError(damage)}\n`);
  }
  out.stderr(err.join(''));
}

interface Args {
  logdir: string[];
  dump: boolean;
  'user-only': boolean;
  partial: boolean;
}

export const replayCommandModule: CommandModule<object, Args> = {
  command: 'replay <logdir..>',
  describe: 'rebuild dictionary contents from a log that starts at environment creation',
  builder: (y) =>
    y
      .positional('logdir', { type: 'string', array: true, demandOption: true, describe: 'log directories (read together)' })
      .option('dump', { type: 'boolean', default: false, describe: 'print every committed row: INAME<TAB>KEY<TAB>VALUE' })
      .option('user-only', { type: 'boolean', default: false, describe: 'leave out tokudb.directory and tokudb.environment' })
      .option('partial', {
        type: 'boolean',
        default: false,
        describe: 'accept a log whose first LSN is not 1 (rows older than the log are unknown)',
      })
      .example('$0 replay ./env', 'one summary line per dictionary: rows at the end of the log')
      .example('$0 replay ./env --dump --user-only', 'every committed row of the user dictionaries: INAME<TAB>KEY<TAB>VALUE')
      .example('$0 replay ./archived-logs ./env --dump', 'read trimmed log files kept elsewhere together with the live ones') as never,
  handler: (argv) =>
    runCommand(() =>
      replayCommand(
        new ReadOnlyStorage(new NodeStorage()),
        { logdirs: argv.logdir, dump: argv.dump, userOnly: argv['user-only'], partial: argv.partial },
        { stdout: (s) => void process.stdout.write(s), stderr: (s) => void process.stderr.write(s) },
      ),
    ),
};
