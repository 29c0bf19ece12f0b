/**
 * `tokusim status DIR`: what an environment directory holds, read without opening it (so it
 * works on a crashed or locked environment and never changes a byte): checkpoint counters and
 * the last checkpoint's stage and duration (from the log records), the log files with their LSN
 * ranges, every dictionary file with the header slot in use, its checkpoint count and LSN,
 * and the env lock holder.
 */
import type { CommandModule } from 'yargs';
import { chooseHeader } from '../../src/format/ft-header.js';
import { readHeaderSlots } from '../../src/blocks/dictionary-file.js';
import { LogCursor, scanLogFile } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { joinPath, type Storage } from '../../src/storage/storage.js';
import { EnvLock, lockTime } from '../../src/engine/env-lock.js';
import { RealClock } from '../../src/storage/clock.js';
import { TokusimError } from '../../src/format/errors.js';
import { runCommand } from '../cli-support.js';

export async function environmentStatus(storage: Storage, dir: string): Promise<string> {
  if (!(await storage.exists(dir))) throw new TokusimError('io', 'no such environment directory', { file: dir });
  const out: string[] = [`environment ${dir}`];
  // What the next open would conclude (EnvLock.inspect applies the same rules as acquire).
  const lock = await EnvLock.inspect(storage, dir, new RealClock());
  if (lock.state === 'none') out.push('lock: none');
  else if (lock.state === 'unreadable') out.push(`lock: unreadable (${lock.why}); the next open refuses it and leaves it alone: remove it if no process uses the environment`);
  else {
    const info = lock.info;
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
      } catch (err) {
        out.push(`  ${n}  no valid header (${(err as Error).message.split('\n')[0]})`);
      }
    } finally {
      await f.close();
    }
  }
  return out.join('\n') + '\n';
}

export const statusCommandModule: CommandModule<object, { dir: string }> = {
  command: 'status <dir>',
  describe: 'Show an environment: checkpoints, log files with LSN ranges, dictionaries and their header slots',
  builder: (y) => y.positional('dir', { type: 'string', demandOption: true, describe: 'environment directory' }) as never,
  handler: async (argv) => {
    await runCommand(async () => {
      process.stdout.write(await environmentStatus(new NodeStorage(), argv.dir));
    });
  },
};
