/**
 * Update functions (TokuDB's update callbacks): a row update whose new value is computed from
 * the old one, logged as `enq_update` (filenum, xid, key, extra). Unlike a put, an update is
 * not idempotent (`add 5` twice is not `add 5` once), so recovery's LSN filter is what keeps a
 * replayed update from being applied a second time.
 *
 * Which function an update uses: PerconaFT has one update callback per environment and the
 * application encodes whatever it needs in `extra`. We keep the one-callback model on the log
 * side and make the choice of function part of `extra`: extra = function name (UTF-8), one
 * NUL byte, then the function's own argument bytes. So a log names its functions, and
 * recovery looks the name up in the environment's registry (built-ins plus
 * `EnvOptions.updateFunctions`); a log naming a function the environment does not know is a
 * recovery error, never a guess.
 *
 * Built-ins:
 *  - `add`: old and argument are decimal integers (an absent row counts as 0); the new value
 *    is their sum in decimal.
 *  - `append`: the new value is the old value (empty when absent) followed by the argument.
 *
 * Invariants:
 *  - decodeUpdateExtra(encodeUpdateExtra(name, arg)) gives back name and arg.
 *  - A function name is 1..64 bytes without NUL; the registry refuses anything else.
 *  - A function that throws, or returns something that is not a Uint8Array or undefined,
 *    becomes a TokusimError (kind bad-argument) naming the function; nothing is logged then.
 */
import { TokusimError } from '../base/errors.js';

/** new value from the old one (undefined = absent); returning undefined deletes the row. */
export type UpdateFunction = (oldValue: Uint8Array | undefined, extra: Uint8Array) => Uint8Array | undefined;

const enc = new TextEncoder();
const dec = new TextDecoder();

function decimal(bytes: Uint8Array | undefined, what: string): bigint {
  if (bytes === undefined) return 0n;
  const s = dec.decode(bytes);
  if (!/^-?\d{1,200}$/.test(s)) {
    throw new TokusimError('bad-argument', `update function add: the ${what} is not a decimal integer`, { expected: 'decimal integer', actual: JSON.stringify(s.slice(0, 40)) });
  }
  return BigInt(s);
}

export const BUILTIN_UPDATE_FUNCTIONS: Readonly<Record<string, UpdateFunction>> = {
  add: (old, extra) => enc.encode(String(decimal(old, 'old value') + decimal(extra, 'argument'))),
  append: (old, extra) => {
    const out = new Uint8Array((old?.length ?? 0) + extra.length);
    if (old !== undefined) out.set(old);
    out.set(extra, old?.length ?? 0);
    return out;
  },
};

function checkName(name: string): Uint8Array {
  const b = enc.encode(name);
  if (b.length === 0 || b.length > 64 || b.includes(0)) {
    throw new TokusimError('bad-argument', 'an update function name is 1..64 bytes without NUL', { actual: JSON.stringify(name) });
  }
  return b;
}

/** The enq_update extra for function `name` with argument `arg`. */
export function encodeUpdateExtra(name: string, arg: Uint8Array): Uint8Array {
  const n = checkName(name);
  const out = new Uint8Array(n.length + 1 + arg.length);
  out.set(n);
  out.set(arg, n.length + 1);
  return out;
}

/** Split an enq_update extra into function name and argument (bad input is a TokusimError). */
export function decodeUpdateExtra(extra: Uint8Array, where: { lsn?: bigint; file?: string } = {}): { name: string; arg: Uint8Array } {
  const nul = extra.indexOf(0);
  if (nul <= 0 || nul > 64) {
    throw new TokusimError('bad-argument', 'enq_update extra does not start with a function name and a NUL byte', { ...where, expected: 'name\\0argument', actual: `${extra.length} bytes, NUL at ${nul}` });
  }
  return { name: dec.decode(extra.subarray(0, nul)), arg: extra.slice(nul + 1) };
}

/** The environment's update functions: the built-ins plus the application's. */
export class UpdateRegistry {
  private readonly fns = new Map<string, UpdateFunction>();

  /** A registry of the built-in update functions plus those in extra. */
  constructor(extra: Readonly<Record<string, UpdateFunction>> = {}) {
    for (const [name, fn] of Object.entries({ ...BUILTIN_UPDATE_FUNCTIONS, ...extra })) {
      checkName(name);
      if (typeof fn !== 'function') throw new TokusimError('bad-argument', `update function ${name} is not a function`, { actual: typeof fn });
      this.fns.set(name, fn);
    }
  }

  /** The names of the registered update functions, sorted. */
  get names(): string[] {
    return [...this.fns.keys()].sort();
  }

  /** True when an update function named name is registered. */
  has(name: string): boolean {
    return this.fns.has(name);
  }

  /** Run function `name` on old with arg; every failure is a TokusimError naming it. */
  apply(name: string, old: Uint8Array | undefined, arg: Uint8Array, where: { lsn?: bigint; file?: string } = {}): Uint8Array | undefined {
    const fn = this.fns.get(name);
    if (fn === undefined) {
      throw new TokusimError('bad-argument', `unknown update function '${name}'`, { ...where, expected: this.names.join(', '), actual: name });
    }
    let out: unknown;
    try {
      out = fn(old?.slice(), arg.slice());
    } catch (err) {
      if (err instanceof TokusimError) throw err;
      throw new TokusimError('bad-argument', `update function ${name} failed: ${err instanceof Error ? err.message : String(err)}`, where);
    }
    if (out !== undefined && !(out instanceof Uint8Array)) {
      throw new TokusimError('bad-argument', `update function ${name} returned neither bytes nor undefined`, { ...where, actual: typeof out });
    }
    return out === undefined ? undefined : out.slice();
  }
}
