/**
 * `tokusim status DIR`: what an environment directory holds, read without opening it (so it
 * works on a crashed or locked environment and never changes a byte): checkpoint counters and
 * the last checkpoint's stage and duration (from the log records), the log files with their LSN
 * ranges, every dictionary file with the header slot in use, its checkpoint count and LSN,
 * and the env lock holder.
 *
 * With --json the same facts are one JSON document on stdout (StatusReport, README "JSON
 * output"). Exit codes: 0; CORRUPT (3) or TRUNCATED (4) when a log file is damaged (the report
 * is printed first, then one line naming the file, offset and last good LSN); NOT_ENV (9) for
 * a directory that is missing, empty or holds no environment files (nothing is printed).
 *
 * The report itself is the library's environmentStatus (src/engine/status.ts); this module
 * parses the arguments and prints.
 */
import type { CommandModule } from 'yargs';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { environmentStatus, type StatusCollector } from '../../src/node/env.js';
import { describeError, exitCodeFor, runCommand } from '../cli-support.js';

/** The body of `tokusim status`: prints the report (text or JSON), returns the exit code. */
export async function runStatus(storage: Storage, dir: string, json: boolean, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const into: StatusCollector = {};
  const text = await environmentStatus(storage, dir, into);
  out(json ? `${JSON.stringify(into.report, null, 2)}\n` : text);
  if (into.damage === undefined) return 0;
  // The report above shows everything readable; the damage itself is the one error line.
  err(`tokusim: ${describeError(into.damage)}\n`);
  return exitCodeFor(into.damage);
}

export const statusCommandModule: CommandModule<object, { dir: string; json: boolean }> = {
  command: 'status <dir>',
  describe: 'show an environment: checkpoints, log files with LSN ranges, dictionaries and their header slots',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'environment directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of text' })
      .example('$0 status ./env', 'what the environment holds, without opening it')
      .example('$0 status ./env --json', 'the same as one JSON document') as never,
  handler: async (argv) => {
    await runCommand(() => runStatus(new ReadOnlyStorage(new NodeStorage()), argv.dir, argv.json, (s) => void process.stdout.write(s), (s) => void process.stderr.write(s)));
  },
};
