#!/usr/bin/env node
/**
 * tdb-logprint: a drop-in replacement for PerconaFT's `tokuft_logprint` (spec
 * tokulog-format.md §10). It reads one log from standard input only and writes the same
 * stdout bytes, stderr text and exit status as the real tool.
 *
 * Arguments, left to right: `--oldcode` prints `Old code no longer works.` to stderr and
 * exits 1 at once; anything else is a record count converted like C's atoi (the last one
 * wins; non-numeric gives 0; -1 or any other negative value means no limit).
 *
 * Invariants:
 *  - stdin is streamed in chunks; only the entry being printed is held in memory.
 *  - stdout is written with back-pressure, and fully flushed before the exit status is set.
 */
import { fstatSync, read, realpathSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { LogPrinter } from '../src/format/printer.js';
import { handleStdoutErrors, isClosedPipe } from './cli-support.js';
import { useFastChecksums } from '../src/node/fast-defaults.js';

/** C atoi: optional spaces, optional sign, digits; stops at the first non-digit; 0 if none. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s);
  if (!m || m[2] === '') return 0;
  // atoi of an out-of-range value is undefined in C; glibc's strtol clamps, then int truncates.
  let v = Number(m[2]!.length > 20 ? '99999999999999999999' : m[2]);
  if (m[1] === '-') v = -v;
  const clamped = Math.max(-9223372036854775808, Math.min(9223372036854775807, v));
  return Number(BigInt.asIntN(32, BigInt(Math.trunc(clamped))));
}

/** Write with back-pressure; `written` runs once the stream is done with the data. */
function write(stream: Writable, data: Uint8Array | string, written?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (data.length === 0) return resolve();
    const ok = stream.write(data, (err) => (err ? reject(err) : written?.()));
    if (ok) resolve();
    else stream.once('drain', resolve);
  });
}

/** Write the printer's pending output, then let it reuse the buffer. */
function flush(stream: Writable, printer: LogPrinter): Promise<void> {
  const out = printer.takeOutput();
  return write(stream, out, () => printer.recycle(out));
}

/**
 * Run the printer. Returns the exit status (the caller sets process.exitCode).
 * @param argv the arguments after the program name
 * @param stdin a file descriptor of a regular file, or a stream of chunks
 */
export async function main(argv: readonly string[], stdin: number | Readable | AsyncIterable<Uint8Array>, stdout: Writable, stderr: Writable): Promise<number> {
  let count = -1;
  for (const arg of argv) {
    if (arg === '--oldcode') {
      await write(stderr, 'Old code no longer works.\n');
      return 1;
    }
    count = atoi(arg);
  }
  const printer = new LogPrinter(count);
  if (typeof stdin === 'number') {
    // A regular file: read it into one reused buffer (the printer copies what it keeps).
    const buf = new Uint8Array(READ_CHUNK);
    for (;;) {
      const got = await readInto(stdin, buf);
      if (got === 0) break;
      printer.push(buf.subarray(0, got));
      if (printer.pendingOutput >= FLUSH_AT) await flush(stdout, printer);
      if (printer.done) break;
    }
  } else {
    for await (const chunk of stdin as AsyncIterable<Uint8Array | string>) {
      printer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
      if (printer.pendingOutput >= FLUSH_AT) await flush(stdout, printer);
      if (printer.done) break;
    }
  }
  const result = printer.end();
  await write(stdout, printer.takeOutput());
  if (result.stderr !== '') await write(stderr, result.stderr);
  return result.exitCode;
}

const READ_CHUNK = 1 << 20;
const FLUSH_AT = 1 << 20;

/** Read up to buf.length bytes from fd at its current position (0 at end of file). */
function readInto(fd: number, buf: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * stdin: its file descriptor when it is a regular file (read in large chunks into one reused
 * buffer, much faster than a 64 KiB stream), else the process.stdin stream (pipes, ttys).
 */
function openStdin(): number | Readable {
  try {
    if (fstatSync(0).isFile()) return 0;
  } catch {
    // fall through to process.stdin
  }
  return process.stdin;
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // Through the npm bin symlink argv[1] is the link; compare real paths.
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // A reader that goes away (`| head`) ends the program quietly with exit 0.
  handleStdoutErrors('tdb-logprint', 1);
  useFastChecksums();
  main(process.argv.slice(2), openStdin(), process.stdout, process.stderr).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // Only I/O failures (e.g. a closed pipe) can get here: bad input is reported above.
      if (isClosedPipe(err)) return;
      process.stderr.write(`tdb-logprint: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
