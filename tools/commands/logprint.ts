/**
 * `tokusim logprint [FILES or DIRS...]`: print tokulog files in LSN order (like pg_waldump).
 *
 * Output contract:
 *  - Default text: for each file, `tokulog v.N` when it is entered, then one tokuft_logprint
 *    line per record (so a single undamaged file prints exactly what tokuft_logprint prints).
 *  - --json: one JSON object per record per line (no header lines).
 *  - --stats: a table of count and bytes per record type, then a total line.
 *  - Filters: --type (repeatable or comma list), --xid P (the root transaction P and its
 *    children) or P,C (exactly that pair), --start-lsn, --end-lsn (inclusive), --limit N.
 *  - --follow: at the end of the log, keep polling for growth and new files until SIGINT.
 *  - Damage: every good record before it is printed first, then ONE line on stderr naming the
 *    file, byte offset, last good LSN and expected vs actual value; exit code per
 *    tools/cli-support.ts EXIT (CORRUPT 3, TRUNCATED 4, IO 5, USAGE 2). Never a stack trace.
 *
 * Invariants:
 *  - Records are visited in cursor order (LSN order, consecutive unless --allow-gaps).
 *  - Output is written in bounded chunks with back-pressure.
 */
import type { Writable } from 'node:stream';
import type { Argv, CommandModule } from 'yargs';
import { TokusimError, invariant } from '../../src/base/errors.js';
import { encodeLogFileHeader } from '../../src/format/log-header.js';
import { recordToJsonLine } from '../../src/format/json.js';
import { LogPrinter } from '../../src/format/printer.js';
import { LOG_RECORD_TYPES, LOG_SPEC_BY_CMD, LOG_SPEC_BY_NAME, type LogRecord, type TxnidPair } from '../../src/format/record-types.js';
import { LogCursor, type LogEntry } from '../../src/log/cursor.js';
import { compareLogFiles, findLogFiles, parseLogFileName } from '../../src/log/names.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { runCommand } from '../cli-support.js';

export interface LogprintOptions {
  paths: string[];
  types?: string[];
  xid?: string;
  startLsn?: string;
  endLsn?: string;
  limit?: number;
  json?: boolean;
  stats?: boolean;
  follow?: boolean;
  allowGaps?: boolean;
  /** Poll interval of --follow, in ms (default 200). */
  pollMs?: number;
}

export interface LogprintIo {
  /** Receives stdout text (strings, or latin1 bytes); may return a promise for back-pressure. */
  write(chunk: string | Uint8Array): void | Promise<void>;
  /** Stops --follow (SIGINT in the CLI). */
  signal?: AbortSignal;
  /**
   * True when write()'s promise resolves only once the chunk has been written (is no longer
   * needed), so its buffer may be reused for later output; keeps memory flat.
   */
  settlesWhenWritten?: boolean;
}

const OUT_CHUNK = 1 << 18;

/**
 * Collects output and hands it to io.write in chunks of about 256 KiB or more. Text-mode records go
 * through the tokuft_logprint printer (one LogPrinter per file, fed the file's header and then
 * each entry's bytes), which writes straight into a byte buffer.
 */
class ChunkedOut {
  private parts: string[] = [];
  private size = 0;
  private printer: LogPrinter | undefined;
  /** Output of earlier files' printers not yet written. */
  private done: Uint8Array[] = [];
  constructor(private readonly io: LogprintIo) {}
  line(s: string): void {
    this.parts.push(s, '\n');
    this.size += s.length + 1;
  }
  /** Start a file in text mode: prints `tokulog v.N` like the tool does. */
  enterFile(version: number): void {
    if (this.printer !== undefined && this.printer.pendingOutput > 0) this.done.push(this.printer.takeOutput());
    this.printer = new LogPrinter();
    this.printer.push(encodeLogFileHeader(version));
  }
  /** Print one entry in text mode. */
  entry(bytes: Uint8Array): void {
    invariant(this.printer !== undefined, 'a file was entered before its entries');
    this.printer.push(bytes);
  }
  /** Print the entry at buf[offset] in text mode, already verified by the cursor. */
  verifiedEntryAt(buf: Uint8Array, offset: number): void {
    invariant(this.printer !== undefined, 'a file was entered before its entries');
    this.printer.printEntryAt(buf, offset, true);
  }
  async maybeFlush(): Promise<void> {
    if (this.size >= OUT_CHUNK || (this.printer?.pendingOutput ?? 0) >= OUT_CHUNK) await this.flush();
  }
  async flush(): Promise<void> {
    for (const chunk of this.done.splice(0)) await this.io.write(chunk);
    const printer = this.printer;
    if (printer !== undefined && printer.pendingOutput > 0) {
      const bytes = printer.takeOutput();
      await this.io.write(bytes);
      if (this.io.settlesWhenWritten) printer.recycle(bytes);
    }
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await this.io.write(text);
  }
}

function usage(message: string, actual?: string): TokusimError {
  return new TokusimError('bad-argument', message, actual === undefined ? {} : { actual });
}

function parseLsn(s: string | undefined, what: string): bigint | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw usage(`${what} must be a non-negative integer`, s);
  return BigInt(s);
}

/** --type values: repeatable and comma separated; each must be a record type name. */
export function parseTypes(values: string[] | undefined): Set<string> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const set = new Set<string>();
  for (const v of values) {
    for (const name of v.split(',').map((x) => x.trim()).filter((x) => x.length > 0)) {
      if (!LOG_SPEC_BY_NAME.has(name)) {
        throw new TokusimError('bad-argument', 'unknown record type for --type', {
          expected: `one of ${LOG_RECORD_TYPES.map((t) => t.name).join(', ')}`,
          actual: name,
        });
      }
      set.add(name);
    }
  }
  return set;
}

/** --xid P matches the root P and its children; --xid P,C matches that pair only. */
export function parseXid(s: string | undefined): ((x: TxnidPair) => boolean) | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)(?:,(\d+))?$/.exec(s.trim());
  if (m === null) throw usage('--xid must be P or P,C (decimal transaction ids)', s);
  const parent = BigInt(m[1]!);
  if (m[2] === undefined) return (x) => x.parent === parent;
  const child = BigInt(m[2]);
  return (x) => x.parent === parent && x.child === child;
}

/** Resolve FILES or DIRS to log file paths in reading order, and the one dir to follow if any. */
async function resolvePaths(storage: Storage, paths: string[]): Promise<{ files: string[]; dir?: string }> {
  if (paths.length === 0) throw usage('name at least one log file or directory');
  const files: string[] = [];
  const dirs: string[] = [];
  for (const p of paths) {
    let listed;
    try {
      listed = await findLogFiles(storage, p);
    } catch (err) {
      if (ioErrorCode(err) === 'ENOTDIR') {
        files.push(p);
        continue;
      }
      throw err;
    }
    dirs.push(p);
    files.push(...listed.map((f) => f.path));
  }
  const parsed = files.map((f) => parseLogFileName(f.slice(f.lastIndexOf('/') + 1)));
  if (parsed.every((x) => x !== undefined)) {
    const order = files.map((f, i) => ({ f, n: parsed[i]! }));
    order.sort((a, b) => compareLogFiles(a.n, b.n));
    files.splice(0, files.length, ...order.map((x) => x.f));
  }
  return dirs.length === 1 && paths.length === 1 ? { files, dir: dirs[0]! } : { files };
}

interface TypeStats {
  count: number;
  bytes: number;
}

function statsTable(stats: Map<string, TypeStats>): string[] {
  const rows: string[] = [];
  const w = 23;
  let total = { count: 0, bytes: 0 };
  for (const s of stats.values()) total = { count: total.count + s.count, bytes: total.bytes + s.bytes };
  const pct = (b: number) => (total.bytes === 0 ? '0.0' : ((100 * b) / total.bytes).toFixed(1));
  rows.push(`${'type'.padEnd(w)} ${'count'.padStart(12)} ${'bytes'.padStart(15)} ${'%bytes'.padStart(7)}`);
  for (const t of LOG_RECORD_TYPES) {
    const s = stats.get(t.name);
    if (s === undefined) continue;
    rows.push(`${t.name.padEnd(w)} ${String(s.count).padStart(12)} ${String(s.bytes).padStart(15)} ${pct(s.bytes).padStart(7)}`);
  }
  rows.push(`${'total'.padEnd(w)} ${String(total.count).padStart(12)} ${String(total.bytes).padStart(15)} ${pct(total.bytes).padStart(7)}`);
  return rows;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The body of `tokusim logprint`. Returns the exit code; for damaged input it first writes
 * every good record, then throws the TokusimError (the CLI prints it as one line).
 */
export async function runLogprint(opts: LogprintOptions, io: LogprintIo, storage: Storage = new ReadOnlyStorage(new NodeStorage())): Promise<number> {
  const types = parseTypes(opts.types);
  const xidMatch = parseXid(opts.xid);
  const startLsn = parseLsn(opts.startLsn, '--start-lsn');
  const endLsn = parseLsn(opts.endLsn, '--end-lsn');
  const limit = opts.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw usage('--limit must be a non-negative integer', String(limit));
  if (opts.json && opts.stats) throw usage('--json and --stats cannot be combined');
  const { files, dir } = await resolvePaths(storage, opts.paths);
  const out = new ChunkedOut(io);
  const text = !opts.json && !opts.stats;
  const stats = new Map<string, TypeStats>();
  const cursor = new LogCursor(
    storage,
    files,
    {
      checkContinuity: !opts.allowGaps,
      tail: opts.follow ? 'wait' : 'error',
      onEnterFile: text
        ? (f) => {
            if (f.version !== undefined) out.enterFile(f.version);
          }
        : undefined,
    },
    dir,
  );
  let printed = 0;
  const wanted = (rec: LogRecord): boolean => {
    if (startLsn !== undefined && rec.lsn < startLsn) return false;
    if (types !== undefined && !types.has(rec.type)) return false;
    if (xidMatch !== undefined) {
      const x = (rec as { xid?: TxnidPair }).xid;
      if (x === undefined || !xidMatch(x)) return false;
    }
    return true;
  };
  const tally = (name: string, length: number): void => {
    const s = stats.get(name);
    if (s === undefined) stats.set(name, { count: 1, bytes: length });
    else {
      s.count++;
      s.bytes += length;
    }
  };
  /** At the end of what is there: with --follow wait for more (true), else stop (false). */
  const waitForMore = async (): Promise<boolean> => {
    if (!opts.follow || io.signal?.aborted) return false;
    await out.flush();
    await sleep(opts.pollMs ?? 200, io.signal);
    if (io.signal?.aborted) return false;
    await cursor.refresh();
    return true;
  };
  const emit = (e: LogEntry): void => {
    if (opts.stats) {
      tally(e.record.type, e.length);
    } else if (opts.json) {
      out.line(recordToJsonLine(e.record));
    } else {
      out.entry(e.bytes);
    }
  };
  // Fast path: text and --stats never need a decoded record unless --xid asks for one, so
  // walk raw entries (checked once by the cursor) and filter on bytes read in place. LSNs are
  // compared as doubles: exact below 2^53, and an LSN at or above 2^53 still compares
  // correctly against a bound below 2^53 (larger bounds take the decoding path).
  const TWO53 = 1n << 53n;
  const raw = !opts.json && xidMatch === undefined && (startLsn ?? 0n) < TWO53 && (endLsn ?? 0n) < TWO53;
  try {
    if (raw) {
      const typeCmds = types === undefined ? undefined : new Uint8Array(256);
      if (typeCmds !== undefined) for (const name of types!) typeCmds[LOG_SPEC_BY_NAME.get(name)!.cmd.charCodeAt(0)] = 1;
      const lo = startLsn === undefined ? -1 : Number(startLsn);
      const hi = endLsn === undefined ? Infinity : Number(endLsn);
      reading: for (;;) {
        if (limit !== undefined && printed >= limit) break;
        const batch = await cursor.nextRawBatch(limit === undefined ? 1 << 16 : Math.min(1 << 16, limit - printed));
        if (batch === undefined) {
          if (await waitForMore()) continue;
          break;
        }
        const { bytes, starts, count } = batch;
        for (let i = 0; i < count; i++) {
          if (limit !== undefined && printed >= limit) break reading;
          const at = starts[i]!;
          const lsn = u32At(bytes, at + 5) * 4294967296 + u32At(bytes, at + 9);
          if (lsn > hi) break reading;
          if (lsn < lo) continue;
          const cmd = bytes[at + 4]!;
          if (typeCmds !== undefined && typeCmds[cmd] === 0) continue;
          if (opts.stats) {
            tally(LOG_SPEC_BY_CMD[cmd]!.name, starts[i + 1]! - at);
          } else {
            out.verifiedEntryAt(bytes, at);
          }
          printed++;
        }
        await out.maybeFlush();
      }
    } else {
      reading: for (;;) {
        if (limit !== undefined && printed >= limit) break;
        const batch = await cursor.nextBatch(limit === undefined ? 4096 : Math.min(4096, limit - printed));
        if (batch.length === 0) {
          if (await waitForMore()) continue;
          break;
        }
        for (const e of batch) {
          if (limit !== undefined && printed >= limit) break reading;
          if (endLsn !== undefined && e.record.lsn > endLsn) break reading;
          if (!wanted(e.record)) continue;
          emit(e);
          printed++;
        }
        await out.maybeFlush();
      }
    }
  } finally {
    // Everything good is shown before any error line.
    if (opts.stats) for (const row of statsTable(stats)) out.line(row);
    await out.flush();
    await cursor.close();
  }
  return 0;
}

function u32At(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * Write to a node stream; the promise settles once the chunk is written (chunks are large, so
 * one write in flight is enough, and the caller may then reuse the chunk's buffer).
 */
export function streamWriter(stream: Writable): (chunk: string | Uint8Array) => Promise<void> {
  return (chunk) =>
    new Promise((resolve, reject) => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      stream.write(data, (err) => (err ? reject(err) : resolve()));
    });
}

interface LogprintArgv {
  paths: string[];
  type?: string[];
  xid?: string;
  'start-lsn'?: string;
  'end-lsn'?: string;
  limit?: number;
  json: boolean;
  stats: boolean;
  follow: boolean;
  'allow-gaps': boolean;
  'poll-ms': number;
}

export const logprintCommandModule: CommandModule<object, LogprintArgv> = {
  command: 'logprint [paths..]',
  describe: 'print tokulog files or log directories in LSN order (filters, --json, --stats, --follow)',
  builder: (y: Argv<object>) =>
    y
      .positional('paths', { type: 'string', array: true, default: [] as string[], describe: 'log files and/or directories' })
      .option('type', { type: 'string', array: true, describe: 'only these record types (repeatable or comma list)' })
      .option('xid', { type: 'string', describe: 'only records of transaction P (and its children) or exactly P,C' })
      .option('start-lsn', { type: 'string', describe: 'skip records below this LSN' })
      .option('end-lsn', { type: 'string', describe: 'stop after this LSN' })
      .option('limit', { type: 'number', describe: 'print at most N records' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
      .option('stats', { type: 'boolean', default: false, describe: 'count and bytes per record type' })
      .option('follow', { type: 'boolean', default: false, describe: 'keep printing as the log grows (Ctrl-C stops)' })
      .option('allow-gaps', { type: 'boolean', default: false, describe: 'do not require consecutive LSNs' })
      .option('poll-ms', { type: 'number', default: 200, describe: 'poll interval for --follow' })
      .example('$0 logprint ./env', 'every record of an environment, in LSN order (tokuft_logprint lines)')
      .example('$0 logprint ./env --type xbegin,xcommit --xid 7', 'the begin and commit records of transaction 7 and its children')
      .example('$0 logprint ./env/log000000000000.tokulog29 --json --limit 5', 'the first five records as JSON lines')
      .example('$0 logprint ./env --stats', 'count and bytes per record type')
      .example('$0 logprint ./env --follow --start-lsn 1000', 'records from LSN 1000 on, then new ones as they are logged') as unknown as Argv<LogprintArgv>,
  handler: async (argv) => {
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    if (argv.follow) process.once('SIGINT', onSigint);
    await runCommand(async () => {
      try {
        return await runLogprint(
          {
            paths: argv.paths ?? [],
            types: argv.type,
            xid: argv.xid,
            startLsn: argv['start-lsn'],
            endLsn: argv['end-lsn'],
            limit: argv.limit,
            json: argv.json,
            stats: argv.stats,
            follow: argv.follow,
            allowGaps: argv['allow-gaps'],
            pollMs: argv['poll-ms'],
          },
          { write: streamWriter(process.stdout), settlesWhenWritten: true, signal: ac.signal },
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
  },
};
