import { describe, expect, it } from 'vitest';
import { REPO_MARKER, LocalStore } from '../../src/backup/store.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { tokusimRejection } from '../support/rejection.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function snapshot(sim: SimStorage, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of await sim.list(dir)) {
    const f = await sim.open(`${dir}/${n}`, 'read');
    const b = new Uint8Array(await f.size());
    await f.pread(b, 0);
    await f.close();
    out[n] = new TextDecoder().decode(b);
  }
  return out;
}

describe('a local backup repository writes only where it owns the directory', () => {
  // Scenario: `backup push --to DIR` or `log archive --to DIR` naming a directory that holds other files.
  it('Scenario: a non-empty directory without the repository marker is refused and left as it was', async () => {
    const sim = new SimStorage();
    await sim.mkdir('/data');
    const f = await sim.open('/data/mine.txt', 'create');
    await f.pwrite(bytes('keep me'), 0);
    await f.close();
    const before = await snapshot(sim, '/data');
    const store = new LocalStore(sim, '/data');
    const err = await tokusimRejection(store.put('basebackups/x', bytes('y')));
    expect(err.kind).toBe('dest-not-empty');
    expect(err.message).toContain('not a tokusim backup repository');
    await tokusimRejection(store.putAtomic('locks/l', bytes('y')));
    expect(await snapshot(sim, '/data')).toEqual(before);
  });

  it('Scenario: a missing or empty directory becomes a repository (marker first), and a marked one is reused', async () => {
    const sim = new SimStorage();
    const store = new LocalStore(sim, '/repo');
    await store.putAtomic('basebackups/a', bytes('1'));
    expect(await sim.list('/repo')).toEqual(['basebackups', REPO_MARKER]);
    const again = new LocalStore(sim, '/repo');
    await again.putAtomic('basebackups/b', bytes('2'));
    expect(await again.list('basebackups')).toEqual(['a', 'b']);
    await sim.mkdir('/empty');
    await new LocalStore(sim, '/empty').put('k', bytes('v'));
    expect(await sim.list('/empty')).toEqual(['k', REPO_MARKER]);
  });
});
