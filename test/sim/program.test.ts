import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatOp, formatScript, parseOp, parseScript, type Op } from '../../src/sim/program.js';
import { CRASH_HOOK_NAMES } from '../../src/checkpoint/events.js';
import { TokusimError } from '../../src/base/errors.js';
import { ISOLATION_LEVELS } from '../../src/engine/txn.js';

const small = fc.integer({ min: 0, max: 9 });
const mode = fc.constantFrom('sync' as const, 'periodic' as const, 'none' as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  small.map((d) => ({ t: 'create' as const, d })),
  small.map((x) => ({ t: 'begin' as const, x })),
  fc.record({ x: small, iso: fc.constantFrom(...ISOLATION_LEVELS) }).map((r) => ({ t: 'begin' as const, ...r })),
  fc.record({ x: small, d: small, k: small }).map((r) => ({ t: 'read' as const, ...r })),
  fc.record({ x: small, d: small, k: small, v: fc.nat() }).map((r) => ({ t: 'put' as const, ...r })),
  fc.record({ x: small, d: small, k: small }).map((r) => ({ t: 'del' as const, ...r })),
  small.map((x) => ({ t: 'commit' as const, x })),
  small.map((x) => ({ t: 'abort' as const, x })),
  small.map((x) => ({ t: 'prepare' as const, x })),
  fc.boolean().map((commit) => ({ t: 'resolve' as const, commit })),
  fc.record({ d: small, k: small, v: fc.nat() }).map((r) => ({ t: 'autoput' as const, ...r })),
  fc.record({ d: small, k: small }).map((r) => ({ t: 'autodel' as const, ...r })),
  fc.record({ x: small, d: small, k: small, n: fc.nat() }).map((r) => ({ t: 'update' as const, ...r })),
  fc.record({ d: small, k: small, n: fc.nat() }).map((r) => ({ t: 'autoupdate' as const, ...r })),
  fc.constant({ t: 'checkpoint' as const }),
  fc.constant({ t: 'checkpoint-bg' as const }),
  fc.record({ d: small, k: small, v: fc.nat() }).map((r) => ({ t: 'checkpoint-client' as const, ...r })),
  fc.nat({ max: 10_000 }).map((ms) => ({ t: 'advance' as const, ms })),
  mode.map((m) => ({ t: 'crash' as const, mode: m })),
  mode.map((m) => ({ t: 'reopen' as const, mode: m })),
  fc.integer({ min: 1, max: 1000 }).map((n) => ({ t: 'crash-at-io' as const, n })),
  fc.constantFrom(...CRASH_HOOK_NAMES).map((hook) => ({ t: 'crash-at-hook' as const, hook })),
);

describe('sim: crash-test scripts', () => {
  // Property: printing an operation list as a script and parsing it back gives the same list.
  it('Scenario: every script round-trips through its text form', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        expect(parseScript(formatScript(ops))).toEqual(ops);
        expect(parseScript(ops.map(formatOp).join('; '))).toEqual(ops);
      }),
    );
  });

  it('Scenario: comments and blank lines are ignored; a bad line is a bad-argument error naming it', () => {
    expect(parseScript('# setup\ncreate d0\n\nautoput d0 k1 5 # a put\n')).toEqual([
      { t: 'create', d: 0 },
      { t: 'autoput', d: 0, k: 1, v: 5 },
    ]);
    for (const bad of ['put x0 d0', 'explode', 'crash sometimes', 'crash-at-hook nowhere', 'put y0 d0 k1 2', 'begin x0 eventual', 'read x0 d0']) {
      let err: unknown;
      try {
        parseOp(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('bad-argument');
      expect((err as TokusimError).message).toContain(bad);
    }
  });
});
