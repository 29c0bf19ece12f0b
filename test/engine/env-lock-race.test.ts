import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { distBuilt, DIST_ENV, LockChild, writeChildScript, type Reply } from './lock-procs.js';

const RACERS = 3;
const TRIALS = 3;
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * Property: whenever RACERS processes open the same environment at the same moment (a fresh
 * directory, a closed environment, or one whose holder was SIGKILLed), no two of them hold it
 * at once, every one that does not get it is refused with a 'locked' error, every commit any
 * of them was told about survives, and the environment opens afterwards.
 */
describe('engine: the environment lock between processes', () => {
  let root: string;
  let script: string;
  let racers: LockChild[] = [];

  beforeAll(async () => {
    expect(distBuilt(), `${DIST_ENV} missing: run make build`).toBe(true);
    root = mkdtempSync(join(tmpdir(), 'tokusim-lock-race-'));
    script = writeChildScript(root);
    racers = Array.from({ length: RACERS }, () => new LockChild(script));
    for (const r of racers) expect((await r.next()).ready).toBe(true);
  });

  afterAll(async () => {
    for (const r of racers) await r.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Start every racer on dir at one moment; check mutual exclusion and return the acked keys. */
  async function race(dir: string, tag: string): Promise<{ acked: string[]; replies: Reply[] }> {
    const startAt = performance.timeOrigin + performance.now() + 150;
    racers.forEach((r, i) => r.send({ op: 'race', dir, startAt, keys: [0, 1, 2].map((k) => `${tag}-r${i}-${k}`) }));
    const replies = await Promise.all(racers.map((r) => r.next()));
    const held = replies.filter((r) => r.result === 'held');
    const others = replies.filter((r) => r.result !== 'held');
    expect(replies.filter((r) => r.result === 'error')).toEqual([]);
    expect(held.length).toBeGreaterThanOrEqual(1);
    for (const o of others) expect({ result: o.result, kind: o.kind }).toEqual({ result: 'refused', kind: 'locked' });
    // No two holders at once: each holder's [open returned, close began] lies inside the time
    // it held the lock, so two of them overlapping means two processes held it together.
    const spans = held.map((h) => [h.from!, h.to!] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThan(spans[i - 1]![1]);
    return { acked: held.flatMap((h) => h.acked!), replies };
  }

  async function rowsOf(dir: string): Promise<string[]> {
    const env = await Env.open(dir, { checkpointPeriodMs: 0 });
    try {
      const t = await env.openDictionary('t');
      return (await env.begin().range(t)).map((e) => dec(e.key));
    } finally {
      await env.close();
    }
  }

  // Scenario: the directory does not exist yet; every racer tries to create the environment.
  it('Scenario: racers creating the same new environment: one at a time, no acked commit lost', async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = join(root, `fresh-${trial}`);
      const { acked } = await race(dir, `f${trial}`);
      const rows = await rowsOf(dir);
      for (const k of acked) expect(rows).toContain(k);
    }
  });

  // Scenario: the environment exists and was closed cleanly; every racer opens it.
  it('Scenario: racers opening the same closed environment: one at a time, no acked commit lost', async () => {
    const dir = join(root, 'closed');
    const env = await Env.open(dir, { checkpointPeriodMs: 0 });
    await env.createDictionary('t');
    await env.close();
    const all: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      all.push(...(await race(dir, `c${trial}`)).acked);
      const rows = await rowsOf(dir);
      for (const k of all) expect(rows).toContain(k);
    }
  });

  // Scenario: a holder commits, is SIGKILLed (its lock stays behind, naming a dead pid), and the
  // racers all find the stale lock at once: exactly one takes it over at a time.
  it('Scenario: racers taking over the lock of a SIGKILLed holder: one at a time, no acked commit lost', async () => {
    const dir = join(root, 'stale');
    const all: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const holder = new LockChild(script);
      expect((await holder.next()).ready).toBe(true);
      holder.send({ op: 'hold', dir, keys: [`s${trial}-holder-0`, `s${trial}-holder-1`] });
      const h = await holder.next();
      expect(h.result).toBe('holding');
      all.push(...h.acked!);
      holder.proc.kill('SIGKILL');
      await holder.exited;
      all.push(...(await race(dir, `s${trial}`)).acked);
      const rows = await rowsOf(dir);
      for (const k of all) expect(rows).toContain(k);
    }
  });
});
