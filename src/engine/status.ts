/**
 * The status of an environment directory read without opening it (`tokusim status`): the env
 * lock, the log files with their LSN ranges, checkpoint counters and the last checkpoint's
 * stage and duration (from the log records), every dictionary file with the header slot in
 * use, its checkpoint count and LSN.
 *
 * Invariants:
 *  - Reads only: status never creates, writes or locks anything in the directory.
 *  - The text and the StatusReport come from the same single scan, so they never disagree.
 */
import { TokusimError } from '../base/errors.js';
import { chooseHeader } from '../format/ft-header.js';
import { readHeaderSlots } from '../blocks/dictionary-file.js';
import { LogCursor, scanLogFile } from '../log/cursor.js';
import { findLogFiles } from '../log/names.js';
import type { Clock } from '../storage/clock.js';
import { ioErrorCode } from '../storage/io-error.js';
import { joinPath, type Storage } from '../storage/storage.js';
import { EnvLock, lockTime } from './env-lock.js';
import { defaultEnvHost, type HostProcesses } from './host.js';

/** What `tokusim status --json` prints. 64-bit numbers (LSNs, counts) are decimal strings. */
export interface StatusReport {
  environment: string;
  /** state 'unreadable': the lock file holds something tokusim did not write (owner, pid and lease are null). */
  lock: { owner: string | null; pid: number | null; leaseExpires: string | null; state: 'held' | 'stale' | 'unreadable'; staleReason: string | null } | null;
  logFiles: Array<{
    name: string;
    bytes: number;
    entries: number;
    firstLsn: string | null;
    lastLsn: string | null;
    zeroTailBytes: number;
    damage: { offset: number; kind: string; message: string } | null;
  }>;
  checkpoints: {
    begun: number;
    completed: number;
    last: { beginLsn: string; complete: boolean } | null;
    lastComplete: { beginLsn: string; endLsn: string; fassociate: number; xstillopen: number; durationMs: number | null } | null;
  };
  lastRecord: { type: string; lsn: string } | null;
  /** Whether the next open runs recovery; null when the log is damaged or absent. */
  recoveryNeeded: boolean | null;
  dictionaries: Array<{ file: string; slot: 0 | 1 | null; checkpointCount: string | null; checkpointLsn: string | null; root: string | null; error: string | null }>;
}

/** What {@link environmentStatus} fills when asked: the report, and the first damage in the log. */
export interface StatusCollector {
  report?: StatusReport;
  damage?: TokusimError;
}

/**
 * The minimal "is this an environment at all" check: the directory exists and holds a log
 * file or one of the environment's dictionaries. Telling tokusim's environments from
 * PerconaFT's is Env.open's job; this only keeps status from reporting on nothing.
 */
async function requireEnvironmentDir(storage: Storage, dir: string): Promise<void> {
  const refuse = (why: string) => new TokusimError('not-an-environment', `not a tokusim environment: ${why}`, { file: dir });
  if (!(await storage.exists(dir))) throw refuse('no such directory');
  let names: string[];
  try {
    names = await storage.list(dir);
  } catch (err) {
    if (ioErrorCode(err) === 'ENOTDIR') throw refuse('a file, not a directory');
    throw err;
  }
  if (names.length === 0) throw refuse('the directory is empty');
  if ((await findLogFiles(storage, dir)).length === 0 && !names.some((n) => /^tokudb\.(directory|environment)$/.test(n))) {
    throw refuse('no log files and no tokudb.directory or tokudb.environment');
  }
}

/**
 * What an environment directory holds, read without opening it (so it works on a crashed or
 * locked environment and never changes a byte): the env lock holder, the log files with their
 * LSN ranges and damage, checkpoint counters and the last checkpoint's stage and duration (from
 * the log records), and every dictionary file with the header slot in use. Returns the text
 * report; `into` receives the same facts as a {@link StatusReport} and the first damage met in
 * the log. Throws a TokusimError (kind `not-an-environment`) for a directory that is missing,
 * empty or holds no environment files. `clock` decides whether a lock's lease has expired
 * (default: the default host's, real time); `processes` judge a holder on this host by its
 * process (default: the default host's, /proc under the Node entry; none in a browser build,
 * where the lease decides).
 */
export async function environmentStatus(
  storage: Storage,
  dir: string,
  into?: StatusCollector,
  clock: Clock = defaultEnvHost().clock(),
  processes: HostProcesses | undefined = defaultEnvHost().processes,
): Promise<string> {
  await requireEnvironmentDir(storage, dir);
  const out: string[] = [`environment ${dir}`];
  const report: StatusReport = {
    environment: dir,
    lock: null,
    logFiles: [],
    checkpoints: { begun: 0, completed: 0, last: null, lastComplete: null },
    lastRecord: null,
    recoveryNeeded: null,
    dictionaries: [],
  };
  if (into !== undefined) into.report = report;
  // What the next open would conclude (EnvLock.inspect applies the same rules as acquire; the
  // storage here may be a read-only wrapper, so the processes are passed explicitly).
  const lock = await EnvLock.inspect(storage, dir, clock, processes);
  if (lock.state === 'none') out.push('lock: none');
  else if (lock.state === 'unreadable') {
    report.lock = { owner: null, pid: null, leaseExpires: null, state: 'unreadable', staleReason: lock.why };
    out.push(`lock: unreadable (${lock.why}); the next open refuses it and leaves it alone: remove it if no process uses the environment`);
  } else {
    const info = lock.info;
    report.lock = { owner: info.owner, pid: info.pid, leaseExpires: lockTime(info.leaseExpiresMs), state: lock.state, staleReason: lock.state === 'stale' ? lock.why : null };
    const at = `lock: owner ${info.owner} pid ${info.pid} lease until ${lockTime(info.leaseExpiresMs)}`;
    out.push(lock.state === 'stale' ? `${at} (stale: ${lock.why}; the next open takes it over)` : `${at} (held)`);
  }

  const files = await findLogFiles(storage, dir);
  out.push('', `log files (${files.length}):`);
  let damaged = false;
  for (const f of files) {
    const s = await scanLogFile(storage, f.path);
    const range = s.firstLsn === undefined ? 'no entries' : `LSN ${s.firstLsn}..${s.lastLsn}`;
    const zeros = s.zeroTail > 0 ? `  (last ${s.zeroTail} bytes preallocated zeros)` : '';
    out.push(`  ${f.path.slice(dir.length + 1)}  ${s.size} bytes  ${s.entries} entries  ${range}${zeros}${s.problem ? `  DAMAGED at ${s.problem.entryStart}: ${s.problem.error.message}` : ''}`);
    if (s.problem) damaged = true;
    if (s.problem && into !== undefined && into.damage === undefined) into.damage = s.problem.error;
    report.logFiles.push({
      name: f.path.slice(dir.length + 1),
      bytes: s.size,
      entries: s.entries,
      firstLsn: s.firstLsn === undefined ? null : String(s.firstLsn),
      lastLsn: s.lastLsn === undefined ? null : String(s.lastLsn),
      zeroTailBytes: s.zeroTail,
      damage: s.problem ? { offset: s.problem.entryStart, kind: s.problem.error.kind, message: s.problem.error.message } : null,
    });
  }

  let begins = 0, ends = 0, lastBegin: { lsn: bigint; ts: bigint } | undefined, lastEnd: { lsn: bigint; ts: bigint; begin: bigint; nf: number; nx: number } | undefined;
  let lastDurationUs: bigint | undefined;
  const beginTs = new Map<bigint, bigint>();
  let lastRecord = '';
  if (!damaged && files.length > 0) {
    const c = await LogCursor.open(storage, dir, { checkContinuity: false });
    try {
      for (let e = await c.next(); e !== undefined; e = await c.next()) {
        const r = e.record;
        lastRecord = `${r.type} at LSN ${r.lsn}`;
        report.lastRecord = { type: r.type, lsn: String(r.lsn) };
        if (r.type === 'begin_checkpoint') {
          begins++;
          lastBegin = { lsn: r.lsn, ts: r.timestamp };
          beginTs.set(r.lsn, r.timestamp);
        } else if (r.type === 'end_checkpoint') {
          ends++;
          lastEnd = { lsn: r.lsn, ts: r.timestamp, begin: r.lsn_begin_checkpoint, nf: r.num_fassociate_entries, nx: r.num_xstillopen_entries };
          const b = beginTs.get(r.lsn_begin_checkpoint);
          if (b !== undefined) lastDurationUs = r.timestamp - b;
        }
      }
    } finally {
      await c.close();
    }
  }
  report.checkpoints.begun = begins;
  report.checkpoints.completed = ends;
  if (lastBegin !== undefined) report.checkpoints.last = { beginLsn: String(lastBegin.lsn), complete: lastEnd !== undefined && lastEnd.begin === lastBegin.lsn };
  if (lastEnd !== undefined) {
    report.checkpoints.lastComplete = { beginLsn: String(lastEnd.begin), endLsn: String(lastEnd.lsn), fassociate: lastEnd.nf, xstillopen: lastEnd.nx, durationMs: lastDurationUs !== undefined ? Number(lastDurationUs) / 1000 : null };
  }
  if (report.lastRecord !== null) report.recoveryNeeded = report.lastRecord.type !== 'shutdown';
  out.push('', 'checkpoints (in the log files present):');
  out.push(`  begun ${begins}, completed ${ends}`);
  if (lastBegin !== undefined) {
    const stage = lastEnd !== undefined && lastEnd.begin === lastBegin.lsn ? 'complete' : 'begun, no end_checkpoint (incomplete)';
    out.push(`  last checkpoint: begin LSN ${lastBegin.lsn}, stage ${stage}`);
  }
  if (lastEnd !== undefined) {
    out.push(`  last complete: begin LSN ${lastEnd.begin}, end LSN ${lastEnd.lsn}, ${lastEnd.nf} fassociate, ${lastEnd.nx} xstillopen${lastDurationUs !== undefined ? `, duration ${(Number(lastDurationUs) / 1000).toFixed(3)} ms` : ''}`);
  }
  if (lastRecord) out.push(`  last log record: ${lastRecord}${lastRecord.startsWith('shutdown') ? ' (clean shutdown: no recovery needed)' : ' (next open runs recovery)'}`);

  const names = (await storage.list(dir)).filter((n) => n.endsWith('.tokudb') || /^tokudb\.(directory|environment|rollback)$/.test(n));
  out.push('', `dictionary files (${names.length}):`);
  for (const n of names) {
    const path = joinPath(dir, n);
    const f = await storage.open(path, 'read');
    try {
      const slots = await readHeaderSlots(f, path);
      try {
        const ch = chooseHeader(slots[0], slots[1], path);
        out.push(`  ${n}  slot ${ch.slot} in use  checkpoint_count ${ch.header.checkpointCount}  checkpoint_lsn ${ch.header.checkpointLsn}  root ${ch.header.rootBlocknum}`);
        report.dictionaries.push({ file: n, slot: ch.slot, checkpointCount: String(ch.header.checkpointCount), checkpointLsn: String(ch.header.checkpointLsn), root: String(ch.header.rootBlocknum), error: null });
      } catch (err) {
        out.push(`  ${n}  no valid header (${(err as Error).message.split('\n')[0]})`);
        report.dictionaries.push({ file: n, slot: null, checkpointCount: null, checkpointLsn: null, root: null, error: (err as Error).message.split('\n')[0] ?? '' });
      }
    } finally {
      await f.close();
    }
  }
  return out.join('\n') + '\n';
}

