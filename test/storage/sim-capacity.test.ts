import { describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

async function enospc(p: Promise<unknown>): Promise<void> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TokusimError);
  expect((e as TokusimError).where.actual).toBe('ENOSPC');
}

describe('SimStorage capacity (ENOSPC)', () => {
  // Scenario: a write that does not fit writes the bytes that fit and fails with ENOSPC; new
  // files fail on a full disk; a truncate that grows a file is sparse and takes no space;
  // overwrites, shrinking and unlink still work, and removing the limit lets writes through.
  it('Scenario: a full disk takes the part that fits, then refuses growth but not overwrites', async () => {
    const disk = new SimStorage();
    await disk.mkdir('/d');
    const f = await disk.open('/d/a', 'create');
    await f.pwrite(new Uint8Array(100).fill(1), 0);
    disk.setCapacity(150);
    await enospc(f.pwrite(new Uint8Array(80).fill(2), 100));
    expect(await f.size()).toBe(150);
    expect(disk.fileBytes('/d/a')!.subarray(100)).toEqual(new Uint8Array(50).fill(2));
    await f.truncate(400); // sparse: no space taken past the bytes written
    expect(disk.usedBytes()).toBe(150);
    await enospc(f.pwrite(new Uint8Array(1).fill(4), 300));
    await f.truncate(150);
    await enospc(disk.open('/d/b', 'create'));
    await f.pwrite(new Uint8Array(10).fill(3), 0); // overwrite: no growth
    await f.truncate(40);
    expect(disk.usedBytes()).toBe(40);
    await (await disk.open('/d/b', 'create')).close();
    disk.setCapacity(undefined);
    await f.pwrite(new Uint8Array(1000), 40);
    expect(await f.size()).toBe(1040);
    disk.checkInvariants();
  });
});
