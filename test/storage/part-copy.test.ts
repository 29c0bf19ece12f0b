import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { segmentedSha256 } from '../../src/backup/hash.js';
import { TokusimError } from '../../src/base/errors.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'tokusim-part-copy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('storage: part copies on worker threads (capabilities.partCopy)', () => {
  it('Scenario: only NodeStorage offers part copies; SimStorage keeps every write on its schedule', () => {
    expect(new NodeStorage().capabilities.partCopy).not.toBeNull();
    expect(new SimStorage({ seed: 1 }).capabilities.partCopy).toBeNull();
  });

  // Scenario: a region copied by a worker holds exactly the source's bytes, and its digest and segments are segmentedSha256's of those bytes.
  it('Scenario: copied bytes, digest and segments match the main thread', async () => {
    const src = join(dir, 'src.bin');
    const data = bytes(300_000, 7);
    writeFileSync(src, data);
    const cuts = [0, 1000, 50_000, 50_001, 99_999, 120_000, 200_000, 260_000, 300_000];
    const copier = new NodeStorage().capabilities.partCopy!(2);
    try {
      const regions: Array<[number, number]> = [[0, 100_000], [100_000, 100_000], [200_000, 100_000], [250_000, 7]];
      const results = await Promise.all(regions.map(([at, n], i) => copier.copy(src, at, n, join(dir, `out${i}`), cuts)));
      for (let i = 0; i < regions.length; i++) {
        const [at, n] = regions[i]!;
        const want = data.subarray(at, at + n);
        const segs: Array<[number, number, string]> = [];
        const sha = segmentedSha256(want, at, cuts, (s, e, d) => segs.push([s, e, d.toString('hex')]));
        expect(new Uint8Array(readFileSync(join(dir, `out${i}`)))).toEqual(want);
        expect(results[i]!.length).toBe(n);
        expect(results[i]!.sha256).toBe(sha);
        expect(results[i]!.segments).toEqual(segs);
      }
      copier.done(src);
    } finally {
      await copier.close();
    }
  });

  it('Scenario: a region past the end of the source copies what is there and says how much', async () => {
    const src = join(dir, 'short.bin');
    const data = bytes(5000, 9);
    writeFileSync(src, data);
    const copier = new NodeStorage().capabilities.partCopy!(1);
    try {
      const r = await copier.copy(src, 4000, 4096, join(dir, 'short.out'), [4500, 6000]);
      expect(r.length).toBe(1000);
      expect(r.sha256).toBe(segmentedSha256(data.subarray(4000), 4000, [4500, 6000]));
      expect(r.segments.map(([s, e]) => [s, e])).toEqual([[4000, 4500], [4500, 5000]]);
      expect(new Uint8Array(readFileSync(join(dir, 'short.out')))).toEqual(data.subarray(4000));
    } finally {
      await copier.close();
    }
  });

  it('Scenario: a missing source is one io error naming the path and code', async () => {
    const copier = new NodeStorage().capabilities.partCopy!(1);
    try {
      const missing = join(dir, 'no-such-file');
      const err: unknown = await copier.copy(missing, 0, 10, join(dir, 'never'), []).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokusimError);
      expect(ioErrorCode(err)).toBe('ENOENT');
      expect((err as TokusimError).where.file).toBe(missing);
    } finally {
      await copier.close();
    }
  });
});
