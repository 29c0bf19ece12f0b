/**
 * Shared CLI plumbing: documented exit codes and the rule that bad input gives one clear
 * line on stderr (never a stack trace). Every tokusim subcommand runs through runCommand().
 */
import { TokusimError } from '../src/format/errors.js';

/** Documented exit codes of `tokusim` (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  /** A bug in tokusim (an invariant failed or an unexpected exception). */
  INTERNAL: 1,
  /** Bad command line: unknown option, bad value. */
  USAGE: 2,
  /** Corrupt input: bad checksum, bad length, unknown record, bad magic or version. */
  CORRUPT: 3,
  /** Truncated input: a file ends inside a record or header (a torn tail). */
  TRUNCATED: 4,
  /** The file or directory cannot be read or written (missing, permission, ...). */
  IO: 5,
  /** A check found a violation (crashtest, verify). */
  VIOLATION: 6,
  /** The environment is locked by another live process. */
  LOCKED: 7,
  /** A transaction's write conflicted with another transaction's lock. */
  CONFLICT: 8,
  /** The directory is not a tokusim environment (missing, empty, a PerconaFT environment, or something else); nothing was written. */
  NOT_ENV: 9,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof TokusimError) {
    switch (err.kind) {
      case 'truncated':
        return EXIT.TRUNCATED;
      case 'io':
        return EXIT.IO;
      case 'bad-argument':
        return EXIT.USAGE;
      case 'locked':
        return EXIT.LOCKED;
      case 'lock-conflict':
        return EXIT.CONFLICT;
      case 'not-an-environment':
        return EXIT.NOT_ENV;
      case 'live-transactions':
        return EXIT.INTERNAL;
      case 'invariant':
        return EXIT.INTERNAL;
      default:
        return EXIT.CORRUPT;
    }
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return EXIT.IO;
  return EXIT.INTERNAL;
}

/** One line for stderr describing err. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return err.message;
    return err.message.split('\n')[0] ?? String(err);
  }
  return String(err);
}

/**
 * Run a command body; on error print `tokusim: <one line>` to stderr and set the exit code.
 * Internal errors (bugs) also print the stack when TOKUSIM_DEBUG is set.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    const code = exitCodeFor(err);
    process.stderr.write(`tokusim: ${describeError(err)}\n`);
    if (code === EXIT.INTERNAL && process.env['TOKUSIM_DEBUG'] && err instanceof Error) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = code;
  }
}
