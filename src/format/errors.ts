/**
 * Errors that say what and where. Every error raised for bad input carries the file, the
 * byte offset, the last good LSN (when known) and expected vs actual values, so the CLI can
 * print one clear line and choose a documented exit code.
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
  | 'not-an-environment'
  | 'invariant';

export interface ErrorWhere {
  file?: string;
  offset?: number;
  lsn?: bigint;
  expected?: string;
  actual?: string;
}

export class TokusimError extends Error {
  readonly kind: ErrorKind;
  readonly where: ErrorWhere;

  constructor(kind: ErrorKind, message: string, where: ErrorWhere = {}) {
    super(TokusimError.describe(message, where));
    this.name = 'TokusimError';
    this.kind = kind;
    this.where = where;
  }

  private static describe(message: string, w: ErrorWhere): string {
    const parts: string[] = [];
    if (w.file !== undefined) parts.push(w.file);
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
  constructor(message: string) {
    super('invariant', `invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

/** Always-on assertion for module invariants. */
export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === 'function' ? message() : message);
}
