/**
 * Crash-test programs: the operation alphabet, its one-line text form (the replayable script
 * a failing run prints) and the parser for it.
 *
 * Invariants:
 *  - formatOp and parseOp are inverse: parseOp(formatOp(op)) deep-equals op.
 *  - A script is one operation per line (or separated by ';'); blank lines and '#' comments
 *    are ignored; anything else that does not parse is a bad-argument error naming the line.
 */
import { TokusimError } from '../base/errors.js';
import { CRASH_HOOK_NAMES, type CrashHookName } from '../checkpoint/events.js';
import { ISOLATION_LEVELS, type Isolation } from '../engine/txn.js';

export type DurabilityMode = 'sync' | 'periodic' | 'none';
export const DURABILITY_MODES: readonly DurabilityMode[] = ['sync', 'periodic', 'none'];

/** Dictionaries are d0..d(N-1); keys k0..k(M-1); transaction slots x0..x(S-1). */
export type Op =
  | { t: 'create'; d: number }
  /** Begin a transaction in slot x, at isolation level iso (default read-committed). */
  | { t: 'begin'; x: number; iso?: Isolation }
  /** Slot x's transaction reads a key; the history checker (history-check.ts) checks the value. */
  | { t: 'read'; x: number; d: number; k: number }
  | { t: 'put'; x: number; d: number; k: number; v: number }
  | { t: 'del'; x: number; d: number; k: number }
  /** Update with the built-in 'add' function: the row becomes its value (0 if absent) + n. */
  | { t: 'update'; x: number; d: number; k: number; n: number }
  | { t: 'commit'; x: number }
  | { t: 'abort'; x: number }
  | { t: 'prepare'; x: number }
  /** Commit (or abort) the oldest prepared transaction. */
  | { t: 'resolve'; commit: boolean }
  /** One put in its own transaction (env.put). */
  | { t: 'autoput'; d: number; k: number; v: number }
  | { t: 'autodel'; d: number; k: number }
  /** One 'add' update in its own transaction (env.update). */
  | { t: 'autoupdate'; d: number; k: number; n: number }
  | { t: 'checkpoint' }
  /** A checkpoint during whose begin..end window (the afterBegin hook) a client commits a put. */
  | { t: 'checkpoint-client'; d: number; k: number; v: number }
  /** Start a checkpoint in the background; later operations run concurrently with it. */
  | { t: 'checkpoint-bg' }
  /** Advance the virtual clock (periodic fsyncs and scheduled work run). */
  | { t: 'advance'; ms: number }
  /** Crash now (seeded faults), reopen with recovery in the given durability mode, verify. */
  | { t: 'crash'; mode: DurabilityMode }
  /** Arm a crash at the n-th I/O call from now; it strikes inside a later operation. */
  | { t: 'crash-at-io'; n: number }
  /**
   * Crash at I/O call number `io` of the run (counted from the disk's first call), whichever
   * task makes it, with this crash seed, then recover (without I/O jitter: recovery is one
   * task) in this mode. A forked crash state (src/sim/fork.ts) replays as this, first in the
   * script, followed by the operations up to the one it struck in.
   */
  | { t: 'crash-at'; io: number; seed: number; mode: DurabilityMode }
  /** The next checkpoint crashes at this hook. */
  | { t: 'crash-at-hook'; hook: CrashHookName }
  /** Clean close and reopen in the given durability mode. */
  | { t: 'reopen'; mode: DurabilityMode };

export function formatOp(op: Op): string {
  switch (op.t) {
    case 'create':
      return `create d${op.d}`;
    case 'begin':
      return op.iso === undefined ? `begin x${op.x}` : `begin x${op.x} ${op.iso}`;
    case 'read':
      return `read x${op.x} d${op.d} k${op.k}`;
    case 'commit':
    case 'abort':
    case 'prepare':
      return `${op.t} x${op.x}`;
    case 'put':
      return `put x${op.x} d${op.d} k${op.k} ${op.v}`;
    case 'del':
      return `del x${op.x} d${op.d} k${op.k}`;
    case 'update':
      return `update x${op.x} d${op.d} k${op.k} ${op.n}`;
    case 'resolve':
      return `resolve ${op.commit ? 'commit' : 'abort'}`;
    case 'autoput':
      return `autoput d${op.d} k${op.k} ${op.v}`;
    case 'autodel':
      return `autodel d${op.d} k${op.k}`;
    case 'autoupdate':
      return `autoupdate d${op.d} k${op.k} ${op.n}`;
    case 'checkpoint':
    case 'checkpoint-bg':
      return op.t;
    case 'checkpoint-client':
      return `checkpoint-client d${op.d} k${op.k} ${op.v}`;
    case 'advance':
      return `advance ${op.ms}`;
    case 'crash':
    case 'reopen':
      return `${op.t} ${op.mode}`;
    case 'crash-at-io':
      return `crash-at-io ${op.n}`;
    case 'crash-at-hook':
      return `crash-at-hook ${op.hook}`;
    case 'crash-at':
      return `crash-at io ${op.io} seed ${op.seed} mode ${op.mode}`;
  }
}

export function formatScript(ops: readonly Op[]): string {
  return ops.map(formatOp).join('\n');
}

function bad(line: string, why: string): TokusimError {
  return new TokusimError('bad-argument', `bad crashtest script line '${line}': ${why}`, { actual: line });
}

function num(line: string, word: string | undefined, prefix: string): number {
  if (word === undefined || !word.startsWith(prefix)) throw bad(line, `expected ${prefix}<number>`);
  const s = word.slice(prefix.length);
  if (!/^\d{1,15}$/.test(s)) throw bad(line, `expected ${prefix}<number>, got ${word}`);
  return Number(s);
}

function mode(line: string, word: string | undefined): DurabilityMode {
  if (word === 'sync' || word === 'periodic' || word === 'none') return word;
  throw bad(line, 'expected a durability mode: sync, periodic or none');
}

export function parseOp(line: string): Op {
  const w = line.trim().split(/\s+/);
  const arity = (n: number): void => {
    if (w.length !== n) throw bad(line, `expected ${n - 1} argument(s)`);
  };
  switch (w[0]) {
    case 'create':
      arity(2);
      return { t: 'create', d: num(line, w[1], 'd') };
    case 'begin': {
      if (w.length !== 2 && w.length !== 3) throw bad(line, 'expected begin x<number> [isolation level]');
      if (w.length === 2) return { t: 'begin', x: num(line, w[1], 'x') };
      const iso = ISOLATION_LEVELS.find((l) => l === w[2]);
      if (iso === undefined) throw bad(line, `expected an isolation level: ${ISOLATION_LEVELS.join(', ')}`);
      return { t: 'begin', x: num(line, w[1], 'x'), iso };
    }
    case 'read':
      arity(4);
      return { t: 'read', x: num(line, w[1], 'x'), d: num(line, w[2], 'd'), k: num(line, w[3], 'k') };
    case 'commit':
    case 'abort':
    case 'prepare':
      arity(2);
      return { t: w[0], x: num(line, w[1], 'x') };
    case 'put':
      arity(5);
      return { t: 'put', x: num(line, w[1], 'x'), d: num(line, w[2], 'd'), k: num(line, w[3], 'k'), v: num(line, w[4], '') };
    case 'update':
      arity(5);
      return { t: 'update', x: num(line, w[1], 'x'), d: num(line, w[2], 'd'), k: num(line, w[3], 'k'), n: num(line, w[4], '') };
    case 'del':
      arity(4);
      return { t: 'del', x: num(line, w[1], 'x'), d: num(line, w[2], 'd'), k: num(line, w[3], 'k') };
    case 'resolve':
      arity(2);
      if (w[1] !== 'commit' && w[1] !== 'abort') throw bad(line, 'expected commit or abort');
      return { t: 'resolve', commit: w[1] === 'commit' };
    case 'autoput':
      arity(4);
      return { t: 'autoput', d: num(line, w[1], 'd'), k: num(line, w[2], 'k'), v: num(line, w[3], '') };
    case 'autoupdate':
      arity(4);
      return { t: 'autoupdate', d: num(line, w[1], 'd'), k: num(line, w[2], 'k'), n: num(line, w[3], '') };
    case 'autodel':
      arity(3);
      return { t: 'autodel', d: num(line, w[1], 'd'), k: num(line, w[2], 'k') };
    case 'checkpoint':
    case 'checkpoint-bg':
      arity(1);
      return { t: w[0] };
    case 'checkpoint-client':
      arity(4);
      return { t: 'checkpoint-client', d: num(line, w[1], 'd'), k: num(line, w[2], 'k'), v: num(line, w[3], '') };
    case 'advance':
      arity(2);
      return { t: 'advance', ms: num(line, w[1], '') };
    case 'crash':
    case 'reopen':
      arity(2);
      return { t: w[0], mode: mode(line, w[1]) };
    case 'crash-at-io':
      arity(2);
      return { t: 'crash-at-io', n: Math.max(1, num(line, w[1], '')) };
    case 'crash-at':
      arity(7);
      if (w[1] !== 'io' || w[3] !== 'seed' || w[5] !== 'mode') throw bad(line, "expected 'crash-at io N seed S mode M'");
      return { t: 'crash-at', io: Math.max(1, num(line, w[2], '')), seed: num(line, w[4], ''), mode: mode(line, w[6]) };
    case 'crash-at-hook': {
      arity(2);
      const hook = CRASH_HOOK_NAMES.find((h) => h === w[1]);
      if (hook === undefined) throw bad(line, `expected one of ${CRASH_HOOK_NAMES.join(', ')}`);
      return { t: 'crash-at-hook', hook };
    }
    default:
      throw bad(line, 'unknown operation');
  }
}

/** Parse a script: one operation per line or ';'-separated; '#' starts a comment. */
export function parseScript(text: string): Op[] {
  const ops: Op[] = [];
  for (const raw of text.split(/[\n;]/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line.length > 0) ops.push(parseOp(line));
  }
  return ops;
}
