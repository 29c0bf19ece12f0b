/**
 * `tokusim recover DIR`: run crash recovery on an environment (if it needs it) and narrate the
 * passes on stderr — torn tail repair, backward scan, turning point, forward replay,
 * transactions aborted and kept prepared, the recovery checkpoint — with a progress bar on
 * long logs when stderr is a terminal. Then close the environment cleanly.
 * Exit codes: 0 recovered (or nothing to do), LOCKED (7) when another process holds the env,
 * RECOVERY failures as documented in tools/cli-support.ts.
 */
import type { CommandModule } from 'yargs';
import cliProgress from 'cli-progress';
import { Env, type EnvEvent } from '../../src/engine/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { RepairResult } from '../../src/log/cursor.js';
import { runCommand } from '../cli-support.js';

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

export async function runRecover(dir: string, err: (s: string) => void, out: (s: string) => void, tty: boolean): Promise<void> {
  let bar: cliProgress.SingleBar | undefined;
  const stamp = (): string => new Date().toUTCString().slice(0, 25);
  const onEvent = (e: EnvEvent): void => {
    if (e.type === 'recovery') {
      bar?.stop();
      bar = undefined;
      err(`${stamp()} tokusim recovery ${e.line}\n`);
    } else if (e.type === 'log-repaired') {
      err(`${stamp()} tokusim recovery repairing log: ${describeRepair(e.repair)}\n`);
    } else if (e.type === 'lock-takeover') {
      err(`${stamp()} tokusim taking over a stale environment lock of ${e.stale.owner} (pid ${e.stale.pid}): ${e.reason}\n`);
    } else if (e.type === 'recovery-progress' && tty) {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar({ format: ` ${e.phase} {bar} LSN {value}/{total}`, stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar.start(Number(e.lastLsn), Number(e.lsn));
      }
      bar.update(Number(e.lsn));
    }
  };
  const env = await Env.open(dir, { storage: new NodeStorage(), onEvent, checkpointPeriodMs: 0 });
  bar?.stop();
  const r = env.recoveryReport;
  if (r === null) out('no recovery needed (the log ends with a clean shutdown)\n');
  else {
    out(`recovered: replayed ${r.entriesReplayed} entries from LSN ${r.turningPointLsn} to ${r.lastLsn}, ${r.commitsApplied} commits applied, ` +
      `${r.txnsAborted.length} transaction(s) aborted, ${r.txnsPrepared.length} kept prepared\n`);
    if (r.repaired !== null) out(`log repaired: ${describeRepair(r.repaired)}\n`);
  }
  await env.close();
}

export const recoverCommandModule: CommandModule<object, { dir: string }> = {
  command: 'recover <dir>',
  describe: 'Run crash recovery on an environment directory, narrating the passes',
  builder: (y) => y.positional('dir', { type: 'string', demandOption: true, describe: 'environment directory' }) as never,
  handler: async (argv) => {
    await runCommand(async () => {
      await runRecover(argv.dir, (s) => process.stderr.write(s), (s) => process.stdout.write(s), process.stderr.isTTY === true);
    });
  },
};
