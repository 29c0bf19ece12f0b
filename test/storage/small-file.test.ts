import { describe, expect, it } from 'vitest';
import { readSmallFile } from '../../src/storage/small-file.js';
import { SimStorage, type IoEvent } from '../../src/storage/sim-storage.js';

/** A file of n bytes (a repeating pattern) on a fresh disk, opened for reading, with the I/O calls made on it. */
async function fileOf(n: number) {
  const disk = new SimStorage({ seed: 3 });
  await disk.mkdir('/d');
  const data = new Uint8Array(n).map((_, i) => (i * 7 + 1) & 0xff);
  const w = await disk.open('/d/f', 'create');
  await w.pwrite(data, 0);
  await w.close();
  const f = await disk.open('/d/f', 'read');
  const ops: string[] = [];
  disk.onIo((ev: IoEvent) => ops.push(ev.op));
  return { f, data, ops };
}

describe('storage: readSmallFile reads a small file whole', () => {
  it.each([0, 45, 511, 512, 513, 3000, 4096])('Scenario: a file of %i bytes (limit 4096) comes back byte for byte', async (n) => {
    const { f, data, ops } = await fileOf(n);
    const r = await readSmallFile(f, 4096);
    expect('bytes' in r).toBe(true);
    if ('bytes' in r) expect(r.bytes).toEqual(data);
    // A file shorter than the first read costs one call; one that fills it is asked its size.
    expect(ops).toEqual(n < 512 ? ['pread'] : n === 512 ? ['pread', 'size'] : ['pread', 'size', 'pread']);
  });

  it('Scenario: a file over the limit reports its size and is not read further', async () => {
    const { f, ops } = await fileOf(5000);
    expect(await readSmallFile(f, 4096)).toEqual({ tooLarge: 5000 });
    expect(ops).toEqual(['pread', 'size']);
  });

  it('Scenario: a limit below the first read still tells a file one byte over it', async () => {
    const { f } = await fileOf(101);
    expect(await readSmallFile(f, 100)).toEqual({ tooLarge: 101 });
    const small = await fileOf(100);
    const r = await readSmallFile(small.f, 100);
    expect('bytes' in r && r.bytes.length).toBe(100);
  });
});
