/**
 * Every read command of tokusim run on one (mutated) file, in-process or as a real process,
 * and the rule that judges the outcome (for tools/fuzz/mutate-fuzz.ts and the bounded
 * mutation test in the suite).
 *
 * The rule: a run ends within its time limit, not by a signal; with a documented exit code of
 * its command (README "Exit codes"; `tdb-logprint` and `ftdump` exit 1 where their PerconaFT
 * counterparts do); never with an internal error; and bad input is reported on one stderr line
 * without a stack trace.
 *
 * Invariants:
 *  - In-process runs report an error exactly as runCommand (tools/cli-support.ts) would: the
 *    exit code from exitCodeFor and the line from describeError.
 *  - A command that writes (recover) only ever runs on a copy made for it.
 */
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { main as tdbLogprintMain } from '../tdb-logprint.js';
import { runLogprint } from '../commands/logprint.js';
import { runFtdump } from '../commands/ftdump.js';
import { replayCommand } from '../commands/replay.js';
import { environmentStatus } from '../../src/node/env.js';
import { runRecover } from '../commands/recover.js';
import { extractCommand } from '../commands/extract.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { EXIT, describeError, exitCodeFor } from '../cli-support.js';

export type CommandName =
  | 'tdb-logprint'
  | 'logprint'
  | 'logprint --json'
  | 'ftdump'
  | 'ftdump --header'
  | 'ftdump --translation-table'
  | 'ftdump --both-headers'
  | 'ftdump --rootnode'
  | 'ftdump --summary'
  | 'ftdump --fragmentation'
  | 'ftdump --garbage'
  | 'ftdump --json'
  | 'replay --dump'
  | 'status'
  | 'recover'
  | 'extract'
  | 'extract --json';

/** Commands that read one log file, one dictionary file, or a whole environment directory. */
export const LOG_COMMANDS: CommandName[] = ['tdb-logprint', 'logprint', 'logprint --json', 'replay --dump'];
export const DICT_COMMANDS: CommandName[] = [
  'ftdump', 'ftdump --header', 'ftdump --translation-table', 'ftdump --both-headers',
  'ftdump --rootnode', 'ftdump --summary', 'ftdump --fragmentation', 'ftdump --garbage', 'ftdump --json',
];
export const ENV_COMMANDS: CommandName[] = ['status', 'recover', 'extract', 'extract --json'];

export interface RunTarget {
  /** The mutated file. */
  file: string;
  /** Its directory (a log directory or an environment); recover runs on it, so make it a copy. */
  dir: string;
}

export interface Outcome {
  command: CommandName;
  /** Exit code, or undefined when the run timed out or was killed by a signal. */
  code: number | undefined;
  signal?: string | null;
  timedOut?: boolean;
  stderr: string;
}

const sink = (): { stream: Writable; text: () => string } => {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(parts).toString('latin1') };
};

/** Run a command body the way runCommand does, collecting its error line. */
async function asCommand(body: (err: (s: string) => void) => Promise<number | void>): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = (s: string) => {
    stderr += s;
  };
  try {
    const code = await body(err);
    return { code: typeof code === 'number' ? code : 0, stderr };
  } catch (e) {
    return { code: exitCodeFor(e), stderr: `${stderr}tokusim: ${describeError(e)}\n` };
  }
}

async function runInProcessBody(command: CommandName, t: RunTarget, bytes: () => Uint8Array): Promise<{ code: number; stderr: string }> {
  const storage = new NodeStorage();
  switch (command) {
    case 'tdb-logprint': {
      const out = sink();
      const err = sink();
      try {
        const code = await tdbLogprintMain([], Readable.from([Buffer.from(bytes())]), out.stream, err.stream);
        return { code, stderr: err.text() };
      } catch (e) {
        return { code: EXIT.INTERNAL, stderr: `internal error: ${describeError(e)}\n` };
      }
    }
    case 'logprint':
    case 'logprint --json':
      return asCommand(() => runLogprint({ paths: [t.file], json: command === 'logprint --json' }, { write: () => undefined }, storage));
    case 'ftdump':
    case 'ftdump --header':
    case 'ftdump --translation-table':
    case 'ftdump --both-headers':
    case 'ftdump --rootnode':
    case 'ftdump --summary':
    case 'ftdump --fragmentation':
    case 'ftdump --garbage':
    case 'ftdump --json':
      return asCommand(async (err) => {
        const r = await runFtdump({
          file: t.file,
          header: command === 'ftdump --header',
          'translation-table': command === 'ftdump --translation-table',
          'both-headers': command === 'ftdump --both-headers',
          rootnode: command === 'ftdump --rootnode',
          summary: command === 'ftdump --summary',
          fragmentation: command === 'ftdump --fragmentation',
          garbage: command === 'ftdump --garbage',
          json: command === 'ftdump --json',
        });
        err(r.stderr);
        return r.code;
      });
    case 'extract':
    case 'extract --json':
      return asCommand((err) => extractCommand(new ReadOnlyStorage(storage), { envdir: t.dir, json: command === 'extract --json', dicts: [] }, { stdout: () => undefined, stderr: err }));
    case 'replay --dump':
      return asCommand((err) => replayCommand(storage, { logdirs: [t.dir], dump: true, userOnly: false, partial: false }, { stdout: () => undefined, stderr: err }));
    case 'status':
      return asCommand(async () => {
        await environmentStatus(storage, t.dir);
      });
    case 'recover':
      return asCommand(() => runRecover(t.dir, () => undefined, () => undefined, false));
  }
}

/** Run one command in this process, bounded by timeoutMs (an asynchronous hang only). */
export async function runInProcess(command: CommandName, t: RunTarget, bytes: () => Uint8Array, timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const r = await Promise.race([runInProcessBody(command, t, bytes), timeout]);
    if (r === 'timeout') return { command, code: undefined, timedOut: true, stderr: '' };
    return { command, ...r };
  } finally {
    clearTimeout(timer);
  }
}

/** The argv of the built CLI for a command (dist/tools/...). */
function processArgs(distTools: string, command: CommandName, t: RunTarget): { argv: string[]; stdinFile?: string } {
  const tokusim = join(distTools, 'tokusim.js');
  switch (command) {
    case 'tdb-logprint':
      return { argv: [join(distTools, 'tdb-logprint.js')], stdinFile: t.file };
    case 'logprint':
      return { argv: [tokusim, 'logprint', t.file] };
    case 'logprint --json':
      return { argv: [tokusim, 'logprint', '--json', t.file] };
    case 'replay --dump':
      return { argv: [tokusim, 'replay', '--dump', t.dir] };
    case 'status':
      return { argv: [tokusim, 'status', t.dir] };
    case 'recover':
      return { argv: [tokusim, 'recover', t.dir] };
    case 'extract':
      return { argv: [tokusim, 'extract', t.dir] };
    case 'extract --json':
      return { argv: [tokusim, 'extract', '--json', t.dir] };
    default: {
      const [, mode] = command.split(' ');
      return { argv: [tokusim, 'ftdump', t.file, ...(mode !== undefined ? [mode] : [])] };
    }
  }
}

/** Run one command as a real process of the built CLI, killed after timeoutMs. */
export async function runAsProcess(distTools: string, command: CommandName, t: RunTarget, timeoutMs: number): Promise<Outcome> {
  const { argv, stdinFile } = processArgs(distTools, command, t);
  const { openSync, closeSync } = await import('node:fs');
  const fd = stdinFile !== undefined ? openSync(stdinFile, 'r') : undefined;
  try {
    return await new Promise<Outcome>((resolve) => {
      const child = spawn(process.execPath, argv, { stdio: [fd ?? 'ignore', 'ignore', 'pipe'], env: { ...process.env, TOKUSIM_DEBUG: '' } });
      let stderr = '';
      child.stderr!.setEncoding('latin1');
      child.stderr!.on('data', (s: string) => {
        if (stderr.length < 1 << 16) stderr += s;
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ command, code: timedOut ? undefined : (code ?? undefined), signal, timedOut, stderr });
      });
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Exit codes a tokusim command may end with on any input (README "Exit codes"). */
const DOCUMENTED = new Set<number>(
  Object.entries(EXIT)
    .filter(([name]) => name !== 'INTERNAL')
    .map(([, code]) => code),
);

/** Messages that only a bug produces. */
const BUG_TEXT = /invariant violated|internal error|Invalid typed array length|Array buffer allocation failed|RangeError|TypeError|ReferenceError|Cannot read propert|is not a function|Maximum call stack|out of memory|Assertion failed/i;
/** A line of a JavaScript stack trace. */
const STACK_LINE = /^\s+at .+(\(|:\d+:\d+)/m;

/** What is wrong with an outcome, or undefined when it follows the rule. */
export function judge(o: Outcome): string | undefined {
  if (o.timedOut) return 'no exit within the time limit (hang)';
  if (o.code === undefined) return `killed by signal ${o.signal ?? '?'}`;
  if (o.code === 134 || o.signal) return `aborted (exit ${o.code}, signal ${o.signal})`;
  if (STACK_LINE.test(o.stderr)) return 'stack trace on stderr';
  if (BUG_TEXT.test(o.stderr)) return `internal error: ${firstLine(o.stderr, BUG_TEXT)}`;
  if (o.command === 'tdb-logprint') {
    // tokuft_logprint's contract: 0, or 1 with "Problem in log err=N" (or nothing, for a short header).
    if (o.code === 0) return undefined;
    if (o.code === 1 && /^(Problem in log err=-?\d+\n)?$/.test(o.stderr)) return undefined;
    return `exit ${o.code} with stderr ${JSON.stringify(o.stderr.slice(0, 200))}`;
  }
  if (o.code === EXIT.INTERNAL) {
    // ftdump exits 1 as tokuftdump does when the dictionary cannot be deserialized.
    if (o.command.startsWith('ftdump') && /^tokusim: can not deserialize from .+ error -?\d+: [^\n]+\n$/.test(o.stderr)) return undefined;
    return `exit 1 (internal): ${firstLine(o.stderr)}`;
  }
  if (!DOCUMENTED.has(o.code)) return `undocumented exit code ${o.code}`;
  if (o.code !== 0) {
    const errorLines = o.stderr.split('\n').filter((l) => l.startsWith('tokusim: '));
    if (errorLines.length !== 1) return `expected one error line on stderr, got ${errorLines.length}: ${JSON.stringify(o.stderr.slice(0, 300))}`;
  }
  return undefined;
}

function firstLine(s: string, re?: RegExp): string {
  const lines = s.split('\n').filter(Boolean);
  return (re ? lines.find((l) => re.test(l)) : undefined) ?? lines[0] ?? '';
}
