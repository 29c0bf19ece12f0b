/**
 * The teaching mode's operation language: one operation per line (or per `;` in a URL), the
 * same in the terminal tour, the page and the URL hash. A scenario is a list of them; a
 * learner may type their own.
 *
 *   put KEY VALUE        an autocommit transaction writes KEY (in dictionary "d")
 *   del KEY              an autocommit transaction deletes KEY
 *   begin T              transaction T begins (T starts with an upper-case letter)
 *   T put KEY VALUE      T writes KEY
 *   T del KEY            T deletes KEY
 *   T commit | T abort | T prepare
 *   checkpoint           a checkpoint runs to its end
 *   evict                the evictor removes every PAIR it may (a memory limit of 0 for one pass)
 *   crash                the machine stops now; recovery runs at the next open
 *   during HOOK OP       inside the next checkpoint, at crash hook HOOK, run OP before it
 *                        goes on (OP is any operation but checkpoint or during)
 *
 * Invariants:
 *  - formatOp(parseOp(line)) is the canonical spelling of line (spaces collapsed), and
 *    parseOp(formatOp(op)) deep-equals op.
 *  - A bad line is one TokusimError (kind bad-argument) naming the line number, what was
 *    expected and what was found.
 */
import { TokusimError } from '../base/errors.js';
import { CRASH_HOOK_NAMES, type CrashHookName } from '../checkpoint/events.js';

/** One operation of a teaching script. */
export type TeachOp =
  | { kind: 'put'; txn?: string; key: string; value: string }
  | { kind: 'del'; txn?: string; key: string }
  | { kind: 'begin'; txn: string }
  | { kind: 'commit' | 'abort' | 'prepare'; txn: string }
  | { kind: 'checkpoint' }
  | { kind: 'evict' }
  | { kind: 'crash' }
  | { kind: 'during'; hook: CrashHookName; op: TeachOp };

const TXN = /^[A-Z][A-Za-z0-9]{0,15}$/;
const WORD = /^[^\s;]{1,32}$/;

function bad(lineNo: number, expected: string, actual: string): TokusimError {
  return new TokusimError('bad-argument', `teach script line ${lineNo}: not an operation`, { expected, actual: JSON.stringify(actual) });
}

const FORMS = 'put KEY VALUE | del KEY | begin T | T put KEY VALUE | T del KEY | T commit | T abort | T prepare | checkpoint | evict | crash | during HOOK OP';

/** Parse one line (lineNo is for the error message only). */
export function parseOp(line: string, lineNo = 1): TeachOp {
  const w = line.trim().split(/\s+/).filter((s) => s !== '');
  const word = (i: number, what: string): string => {
    const s = w[i];
    if (s === undefined || !WORD.test(s)) throw bad(lineNo, `${what} (1 to 32 characters, no space or ';') in "${FORMS}"`, line);
    return s;
  };
  const done = (n: number, op: TeachOp): TeachOp => {
    if (w.length !== n) throw bad(lineNo, `${n} word${n === 1 ? '' : 's'} for ${op.kind}`, line);
    return op;
  };
  const head = w[0];
  if (head === undefined) throw bad(lineNo, FORMS, line);
  switch (head) {
    case 'put':
      return done(3, { kind: 'put', key: word(1, 'a key'), value: word(2, 'a value') });
    case 'del':
      return done(2, { kind: 'del', key: word(1, 'a key') });
    case 'begin': {
      const t = w[1] ?? '';
      if (!TXN.test(t)) throw bad(lineNo, 'a transaction name after begin (an upper-case letter, then letters or digits)', line);
      return done(2, { kind: 'begin', txn: t });
    }
    case 'checkpoint':
    case 'evict':
    case 'crash':
      return done(1, { kind: head });
    case 'during': {
      const hook = w[1] as CrashHookName;
      if (!CRASH_HOOK_NAMES.includes(hook)) throw bad(lineNo, `a crash hook after during (${CRASH_HOOK_NAMES.join(', ')})`, line);
      const inner = parseOp(w.slice(2).join(' '), lineNo);
      if (inner.kind === 'checkpoint' || inner.kind === 'during') throw bad(lineNo, 'an operation other than checkpoint or during after the hook', line);
      return { kind: 'during', hook, op: inner };
    }
    default:
      break;
  }
  if (TXN.test(head)) {
    switch (w[1]) {
      case 'put':
        return done(4, { kind: 'put', txn: head, key: word(2, 'a key'), value: word(3, 'a value') });
      case 'del':
        return done(3, { kind: 'del', txn: head, key: word(2, 'a key') });
      case 'commit':
      case 'abort':
      case 'prepare':
        return done(2, { kind: w[1], txn: head });
      default:
        throw bad(lineNo, `put, del, commit, abort or prepare after the transaction name ${head}`, line);
    }
  }
  throw bad(lineNo, FORMS, line);
}

/** The canonical text of an operation. */
export function formatOp(op: TeachOp): string {
  const t = (s: string | undefined): string => (s === undefined ? '' : `${s} `);
  switch (op.kind) {
    case 'put':
      return `${t(op.txn)}put ${op.key} ${op.value}`;
    case 'del':
      return `${t(op.txn)}del ${op.key}`;
    case 'begin':
      return `begin ${op.txn}`;
    case 'commit':
    case 'abort':
    case 'prepare':
      return `${op.txn} ${op.kind}`;
    case 'during':
      return `during ${op.hook} ${formatOp(op.op)}`;
    default:
      return op.kind;
  }
}

/** Parse a script: lines separated by newlines or ';', blank lines and lines starting with # skipped. */
export function parseScript(text: string): TeachOp[] {
  const ops: TeachOp[] = [];
  text.split(/[\n;]/).forEach((line, i) => {
    const s = line.trim();
    if (s === '' || s.startsWith('#')) return;
    ops.push(parseOp(s, i + 1));
  });
  return ops;
}
