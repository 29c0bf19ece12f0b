/**
 * Shared CLI plumbing: documented exit codes, the rule that bad input gives one clear
 * line on stderr (never a stack trace), the one handler for a closed standard output, and
 * tokusim's own version. Every tokusim subcommand runs through runCommand().
 *
 * Invariants:
 *  - A reader that goes away (`| head`) ends the program with exit 0 and nothing on stderr;
 *    commands that hold an environment write to stdout only after closing it, so the quiet
 *    exit never cuts an open environment short.
 *  - Every exit code is one of EXIT, and EXIT matches README's "Exit codes" table.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokusimError } from '../src/base/errors.js';

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
  /** The environment is locked by another live process, or a backup repository by a live lease. */
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
      case 'no-such-backup':
      case 'dest-not-empty':
        return EXIT.USAGE;
      case 'remote':
        return EXIT.IO;
      case 'repo-locked':
        return EXIT.LOCKED;
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
    if (isClosedPipe(err)) {
      // A write to stdout failed because its reader left; that is how `| head` ends us.
      process.exitCode = EXIT.OK;
      return;
    }
    const code = exitCodeFor(err);
    process.stderr.write(`tokusim: ${describeError(err)}\n`);
    if (code === EXIT.INTERNAL && process.env['TOKUSIM_DEBUG'] && err instanceof Error) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = code;
  }
}

/** True for the error a write gets when the reading end of its pipe is closed. */
export function isClosedPipe(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EPIPE';
}

/**
 * stdout for a buffered writer, with backpressure: the returned function resolves once its
 * chunk has been written out (the write's callback), so the writer may reuse the chunk's
 * memory, and the stream has room for more. A closed pipe ends the program through
 * handleStdoutErrors.
 */
export function stdoutChunkWriter(stream: NodeJS.WritableStream = process.stdout): (chunk: Uint8Array) => Promise<void> {
  return (chunk) =>
    new Promise<void>((resolve) => {
      let written = false;
      let room = stream.write(chunk, () => {
        written = true;
        if (room) resolve();
      });
      if (!room) {
        stream.once('drain', () => {
          room = true;
          if (written) resolve();
        });
      }
    });
}

let stdoutHandled = false;

/**
 * The one handler for errors on standard output, installed by each entry point before any
 * output. A closed pipe (the reader exited, as `head` does) ends the program at once with
 * exit 0 and nothing on stderr, the way SIGPIPE ends a C tool quietly; any other write
 * failure (a full disk behind a redirect) is one line on stderr and `otherErrorExit`.
 */
export function handleStdoutErrors(program: string, otherErrorExit: number = EXIT.IO, stream: NodeJS.WriteStream = process.stdout): void {
  if (stdoutHandled) return;
  stdoutHandled = true;
  stream.on('error', (err: unknown) => {
    if (isClosedPipe(err)) process.exit(EXIT.OK);
    process.stderr.write(`${program}: cannot write to standard output: ${describeError(err)}\n`);
    process.exit(otherErrorExit);
  });
}

/**
 * tokusim's own version, from the package.json of the tokusim package this module belongs
 * to (found by walking up from this file: `tools/` in a clone, `dist/tools/` when built or
 * installed), never the package.json of the project tokusim happens to run in.
 */
export function tokusimVersion(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tokusim' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}
