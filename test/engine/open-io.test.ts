import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage, type IoEvent } from '../../src/storage/sim-storage.js';

const enc = new TextEncoder();

/**
 * What an open after a crash reads, call by call: the crash harness runs one such open per
 * crash state, so reading a file twice where once does is a cost paid hundreds of thousands of
 * times. The bytes read and what recovery does are covered by the recovery tests; this pins
 * the number of reads.
 */
describe('engine: the I/O calls of an open with recovery', () => {
  it('Scenario: the newest log file is opened once, and each dictionary header is one read', async () => {
    const storage = new SimStorage({ seed: 4 });
    const clock = new VirtualClock();
    const opts = { storage, clock, checkpointPeriodMs: 0, owner: 'x', durability: 'sync' as const };
    const env = await Env.open('/env', opts);
    const d = await env.createDictionary('t');
    await env.put(d, enc.encode('a'), enc.encode('1'));
    await env.checkpoint();
    await env.put(d, enc.encode('b'), enc.encode('2'));
    env.abandon();
    storage.crash({ mode: 'keep-all' });
    const newestLog = (await storage.list('/env')).filter((n) => n.startsWith('log')).sort().pop()!;

    const ops: IoEvent[] = [];
    const stop = storage.onIo((ev) => ops.push(ev));
    const again = await Env.open('/env', opts);
    stop();
    expect(again.recoveryReport).not.toBeNull();
    expect(again.recoveryReport!.commitsApplied).toBeGreaterThan(0);

    const logOpens = ops.filter((e) => e.op === 'open' && e.path === `/env/${newestLog}`);
    expect(logOpens.length).toBe(1);
    // Every read at offset 0 of a dictionary file takes both header slots at once.
    const headerReads = ops.filter((e) => e.op === 'pread' && e.offset === 0 && /(\.tokudb|tokudb\.[a-z]+)$/.test(e.path));
    expect(headerReads.length).toBeGreaterThan(0);
    for (const e of headerReads) expect(e.length).toBe(8192);
    expect(ops.filter((e) => e.op === 'pread' && e.offset === 4096 && /(\.tokudb|tokudb\.[a-z]+)$/.test(e.path))).toEqual([]);
    // One size per dictionary file opened: never two size calls on one file without a write between.
    let lastSized = '';
    for (const e of ops) {
      if (e.op === 'size' && /(\.tokudb|tokudb\.[a-z]+)$/.test(e.path)) {
        expect(e.path, 'asked twice for its size').not.toBe(lastSized);
        lastSized = e.path;
      } else if (e.op !== 'size') lastSized = e.op === 'pread' ? lastSized : '';
    }
    await again.close();
  });
});
