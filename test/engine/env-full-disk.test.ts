/**
 * Recovery on a nearly full disk (SimStorage with a capacity): an environment that ran in
 * 'sync' mode until the disk was full reopens once a little space is freed, and a torn tail it
 * cannot save is reported without cutting anything.
 */
import { describe, expect, it } from 'vitest';
import { Env, type EnvOptions } from '../../src/engine/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { findLogFiles } from '../../src/log/names.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { dec, enc } from './helpers.js';

const MiB = 1 << 20;

function harness(seed: number, capacity: number) {
  const storage = new SimStorage({ seed, capacity });
  // As on real storage in 'sync' mode: 4 MiB of preallocated log zeros.
  const open = (o: Partial<EnvOptions> = {}) =>
    Env.open('/env', { storage, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'full', logPreallocate: 4 * MiB, ...o });
  return { storage, open };
}

const value = (i: number, size: number) => new Uint8Array(size).fill(i % 251);

/** Commit rows until the disk is full (a put rejects with ENOSPC); returns the acknowledged keys. */
async function fillDisk(env: Env, size: number): Promise<string[]> {
  const d = await env.createDictionary('t');
  const acked: string[] = [];
  for (let i = 0; ; i++) {
    const key = `k${String(i).padStart(5, '0')}`;
    try {
      await env.put(d, enc(key), value(i, size));
      if (i % 16 === 15) await env.checkpoint();
    } catch (err) {
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as Error).message).toMatch(/ENOSPC/);
      return acked;
    }
    // A put that was acknowledged is durable; one whose checkpoint failed after it still is.
    acked.push(key);
    expect(i).toBeLessThan(10_000);
  }
}

async function keysOf(env: Env): Promise<string[]> {
  const d = await env.openDictionary('t');
  return (await env.begin().range(d)).map((e) => dec(e.key)!);
}

describe('engine: recovery on a nearly full disk', () => {
  // Scenario: a 'sync' environment fills a 12 MiB disk until a commit fails with ENOSPC, the
  // process stops (with or without a machine crash), then 1, 2, 3 or 4 MiB are freed in place:
  // the environment opens with its 4 MiB log preallocation (which takes only what fits), every
  // acknowledged commit is there, and it takes new commits.
  for (const freed of [1, 2, 3, 4]) {
    for (const crash of [false, true]) {
      it(`Scenario: ${freed} MiB freed after the disk filled${crash ? ', then a machine crash' : ''}`, async () => {
        const h = harness(20 + freed, 12 * MiB);
        // Filled without log preallocation, so no zero tail is left to give back: the disk is
        // as full as one filled by anything else. The reopen preallocates (4 MiB) as usual.
        const env = await h.open({ logPreallocate: 0 });
        const acked = await fillDisk(env, 24 << 10);
        expect(acked.length).toBeGreaterThan(16);
        await env.close(); // a failed environment closes without writing
        if (crash) h.storage.crash({ mode: 'faults' });
        h.storage.setCapacity(h.storage.usedBytes() + freed * MiB);
        const env2 = await h.open();
        const keys = await keysOf(env2);
        expect(keys.slice(0, acked.length)).toEqual(acked);
        expect(keys.length - acked.length).toBeLessThanOrEqual(1); // the failed commit is in doubt
        await env2.put(await env2.openDictionary('t'), enc('after'), enc('1'));
        await env2.close();
        const env3 = await h.open();
        expect(await env3.get(await env3.openDictionary('t'), enc('after'))).toEqual(enc('1'));
        await env3.close();
      });
    }
  }

  // Scenario: a commit's log write was cut short by a full disk, leaving a 300 KiB torn tail.
  // With only 64 KiB freed, recovery cannot save that tail to its `.cut-` file: opening fails
  // with one io error that says so, the log is byte for byte as it was and no `.cut-` file is
  // left. Once 2 MiB are free, the same open recovers (saving the tail) with every commit.
  it('Scenario: the torn tail cannot be saved: a clear error and nothing cut, then recovery once there is room', async () => {
    const h = harness(7, 64 * MiB);
    const env = await h.open({ logPreallocate: 0 });
    const d = await env.createDictionary('t');
    const acked: string[] = [];
    for (let i = 0; i < 8; i++) {
      await env.put(d, enc(`k${i}`), value(i, 4096));
      acked.push(`k${i}`);
    }
    h.storage.setCapacity(h.storage.usedBytes() + 300 * 1024);
    const err = await env.put(d, enc('big'), value(9, 512 * 1024)).then(() => undefined, (e: unknown) => e);
    expect(ioErrorCode((err as TokusimError).cause) || (err as Error).message).toMatch(/ENOSPC/);
    env.abandon();

    const logs = (await findLogFiles(h.storage, '/env')).map((f) => f.path);
    const before = logs.map((p) => h.storage.fileBytes(p));
    h.storage.setCapacity(h.storage.usedBytes() + 64 * 1024);
    const failed = await h.open().then(
      async (e) => {
        await e.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(TokusimError);
    expect((failed as TokusimError).kind).toBe('io');
    expect((failed as Error).message).toMatch(/cannot save the \d+-byte torn tail of the log to .*\.cut-\d+ .*ENOSPC.*nothing was cut/);
    expect((failed as TokusimError).where.actual).toBe('ENOSPC');
    expect(logs.map((p) => h.storage.fileBytes(p))).toEqual(before);
    expect((await h.storage.list('/env')).filter((n) => n.includes('.cut-'))).toEqual([]);

    h.storage.setCapacity(h.storage.usedBytes() + 2 * MiB);
    const env2 = await h.open();
    expect(env2.recoveryReport?.repaired?.savedTo).toMatch(/\.cut-\d+$/);
    expect(await keysOf(env2)).toEqual(acked);
    await env2.close();
  });
});
