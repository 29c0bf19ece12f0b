/**
 * Errors that say what and where. Every error raised for bad input carries the file, the
 * byte offset, the last good LSN (when known) and expected vs actual values, so the CLI can
 * print one clear line and choose a documented exit code.
 *
 * Invariants:
 *  - Every error kind has exactly one stable `code` (ERROR_CODES, checked by the compiler);
 *    codes never change meaning once published, so callers can branch on them.
 */

export type ErrorKind =
  | 'bad-magic'
  | 'bad-version'
  | 'bad-checksum'
  | 'bad-length'
  | 'unknown-command'
  | 'truncated'
  | 'lsn-gap'
  | 'bad-header'
  | 'bad-btt'
  | 'bad-argument'
  | 'lock-conflict'
  | 'locked'
  | 'recovery'
  | 'io'
  | 'invariant'
  | 'not-an-environment'
  | 'live-transactions'
  | 'bad-node'
  | 'needs-application'
  | 'no-such-backup'
  | 'dest-not-empty'
  | 'repo-locked'
  | 'remote';

/**
 * The stable error code of each error kind (README "Exit codes"). Kinds
 * that a caller handles the same way share a code: every kind of damaged input is
 * `TOKUSIM_CORRUPT`, whatever check found it.
 */
export const ERROR_CODES = {
  'bad-magic': 'TOKUSIM_CORRUPT',
  'bad-version': 'TOKUSIM_CORRUPT',
  'bad-checksum': 'TOKUSIM_CORRUPT',
  'bad-length': 'TOKUSIM_CORRUPT',
  'unknown-command': 'TOKUSIM_CORRUPT',
  'lsn-gap': 'TOKUSIM_CORRUPT',
  'bad-header': 'TOKUSIM_CORRUPT',
  'bad-btt': 'TOKUSIM_CORRUPT',
  truncated: 'TOKUSIM_TRUNCATED',
  'bad-argument': 'TOKUSIM_BAD_ARGUMENT',
  'lock-conflict': 'TOKUSIM_LOCK_CONFLICT',
  locked: 'TOKUSIM_ENV_LOCKED',
  recovery: 'TOKUSIM_RECOVERY_FAILED',
  io: 'TOKUSIM_IO',
  invariant: 'TOKUSIM_INTERNAL',
  'not-an-environment': 'TOKUSIM_NOT_AN_ENVIRONMENT',
  'live-transactions': 'TOKUSIM_LIVE_TRANSACTIONS',
  'bad-node': 'TOKUSIM_CORRUPT',
  'needs-application': 'TOKUSIM_NEEDS_APPLICATION',
  'no-such-backup': 'TOKUSIM_NO_SUCH_BACKUP',
  'dest-not-empty': 'TOKUSIM_DEST_NOT_EMPTY',
  'repo-locked': 'TOKUSIM_REPO_LOCKED',
  remote: 'TOKUSIM_REMOTE_STORAGE',
} as const satisfies Record<ErrorKind, `TOKUSIM_${string}`>;

/** A stable error code: the `code` of every {@link TokusimError}. */
export type ErrorCode = (typeof ERROR_CODES)[ErrorKind];

/** Where an error was found, and what was expected there; each part is optional. */
export interface ErrorWhere {
  /** The file (or directory) being read or written. */
  file?: string;
  /** Byte offset in the file. */
  offset?: number;
  /** The block number (of a fractal-tree node or rollback node) being read. */
  blocknum?: bigint | number;
  /** The last good LSN before the problem. */
  lsn?: bigint;
  /** What was expected. */
  expected?: string;
  /** What was found instead (for storage errors, the POSIX code such as ENOENT). */
  actual?: string;
}

/**
 * Every error tokusim raises on purpose. `code` is stable (see {@link ERROR_CODES}); `kind`
 * is finer and may grow; `where` locates the problem; `message` is one line naming the file,
 * offset, LSN and expected vs actual values.
 */
export class TokusimError extends Error {
  /** What went wrong, finely. */
  readonly kind: ErrorKind;
  /** Stable code derived from `kind`, e.g. `TOKUSIM_CORRUPT`. */
  readonly code: ErrorCode;
  /** Where it went wrong. */
  readonly where: ErrorWhere;

  /** An error of the given kind whose message is followed by where it went wrong (file, offset, LSN). */
  constructor(kind: ErrorKind, message: string, where: ErrorWhere = {}) {
    super(TokusimError.describe(message, where));
    this.name = 'TokusimError';
    this.kind = kind;
    this.code = ERROR_CODES[kind];
    this.where = where;
  }

  private static describe(message: string, w: ErrorWhere): string {
    const parts: string[] = [];
    if (w.file !== undefined) parts.push(w.file);
    if (w.blocknum !== undefined) parts.push(`blocknum ${w.blocknum}`);
    if (w.offset !== undefined) parts.push(`offset ${w.offset}`);
    if (w.lsn !== undefined) parts.push(`last good lsn ${w.lsn}`);
    const loc = parts.length > 0 ? `${parts.join(', ')}: ` : '';
    let ev = '';
    if (w.expected !== undefined) ev = ` (expected ${w.expected}, actual ${w.actual ?? 'nothing'})`;
    else if (w.actual !== undefined && !message.includes(w.actual)) ev = ` (${w.actual})`;
    return `${loc}${message}${ev}`;
  }
}

/** Thrown when a checked invariant does not hold: always a bug in tokusim, never bad input. */
export class InvariantError extends TokusimError {
  /** An invariant violation described by message. */
  constructor(message: string) {
    super('invariant', `invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

/** Always-on assertion for module invariants. */
export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'function' ? message() : message);
}
