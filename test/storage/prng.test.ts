import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Prng } from '../../src/base/prng.js';

describe('Prng (xoshiro128**)', () => {
  // Property: the same seed always yields the same sequence, and a clone continues identically.
  it('Property: sequences are a pure function of the seed; clones continue in step', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.nat(20), (seed, skip) => {
        const a = new Prng(seed);
        const b = new Prng(seed);
        for (let i = 0; i < skip; i++) expect(a.nextU32()).toBe(b.nextU32());
        const c = a.clone();
        for (let i = 0; i < 10; i++) expect(c.nextU32()).toBe(a.nextU32());
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  // Property: int(n) is always an integer in [0, n) and float() in [0, 1).
  it('Property: int(n) stays in [0, n) and float in [0, 1)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
        const r = new Prng(seed);
        for (let i = 0; i < 20; i++) {
          const x = r.int(n);
          expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
          const f = r.float();
          expect(f >= 0 && f < 1).toBe(true);
        }
      }),
      { numRuns: 200, seed: 4 },
    );
  });

  it('Scenario: nearby seeds give unrelated streams and outputs cover every bucket roughly evenly', () => {
    const firsts = new Set<number>();
    for (let seed = 0; seed < 1000; seed++) firsts.add(new Prng(seed).nextU32());
    expect(firsts.size).toBe(1000);
    expect(new Prng(1).nextU32()).not.toBe(new Prng(1 + 2 ** 32).nextU32());
    const r = new Prng(99);
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[r.int(16)]!++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
  });
});
