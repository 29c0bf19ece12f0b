import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { TokusimError } from '../../src/base/errors.js';

describe('Env.open on damage it cannot repair', () => {
  // Scenario: the newest log file is not a log at all (its header is garbage). Opening must
  // fail with one clear error, change no byte of the file, and leave no lock file behind.
  it('Scenario: a garbage log file fails the open cleanly, untouched, and the lock is released', async () => {
    const storage = new SimStorage({ seed: 5 });
    const clock = new VirtualClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a' });
    const d = await env.createDictionary('t');
    await env.put(d, new TextEncoder().encode('k'), new TextEncoder().encode('v'));
    await env.close();
    const names = await storage.list('/env');
    const newest = names.filter((n) => n.endsWith('.tokulog29')).sort().pop()!;
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 3) & 0xff);
    storage.installFile(`/env/${newest}`, garbage);

    const err = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'b' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as Error).message).toMatch(/file header is damaged, not torn/);
    expect([...storage.fileBytes(`/env/${newest}`)!]).toEqual([...garbage]);
    expect((await storage.list('/env')).filter((n) => n.includes('lock'))).toEqual([]);
  });
});
