/**
 * One way to report storage failures, shared by NodeStorage and SimStorage, so code above the
 * storage layer (and the contract tests) can rely on the same shape whichever disk it runs on:
 * a TokusimError of kind 'io' whose where.file is the path and where.actual is the POSIX-style
 * error code (ENOENT, EEXIST, EBADF, EISDIR, ENOTDIR, ...).
 *
 * Invariants:
 *  - Every storage error produced here has kind 'io', a file and a non-empty code.
 */
import { TokusimError, invariant } from '../base/errors.js';

/** Build the TokusimError for a failed storage operation. */
export function ioError(op: string, path: string, code: string, detail?: string): TokusimError {
  invariant(code.length > 0, 'an io error needs an error code');
  const text = detail === undefined ? `${op} failed: ${code}` : `${op} failed: ${code} (${detail})`;
  return new TokusimError('io', text, { file: path, actual: code });
}

/** The error code carried by a storage error ('' when it is not one). */
export function ioErrorCode(err: unknown): string {
  if (err instanceof TokusimError && err.kind === 'io') return err.where.actual ?? '';
  return '';
}
