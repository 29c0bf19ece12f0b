/**
 * `tokusim recover DIR`: run crash recovery on an environment (if it needs it) and narrate the
 * passes on stderr — torn tail repair, backward scan, turning point, forward replay,
 * transactions aborted and kept prepared, the recovery checkpoint — with a progress bar on
 * long logs when stderr is a terminal. Then close the environment cleanly.
 * Exit codes: 0 recovered (or nothing to do), LOCKED (7) when another process holds the env,
 * RECOVERY failures as documented in tools/cli-support.ts; NOT_ENV (9), nothing written, when
 * the directory is missing, empty, an unfinished creation, a PerconaFT environment or anything
 * else that is not a tokusim environment; CORRUPT (3) when a dictionary named in
 * tokudb.directory (or opened by the replayed log) has no file (the rest is recovered).
 * `--dry-run` runs the same recovery code over an OverlayStorage (every change kept in
 * memory) and narrates what recovery would do; the directory is not changed. With --json the
 * summary on stdout is one JSON document (RecoverJson, README "JSON output"); the narration
 * stays on stderr.
 *
 * Invariants:
 *  - stdout is written only after the environment is closed, so a reader that goes away
 */
import type { CommandModule } from 'yargs';
import { Env, type EnvEvent } from '../../src/node/env.js';
import type { RecoveryReport } from '../../src/engine/recovery.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { RepairResult } from '../../src/log/cursor.js';
import { runCommand } from '../cli-support.js';
import { startProgress, type ProgressDisplay } from '../progress.js';

/** What `tokusim recover --json` prints. LSNs are decimal strings. */
export interface RecoverJson {
  environment: string;
  /** False when the log ended with a clean shutdown (nothing was replayed). */
  recovered: boolean;
  entriesReplayed: number;
  turningPointLsn: string | null;
  lastLsn: string | null;
  commitsApplied: number;
  txnsAborted: string[];
  txnsPrepared: string[];
  /** The torn-tail repair of the newest log file, if bytes were cut. */
  repair: {
    file: string | null;
    cutAt: number | null;
    bytesCut: number | null;
    discardedEntries: number;
    discardedLsns: { first: string; last: string } | null;
    lastGoodLsn: string | null;
    damage: string;
    savedTo: string | null;
  } | null;
}

export function recoverJson(dir: string, r: RecoveryReport | null): RecoverJson {
  const rep = r?.repaired ?? null;
  return {
    environment: dir,
    recovered: r !== null,
    entriesReplayed: r?.entriesReplayed ?? 0,
    turningPointLsn: r === null ? null : String(r.turningPointLsn),
    lastLsn: r === null ? null : String(r.lastLsn),
    commitsApplied: r?.commitsApplied ?? 0,
    txnsAborted: r?.txnsAborted ?? [],
    txnsPrepared: r?.txnsPrepared ?? [],
    repair:
      rep === null || !rep.repaired
        ? null
        : {
            file: rep.file ?? null,
            cutAt: rep.newSize ?? null,
            bytesCut: rep.bytesCut ?? null,
            discardedEntries: rep.discardedEntries ?? 0,
            discardedLsns: rep.discardedLsns !== undefined ? { first: String(rep.discardedLsns.first), last: String(rep.discardedLsns.last) } : null,
            lastGoodLsn: rep.lastGoodLsn === undefined || rep.lastGoodLsn === null ? null : String(rep.lastGoodLsn),
            damage: rep.problem?.message ?? 'torn tail',
            savedTo: rep.savedTo ?? null,
          },
  };
}
import { EnvLock, ENV_LOCK_FILE } from '../../src/engine/env-lock.js';
import { nodeProcesses } from '../../src/node/host-process.js';
import { RealClock } from '../../src/storage/clock.js';
import { joinPath } from '../../src/storage/storage.js';
import { TokusimError } from '../../src/base/errors.js';
import { classifyDirectory, notAnEnvironment } from '../../src/engine/env-identity.js';
import { OverlayStorage } from '../../src/storage/overlay-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';

/**
 * One line for a torn-tail repair: where the newest log file was cut (the offset of its first
 * damaged entry, which is its new size), how many bytes went, how many whole-looking entries
 * after the damage were discarded (with their LSNs), the last good LSN, and the damage itself.
 */
export function describeRepair(r: RepairResult): string {
  if (!r.repaired) return `nothing to cut (last good LSN ${r.lastGoodLsn ?? 'none'})`;
  const n = r.discardedEntries ?? 0;
  const lsns = r.discardedLsns !== undefined ? ` (LSNs ${r.discardedLsns.first}..${r.discardedLsns.last})` : '';
  return (
    `${r.file} cut at offset ${r.newSize} (from ${r.oldSize} to ${r.newSize} bytes, ${r.bytesCut} bytes cut); ` +
    `${n} whole-looking entr${n === 1 ? 'y' : 'ies'} after the damage discarded${lsns}; ` +
    `last good LSN ${r.lastGoodLsn ?? 'none'}; damage: ${r.problem?.message ?? 'torn tail'}` +
    (r.savedTo !== undefined ? `; the cut bytes are saved in ${r.savedTo}` : '')
  );
}

export async function runRecover(dir: string, err: (s: string) => void, out: (s: string) => void, tty: boolean, opts: { dryRun?: boolean; json?: boolean } = {}): Promise<void> {
  const dry = opts.dryRun === true;
  // Recovery is for an existing tokusim environment only: never create one, never touch
  // anyone else's directory (checked before anything is written).
  const found = await classifyDirectory(new ReadOnlyStorage(new NodeStorage()), dir);
  if (found.kind !== 'tokusim') throw notAnEnvironment(dir, found, dry ? 'plan recovery' : 'recover');
  const would = dry ? 'would: ' : '';
  let bar: ProgressDisplay | undefined;
  let barPhase: string | undefined;
  const stamp = (): string => new Date().toUTCString().slice(0, 25);
  const onEvent = (e: EnvEvent): void => {
    if (e.type === 'recovery') {
      bar?.stop();
      bar = undefined;
      err(`${stamp()} tokusim recovery ${would}${e.line}\n`);
    } else if (e.type === 'log-repaired') {
      err(`${stamp()} tokusim recovery ${would}repairing log: ${describeRepair(e.repair)}\n`);
    } else if (e.type === 'lock-takeover') {
      err(`${stamp()} tokusim taking over a stale environment lock of ${e.stale.owner} (pid ${e.stale.pid}): ${e.reason}\n`);
    } else if (e.type === 'recovery-progress') {
      if (bar === undefined || barPhase !== e.phase) {
        bar?.stop();
        bar = startProgress({ title: `recovery ${e.phase === 'backward' ? 'backward scan' : 'forward replay'}`, unit: 'LSNs', tty, stream: { write: (s) => err(s), isTTY: tty } });
        barPhase = e.phase;
      }
      // The backward scan walks from the last LSN down; show it as LSNs covered so far.
      const last = Number(e.lastLsn);
      bar.update(e.phase === 'backward' ? last - Number(e.lsn) : Number(e.lsn), last);
    }
  };
  const overlay = dry ? new OverlayStorage(new NodeStorage()) : undefined;
  if (overlay !== undefined) {
    // The overlay is no real device, so EnvLock would judge a lock by its lease alone: judge
    // it here as the real recovery's open would (the holder's process, its start time, the
    // host) and hide a stale one (a live holder still refuses the dry run).
    const verdict = await EnvLock.inspect(new ReadOnlyStorage(new NodeStorage()), dir, new RealClock(), nodeProcesses);
    if (verdict.state === 'stale') overlay.hide(joinPath(dir, ENV_LOCK_FILE));
  }
  let env: Env;
  try {
    env = await Env.open(dir, { storage: overlay ?? new NodeStorage(), onEvent, checkpointPeriodMs: 0 });
  } finally {
    bar?.stop();
  }
  const lines: string[] = [];
  let missing: Array<{ name: string; iname: string }>;
  try {
    const r = env.recoveryReport;
    if (opts.json) lines.push(`${JSON.stringify({ ...recoverJson(dir, r), dryRun: dry }, null, 2)}\n`);
    else {
      if (dry) lines.push('dry run: nothing was written; recovery would do what follows\n');
      if (r === null) lines.push('no recovery needed (the log ends with a clean shutdown)\n');
      else if (dry) {
        lines.push(`would recover: replay ${r.entriesReplayed} entries from LSN ${r.turningPointLsn} (turning point) to ${r.lastLsn}, apply ${r.commitsApplied} commits, ` +
          `abort ${r.txnsAborted.length} transaction(s)${r.txnsAborted.length > 0 ? ` (${r.txnsAborted.join(', ')})` : ''}, ` +
          `keep ${r.txnsPrepared.length} prepared${r.txnsPrepared.length > 0 ? ` (${r.txnsPrepared.join(', ')})` : ''}\n`);
        lines.push(r.repaired !== null ? `would repair the log: ${describeRepair(r.repaired)}\n` : 'the log has no torn tail to cut\n');
      } else {
        lines.push(`recovered: replayed ${r.entriesReplayed} entries from LSN ${r.turningPointLsn} to ${r.lastLsn}, ${r.commitsApplied} commits applied, ` +
          `${r.txnsAborted.length} transaction(s) aborted, ${r.txnsPrepared.length} kept prepared\n`);
        if (r.repaired !== null) lines.push(`log repaired: ${describeRepair(r.repaired)}\n`);
      }
    }
    missing = await env.missingDictionaryFiles();
    for (const iname of r?.missingFiles ?? []) if (!missing.some((m) => m.iname === iname)) missing.push({ name: iname, iname });
  } finally {
    // A dry run's environment only ever wrote to the overlay: drop it without closing it.
    if (dry) {
      env.abandon();
      await overlay!.dispose();
    } else await env.close();
  }
  for (const line of lines) out(line);
  if (missing.length > 0) {
    const list = missing.map((m) => `${m.name} (${m.iname})`).join(', ');
    throw new TokusimError('recovery', `dictionary file missing: ${list} ${missing.length === 1 ? 'is' : 'are'} named by the environment but ${missing.length === 1 ? 'its file does' : 'their files do'} not exist; ${missing.length === 1 ? 'its' : 'their'} rows are lost (${dry ? 'the rest would be recovered' : 'the rest is recovered'})`, { file: dir });
  }
}

export const recoverCommandModule: CommandModule<object, { dir: string; json: boolean; 'dry-run'?: boolean }> = {
  command: 'recover <dir>',
  describe: 'run crash recovery on an environment directory, narrating the passes',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'environment directory' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'narrate what recovery would do; write nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON document (the narration stays on stderr)' })
      .example('$0 recover ./env', 'recover a crashed environment and narrate the passes on stderr')
      .example('$0 recover --dry-run ./env', 'say what recovery would do, changing nothing')
      .example('$0 recover ./env --json 2>/dev/null', 'only the summary, as JSON') as never,
  handler: async (argv) => {
    await runCommand(async () => {
      await runRecover(argv.dir, (s) => process.stderr.write(s), (s) => process.stdout.write(s), process.stderr.isTTY === true, { json: argv.json, dryRun: argv['dry-run'] === true });
    });
  },
};
