/**
 * The environment with a preallocating log (EnvOptions.logPreallocate): a crash leaves a zero
 * tail after the last durable commit; reopening recovers every durable commit, `tokusim
 * logprint` reads the crashed directory without error, and a clean close leaves no zeros.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { scanLogFile } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { SimStorage } from '../../src/storage/sim-storage.js';
import { runLogprint } from '../../tools/commands/logprint.js';
import { tempDir } from '../log/helpers.js';
import { dumpDictionary, enc, logRecords, simHarness } from './helpers.js';

/** Copy the simulated log files of /env into a real directory (for the CLI, which reads real files). */
async function copyLogsOut(storage: SimStorage, to: string): Promise<number> {
  mkdirSync(to, { recursive: true });
  let zeroTail = 0;
  for (const f of await findLogFiles(storage, '/env')) {
    const h = await storage.open(f.path, 'read');
    const buf = new Uint8Array(await h.size());
    let got = 0;
    while (got < buf.length) {
      const n = await h.pread(buf.subarray(got), got);
      if (n === 0) break;
      got += n;
    }
    await h.close();
    writeFileSync(join(to, f.path.slice(f.path.lastIndexOf('/') + 1)), buf.subarray(0, got));
    zeroTail += (await scanLogFile(storage, f.path)).zeroTail;
  }
  return zeroTail;
}

describe('engine: preallocated log', () => {
  // Scenario: a client commits 30 rows durably with a preallocating log, and the machine crashes.
  it('Scenario: after a crash with a preallocated tail, logprint prints every record (exit 0) and reopening recovers every commit', async () => {
    const tmp = tempDir('tokusim-prealloc-');
    try {
      let sawZeroTail = 0;
      for (const seed of [3, 4, 5, 6]) {
        const h = simHarness('sync', seed);
        const env = await h.open({ logPreallocate: 8192 });
        const d = await env.createDictionary('t');
        const want: Record<string, string> = {};
        for (let i = 0; i < 30; i++) {
          await env.put(d, enc(`k${i}`), enc(`v${i}`));
          want[`k${i}`] = `v${i}`;
        }
        env.abandon();
        h.storage.crash({ mode: 'faults' });

        const out = join(tmp.dir, `seed${seed}`);
        sawZeroTail += await copyLogsOut(h.storage, out);
        const records = await logRecords(h.storage);
        let text = '';
        const code = await runLogprint({ paths: [out] }, { write: (t) => { text += typeof t === 'string' ? t : Buffer.from(t).toString('latin1'); } });
        expect(code).toBe(0);
        const printedLsns = [...text.matchAll(/ lsn=(\d+) /g)].map((m) => BigInt(m[1]!));
        expect(printedLsns).toEqual(records.map((r) => r.lsn));
        expect(records.filter((r) => r.type === 'xcommit').length).toBeGreaterThanOrEqual(30);

        const env2 = await h.open({ logPreallocate: 8192 });
        expect(await dumpDictionary(env2, 't')).toEqual(want);
        await env2.close();
        // After recovery and a clean close, no log file keeps zeros after its last entry.
        for (const f of await findLogFiles(h.storage, '/env')) {
          const scan = await scanLogFile(h.storage, f.path);
          expect(scan.problem).toBeUndefined();
          expect(scan.goodEnd).toBe(scan.size);
        }
      }
      expect(sawZeroTail).toBeGreaterThan(0);
    } finally {
      tmp.cleanup();
    }
  });

  // Scenario: on real storage, 'sync' mode preallocates by default; close cuts the zeros.
  it('Scenario: with NodeStorage the log grows ahead of its entries while open and ends at its last entry after close', async () => {
    const tmp = tempDir('tokusim-prealloc-node-');
    try {
      const env = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't' });
      const d = await env.createDictionary('t');
      for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
      const storage = new NodeStorage();
      const newest = (await findLogFiles(storage, tmp.dir)).at(-1)!.path;
      const open = await scanLogFile(storage, newest);
      expect(open.problem).toBeUndefined();
      expect(open.zeroTail).toBeGreaterThan(0);
      expect(env.status().log!.stats.bytesPreallocated).toBeGreaterThan(0);
      await env.close();
      const closed = await scanLogFile(storage, newest);
      expect(closed.zeroTail).toBe(0);
      expect(closed.goodEnd).toBe(closed.size);
      expect(closed.size).toBeGreaterThanOrEqual(open.goodEnd);
      await storage.close();
    } finally {
      tmp.cleanup();
    }
  });
});
