/**
 * The seeded program generator of random mode: it picks each next operation from the
 * model's current state (which dictionaries exist, which transactions are open or
 * prepared), so every generated operation is meaningful, and the recorded list replays.
 *
 * Invariants:
 *  - The same seed and the same model history give the same operations.
 *  - Generated writes never touch a key another open or prepared transaction has written (the
 *    engine would refuse them with a lock conflict, which is not what is under test). A key
 *    a serializable transaction has read may be written: the runner checks that the write is
 *    refused (the read lock, history-check.ts).
 *  - A program ends with a crash, so its last state is always recovered and checked.
 *  - Reads and isolation levels (the history checker's workload) come from seeded streams of
 *    their own and do not count towards the length, so the other operations are drawn exactly
 *    as without them; only what the engine does differently (a refused snapshot write, a
 *    write refused by a read lock, the I/O a read makes) can make a program differ.
 */
import { Prng } from '../base/prng.js';
import { CRASH_HOOK_NAMES } from '../checkpoint/events.js';
import { DURABILITY_MODES, type Op } from './program.js';
import type { Runner } from './runner.js';

export interface GeneratorOptions {
  /** Operations per program (the final crash included). Default 40. */
  length?: number;
  dictionaries?: number;
  keys?: number;
  slots?: number;
  /**
   * Reads inside transactions and transactions at snapshot isolation, for the history checker
   * (default false: the plain alphabet, whose programs per seed are fixed by recorded tests).
   */
  history?: boolean;
}

export function programGenerator(seed: number, opts: GeneratorOptions = {}): (r: Runner) => Op | undefined {
  const rng = new Prng((seed ^ 0x6a09e667) >>> 0);
  const length = opts.length ?? 40;
  const nd = opts.dictionaries ?? 2;
  const nk = opts.keys ?? 6;
  const ns = opts.slots ?? 2;
  const history = opts.history ?? false;
  const hrng = new Prng((seed ^ 0x3c6ef372) >>> 0);
  // Its own stream, so adding the level left the other history draws of a seed as they were.
  const srng = new Prng((seed ^ 0x510e527f) >>> 0);
  let emitted = 0;
  let value = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const mode = () => pick(DURABILITY_MODES);

  return (r: Runner): Op | undefined => {
    if (emitted >= length) return undefined;
    const m = r.model;
    const state = m.current();
    const dicts = [...state.keys()];
    if (history && m.slots.size > 0 && dicts.length > 0 && hrng.chance(0.3)) {
      const live = [...m.slots.keys()];
      return { t: 'read', x: live[hrng.int(live.length)]!, d: dicts[hrng.int(dicts.length)]!, k: hrng.int(nk) };
    }
    emitted++;
    if (emitted === length) return { t: 'crash', mode: mode() };
    if (dicts.length === 0) return { t: 'create', d: 0 };
    const locked = m.lockedKeys();
    const freeKey = (d: number, except?: number): number | undefined => {
      const ks = [...Array(nk).keys()].filter((k) => !m.lockedKeys(except).has(`${d}:${k}`));
      return ks.length === 0 ? undefined : pick(ks);
    };
    const choices: Array<[number, () => Op | undefined]> = [];
    const add = (w: number, f: () => Op | undefined) => choices.push([w, f]);
    if (dicts.length < nd) add(2, () => ({ t: 'create', d: dicts.length }));
    const freeSlots = [...Array(ns).keys()].filter((x) => !m.slots.has(x));
    const liveSlots = [...m.slots.keys()];
    if (freeSlots.length > 0) {
      add(8, () => {
        const x = pick(freeSlots);
        if (!history) return { t: 'begin', x };
        if (hrng.chance(0.5)) return { t: 'begin', x, iso: 'snapshot' };
        return srng.chance(0.5) ? { t: 'begin', x, iso: 'serializable' } : { t: 'begin', x };
      });
    }
    if (liveSlots.length > 0) {
      add(20, () => {
        const x = pick(liveSlots);
        const d = pick(dicts);
        const k = freeKey(d, x);
        if (k === undefined) return undefined;
        const r = rng.int(8);
        return r < 5 ? { t: 'put', x, d, k, v: ++value } : r < 7 ? { t: 'del', x, d, k } : { t: 'update', x, d, k, n: 1 + rng.int(9) };
      });
      add(7, () => ({ t: 'commit', x: pick(liveSlots) }));
      add(3, () => ({ t: 'abort', x: pick(liveSlots) }));
      add(2, () => {
        const x = pick(liveSlots);
        return m.slots.get(x)!.writes.length > 0 ? { t: 'prepare', x } : undefined;
      });
    }
    if (m.prepared.size > 0) add(3, () => ({ t: 'resolve', commit: rng.chance(0.6) }));
    add(10, () => {
      const d = pick(dicts);
      const k = [...Array(nk).keys()].filter((kk) => !locked.has(`${d}:${kk}`));
      if (k.length === 0) return undefined;
      return rng.chance(0.8) ? { t: 'autoput', d, k: pick(k), v: ++value } : { t: 'autodel', d, k: pick(k) };
    });
    add(4, () => {
      const d = pick(dicts);
      const k = [...Array(nk).keys()].filter((kk) => !locked.has(`${d}:${kk}`));
      return k.length === 0 ? undefined : { t: 'autoupdate', d, k: pick(k), n: 1 + rng.int(9) };
    });
    add(4, () => ({ t: 'checkpoint' }));
    add(3, () => {
      const d = pick(dicts);
      const k = freeKey(d);
      return k === undefined ? undefined : { t: 'checkpoint-client', d, k, v: ++value };
    });
    add(3, () => ({ t: 'checkpoint-bg' }));
    add(2, () => ({ t: 'advance', ms: 20 + rng.int(100) }));
    add(3, () => ({ t: 'crash', mode: mode() }));
    add(3, () => ({ t: 'crash-at-io', n: 1 + rng.int(40) }));
    add(2, () => ({ t: 'crash-at-hook', hook: pick(CRASH_HOOK_NAMES) }));
    add(1, () => ({ t: 'reopen', mode: mode() }));
    const total = choices.reduce((a, c) => a + c[0], 0);
    for (;;) {
      let x = rng.int(total);
      for (const [w, f] of choices) {
        if (x < w) {
          const op = f();
          if (op !== undefined) return op;
          break;
        }
        x -= w;
      }
    }
  };
}
