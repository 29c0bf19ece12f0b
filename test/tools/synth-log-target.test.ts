import { describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { runSynthLog } from '../../tools/commands/synth-log.js';
import { rejection } from '../support/rejection.js';

const opts = (out: string) => ({ out, sizeMb: 0.05, valueBytes: 100, seed: 1, lgMaxMb: 1 });

describe('synth-log writes only where it may', () => {
  // Scenario: synth-log into a directory that already holds anything (a user's files, a data
  // directory without log files) is refused with a usage error naming it, and not one file or
  // byte is added; a missing or empty directory is written as before.
  it('Scenario: a non-empty directory is refused unchanged; a missing or empty one is written', async () => {
    const storage = new SimStorage({ seed: 1 });
    await storage.mkdir('/data');
    const f = await storage.open('/data/ibdata1', 'create');
    await f.pwrite(new Uint8Array([1, 2, 3]), 0);
    await f.close();
    const err = await rejection(runSynthLog(opts('/data'), storage));
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('bad-argument');
    expect((err as TokusimError).message).toMatch(/\/data is not empty \(1 entry\); choose a new or empty directory \(nothing was written\)/);
    expect(await storage.list('/data')).toEqual(['ibdata1']);
    expect(storage.fileBytes('/data/ibdata1')).toEqual(new Uint8Array([1, 2, 3]));

    await storage.mkdir('/empty');
    const a = await runSynthLog(opts('/empty'), storage);
    const b = await runSynthLog(opts('/new/logs'), storage);
    expect(a.records).toBeGreaterThan(0);
    expect(b.records).toBe(a.records);
    expect((await storage.list('/empty')).some((n) => n.endsWith('.tokulog29'))).toBe(true);
  });
});
