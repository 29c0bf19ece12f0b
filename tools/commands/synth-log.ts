/**
 * `tokusim synth-log --out DIR [--size-mb N] [--value-bytes N] [--seed S] [--lg-max-mb N]`:
 * write a valid synthetic tokulog directory holding every record type (src/log/synth.ts),
 * deterministic by seed, rolling over files per lg_max. Prints one summary line.
 *
 * Invariants:
 *  - DIR is created if missing and must not already hold log files (the output is then
 *    exactly the synthetic log, nothing appended to an older one).
 */
import type { Argv, CommandModule } from 'yargs';
import { TokusimError } from '../../src/base/errors.js';
import { findLogFiles } from '../../src/log/names.js';
import { synthesizeLog, type SynthResult } from '../../src/log/synth.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { runCommand } from '../cli-support.js';
import { startProgress, type ProgressStream } from '../progress.js';

export interface SynthLogOptions {
  out: string;
  sizeMb: number;
  valueBytes: number;
  seed: number;
  lgMaxMb: number;
  /** Where progress is drawn (default process.stderr). */
  progress?: ProgressStream;
}

function positive(v: number, what: string, min = 0): number {
  if (!Number.isFinite(v) || v < min) throw new TokusimError('bad-argument', `${what} must be a number >= ${min}`, { actual: String(v) });
  return v;
}

/** The body of `tokusim synth-log`. */
export async function runSynthLog(opts: SynthLogOptions, storage: Storage = new NodeStorage()): Promise<SynthResult> {
  const targetBytes = Math.floor(positive(opts.sizeMb, '--size-mb') * (1 << 20));
  const valueBytes = positive(opts.valueBytes, '--value-bytes');
  if (!Number.isInteger(valueBytes) || valueBytes > 1 << 24) throw new TokusimError('bad-argument', '--value-bytes must be an integer up to 16777216', { actual: String(valueBytes) });
  if (!Number.isSafeInteger(opts.seed)) throw new TokusimError('bad-argument', '--seed must be an integer', { actual: String(opts.seed) });
  const lgMax = Math.floor(positive(opts.lgMaxMb, '--lg-max-mb', 1 / 256) * (1 << 20));
  // Write only into a directory this command creates or that is empty: never into someone's
  // data directory, a PerconaFT environment or a tokusim one (nothing is written before this).
  if (await storage.exists(opts.out)) {
    const names = await storage.list(opts.out);
    if (names.length > 0) {
      const logs = await findLogFiles(storage, opts.out);
      const what = logs.length > 0 ? 'already holds log files' : `is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'})`;
      throw new TokusimError('bad-argument', `${opts.out} ${what}; choose a new or empty directory (nothing was written)`, { file: logs[0]?.path ?? opts.out });
    }
  }
  await storage.mkdir(opts.out);
  const progress = startProgress({ title: 'synth-log', unit: 'MiB', ...(opts.progress !== undefined ? { stream: opts.progress } : {}) });
  const mib = (b: number) => Math.round(b / (1 << 20));
  try {
    return await synthesizeLog({ storage, dir: opts.out, targetBytes, valueBytes, seed: opts.seed, lgMax, onProgress: (bytes) => progress.update(mib(bytes), mib(targetBytes)) });
  } finally {
    progress.stop();
  }
}

interface SynthArgv {
  out: string;
  'size-mb': number;
  'value-bytes': number;
  seed: number;
  'lg-max-mb': number;
}

export const synthLogCommandModule: CommandModule<object, SynthArgv> = {
  command: 'synth-log',
  describe: 'write a valid synthetic log directory holding every record type',
  builder: (y: Argv<object>) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write (created if missing; must hold no logs)' })
      .option('size-mb', { type: 'number', default: 8, describe: 'approximate total size of the log' })
      .option('value-bytes', { type: 'number', default: 100, describe: 'size of each inserted value' })
      .option('seed', { type: 'number', default: 1, describe: 'seed (same seed, same bytes)' })
      .option('lg-max-mb', { type: 'number', default: 100, describe: 'roll over to a new file past this size' })
      .example('$0 synth-log --out ./synth', 'about 8 MiB of log holding every record type')
      .example('$0 synth-log --out ./big --size-mb 500 --value-bytes 4000 --lg-max-mb 64', 'a large log of big values, rolled over every 64 MiB') as unknown as Argv<SynthArgv>,
  handler: async (argv) => {
    await runCommand(async () => {
      const r = await runSynthLog({ out: argv.out, sizeMb: argv['size-mb'], valueBytes: argv['value-bytes'], seed: argv.seed, lgMaxMb: argv['lg-max-mb'] });
      process.stdout.write(`wrote ${r.records} records, ${r.bytes} bytes, LSN 1..${r.lastLsn}, ${r.files.length} file(s) in ${argv.out}\n`);
      return 0;
    });
  },
};
