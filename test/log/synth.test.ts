import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../src/format/codec.js';
import { printLog } from '../../src/format/printer.js';
import { LOG_RECORD_TYPES, type LogRecord } from '../../src/format/record-types.js';
import { LogCursor } from '../../src/log/cursor.js';
import { synthesizeLog } from '../../src/log/synth.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { tempDir } from './helpers.js';

const storage = new NodeStorage();

describe('synthetic logs', () => {
  // Scenario: synth-log output must be a log the real tokuft_logprint could read.
  it('Scenario: a small synthetic log covers all 27 types, rolls over, and every entry re-encodes to its own bytes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await synthesizeLog({ storage, dir, targetBytes: 400_000, valueBytes: 200, seed: 7, lgMax: 64 << 10 });
      for (const t of LOG_RECORD_TYPES) expect(r.counts[t.name] ?? 0, t.name).toBeGreaterThan(0);
      const names = readdirSync(dir).sort();
      expect(names.length).toBeGreaterThan(4);
      expect(names.length).toBe(r.files.length);

      const c = await LogCursor.open(storage, dir);
      const seen = new Map<string, number>();
      const perFile = new Map<string, number>();
      let n = 0;
      let openCheckpoint: { begin: bigint; f: number; s: number } | undefined;
      for (let e = await c.next(); e !== undefined; e = await c.next()) {
        n++;
        const rec: LogRecord = e.record;
        seen.set(rec.type, (seen.get(rec.type) ?? 0) + 1);
        perFile.set(e.file, (perFile.get(e.file) ?? 0) + 1);
        expect(Buffer.from(encodeRecord(rec)).equals(Buffer.from(e.bytes))).toBe(true);
        // Checkpoint records: begin, fassociate*, xstillopen*, end with matching counts.
        if (rec.type === 'begin_checkpoint') openCheckpoint = { begin: rec.lsn, f: 0, s: 0 };
        else if (rec.type === 'fassociate') openCheckpoint!.f++;
        else if (rec.type === 'xstillopen' || rec.type === 'xstillopenprepared') openCheckpoint!.s++;
        else if (rec.type === 'end_checkpoint') {
          expect(rec.lsn_begin_checkpoint).toBe(openCheckpoint!.begin);
          expect(rec.num_fassociate_entries).toBe(openCheckpoint!.f);
          expect(rec.num_xstillopen_entries).toBe(openCheckpoint!.s);
          openCheckpoint = undefined;
        }
      }
      await c.close();
      expect(n).toBe(r.records);
      expect(BigInt(n)).toBe(r.lastLsn);
      expect(Object.fromEntries(seen)).toEqual(r.counts);

      // The tdb-logprint core prints every file to the end with exit 0 and one line per entry.
      for (const name of names) {
        const { stdout, result } = printLog(readFileSync(join(dir, name)));
        expect(result.exitCode, name).toBe(0);
        expect(result.records).toBe(perFile.get(join(dir, name)) ?? 0);
        const text = Buffer.from(stdout).toString('latin1');
        expect(text.startsWith('tokulog v.29\n')).toBe(true);
        expect(text.split('\n').length - 2).toBe(result.records);
      }
    } finally {
      cleanup();
    }
  });

  it('Scenario: the same seed gives byte-identical files and another seed does not', async () => {
    const a = tempDir();
    const b = tempDir();
    const c = tempDir();
    try {
      const opts = { storage, targetBytes: 100_000, valueBytes: 50, lgMax: 32 << 10 };
      await synthesizeLog({ ...opts, dir: a.dir, seed: 3 });
      await synthesizeLog({ ...opts, dir: b.dir, seed: 3 });
      await synthesizeLog({ ...opts, dir: c.dir, seed: 4 });
      const names = readdirSync(a.dir).sort();
      expect(readdirSync(b.dir).sort()).toEqual(names);
      for (const n of names) expect(readFileSync(join(a.dir, n)).equals(readFileSync(join(b.dir, n)))).toBe(true);
      expect(readFileSync(join(a.dir, names[0]!)).equals(readFileSync(join(c.dir, names[0]!)))).toBe(false);
    } finally {
      a.cleanup();
      b.cleanup();
      c.cleanup();
    }
  });
});
