/**
 * A small seeded pseudo-random generator for deterministic simulation: xoshiro128** (32-bit
 * state words, period 2^128 - 1), with its four state words filled from the seed by splitmix32.
 * Not for cryptography; only so that one integer seed fixes every simulated choice.
 *
 * Invariants:
 *  - The state is never all zero (xoshiro would then only ever return zero).
 *  - The same seed yields the same sequence on every platform (pure 32-bit integer math).
 *  - int(n) returns an integer in [0, n); float() returns a number in [0, 1).
 */
import { TokusimError, invariant } from './errors.js';

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** One splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [z, next];
}

/** A small seeded pseudo-random generator, so that every choice the simulated disk and the crash tests make is reproducible from a seed. */
export class Prng {
  private s: Uint32Array;

  /** A generator whose whole sequence is fixed by seed. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new TokusimError('bad-argument', 'a seed must be a safe integer', { actual: String(seed) });
    }
    this.s = new Uint32Array(4);
    // Fold the high bits of a large seed in, so seeds above 2^32 are not aliases of smaller ones.
    let st = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x27d4eb2f);
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix32(st >>> 0);
      this.s[i] = out;
      st = next;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** The next 32-bit unsigned output. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    invariant((s[0]! | s[1]! | s[2]! | s[3]!) !== 0, 'xoshiro state became all zero');
    return result;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** An integer in [0, n), n a positive safe integer up to 2^32. */
  int(n: number): number {
    invariant(Number.isInteger(n) && n > 0 && n <= 0x1_0000_0000, () => `Prng.int bound ${n}`);
    // Rejection sampling removes the modulo bias.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** An independent generator with the same state (both then produce the same sequence). */
  clone(): Prng {
    const c = new Prng(0);
    c.s = Uint32Array.from(this.s);
    return c;
  }

  /** Draw a fresh seed for a child generator (advances this one). */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x10000 + (this.nextU32() >>> 16));
  }
}
