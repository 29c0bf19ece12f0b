import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const opts = (storage: SimStorage, owner: string) => ({ storage, clock: new VirtualClock(), checkpointPeriodMs: 0, owner });

/** I/O calls a successful creation of /env makes (the same on every fresh disk: no jitter). */
async function creationIoCount(): Promise<number> {
  const disk = new SimStorage({ seed: 1 });
  const env = await Env.open('/env', opts(disk, 'probe'));
  const n = disk.ioOps();
  await env.close();
  return n;
}

/** After a failed creation: the next open (with space) works, keeps what it commits, and is published. */
async function expectUsable(disk: SimStorage, label: string): Promise<void> {
  // The same owner as the failed open: after a crash its lock file is its own to take over.
  const env = await Env.open('/env', opts(disk, 'first'));
  const d = await env.createDictionary('t');
  await env.put(d, enc('k'), enc(label));
  await env.close();
  const names = await disk.list('/env');
  expect(names, label).toContain('__tokusim_env_identity');
  expect(names, label).not.toContain('__tokusim_env_creating');
  const again = await Env.open('/env', opts(disk, 'first'));
  expect(dec((await (await again.openDictionary('t')).getCommitted(enc('k')))!), label).toBe(label);
  await again.close();
}

describe('environment creation is atomic under ENOSPC', () => {
  // Property: whichever I/O call of the creation finds the disk full (with the write taking
  // none or half of its bytes), the failed open reports ENOSPC, and the next open — with space
  // again, and also after a crash with every fault on — creates a working environment.
  it('Property: a disk that fills at any I/O of the creation never leaves an environment that cannot be opened', async () => {
    const n = await creationIoCount();
    expect(n).toBeGreaterThan(20);
    let failures = 0;
    for (let k = 1; k <= n; k++) {
      for (const fill of ['full', 'half'] as const) {
        for (const crash of [false, true]) {
          const label = `full at I/O ${k} (${fill}${crash ? ', then a crash' : ''})`;
          const disk = new SimStorage({ seed: k });
          const off = disk.onIo((ev) => {
            if (ev.seq === k) disk.setCapacity(disk.usedBytes() + (fill === 'half' ? Math.floor((ev.length ?? 0) / 2) : 0));
          });
          const err = await Env.open('/env', opts(disk, 'first')).then(
            async (env) => {
              await env.close().catch(() => undefined);
              return undefined;
            },
            (e: unknown) => e,
          );
          off();
          if (err !== undefined) {
            failures++;
            expect(err, label).toBeInstanceOf(TokusimError);
            expect((err as TokusimError).where.actual, `${label}: ${(err as Error).message}`).toBe('ENOSPC');
          }
          disk.setCapacity(undefined);
          if (crash) disk.crash({ seed: k });
          await expectUsable(disk, label);
        }
      }
    }
    // Most points are writes that grow the disk: the fault really fired.
    expect(failures).toBeGreaterThan(n);
  });
});
