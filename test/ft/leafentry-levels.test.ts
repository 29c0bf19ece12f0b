// Resolving a leaf entry's provisional stack level by level (src/ft/leafentry.ts
// resolveEntry) agrees with PerconaFT's own way of undoing those levels: ABORT messages
// applied to the entry (applyMessage), innermost level first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FT_MSG, XR_DELETE, XR_INSERT, XR_PLACEHOLDER, applyMessage, committedValue, resolveEntry, type Ule, type Uxr } from '../../src/ft/leafentry.js';

/** Any valid stack: committed records (the first with xid 0), then 1..6 provisional levels with increasing xids. */
const arbStack = fc
  .record({
    committed: fc.array(fc.option(fc.uint8Array({ maxLength: 6 }), { nil: null }), { minLength: 1, maxLength: 3 }),
    provisional: fc.array(fc.option(fc.uint8Array({ maxLength: 6 }), { nil: null }), { minLength: 1, maxLength: 6 }),
    placeholders: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  })
  .map(({ committed, provisional, placeholders }): Ule => {
    const rec = (xid: bigint, v: Uint8Array | null): Uxr => (v === null ? { type: XR_DELETE, xid } : { type: XR_INSERT, xid, value: v });
    const uxrs = committed.map((v, i) => rec(BigInt(i * 3), v));
    provisional.forEach((v, i) => {
      const xid = 100n + BigInt(i);
      // Any level but the innermost may be a placeholder (a transaction that only has children here).
      uxrs.push(i < provisional.length - 1 && placeholders[i] ? { type: XR_PLACEHOLDER, xid } : rec(xid, v));
    });
    return { uxrs, nc: committed.length };
  });

function clone(u: Ule): Ule {
  return { uxrs: u.uxrs.map((r) => ({ ...r })), nc: u.nc };
}

describe('resolveEntry: provisional levels', () => {
  // Property: refusing level `cut` (and so every level inside it) gives the value the entry
  // holds after ABORT_ANY messages of those levels, innermost first, with every remaining
  // level committed; leftOut names the stack down to the refused level.
  it('Property: dropping levels equals applying their ABORT messages', () => {
    fc.assert(
      fc.property(arbStack, fc.nat(), (u, cutSeed) => {
        const np = u.uxrs.length - u.nc;
        const cut = cutSeed % np;
        const stack = u.uxrs.slice(u.nc).map((r) => r.xid);
        const asked: string[] = [];
        const r = resolveEntry(u, (xids) => {
          asked.push(xids.join('/'));
          return xids.length - 1 < cut;
        });
        // Asked outermost first, and never past the refused level.
        expect(asked).toEqual(stack.slice(0, cut + 1).map((_, i) => stack.slice(0, i + 1).join('/')));
        expect(r.leftOut).toEqual(stack.slice(0, cut + 1));

        const model = clone(u);
        for (;;) {
          const n = model.uxrs.length - model.nc;
          if (n <= cut) break;
          applyMessage(model, FT_MSG.ABORT_ANY, stack.slice(0, n), new Uint8Array(0));
          expect(model.uxrs.length - model.nc).toBeLessThan(n);
        }
        expect(r.value).toEqual(committedValue(model));
      }),
      { numRuns: 500 },
    );
  });

  // Property: with every level committed nothing is left out, and the value is that of the
  // innermost non-placeholder record, as the root-only resolver gives it.
  it('Property: every level committed leaves nothing out', () => {
    fc.assert(
      fc.property(arbStack, (u) => {
        const r = resolveEntry(u, () => true);
        expect(r.leftOut).toBeUndefined();
        expect(r.value).toEqual(committedValue(u));
        const inner = u.uxrs[u.uxrs.length - 1]!;
        expect(r.value).toEqual(inner.type === XR_INSERT ? inner.value : null);
      }),
      { numRuns: 200 },
    );
  });
});
