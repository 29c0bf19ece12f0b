import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { EnvLockedError } from '../../src/engine/env-lock.js';
import { distBuilt, DIST_ENV, LockChild, writeChildScript } from './lock-procs.js';

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('engine: a paused lock holder', () => {
  // Scenario: a holder (lease 4 s) is stopped with SIGSTOP for longer than its lease. While it
  // is stopped another opener on the same host is refused (its pid is alive, with the same start
  // time). When it resumes, its lease has lapsed: its next commit fails with a 'locked' error and
  // nothing more is written; its close releases the lock, and the environment then opens with
  // exactly the commits it acknowledged.
  it('Scenario: SIGSTOP past the lease: the second opener is refused, the resumed holder is fenced', async () => {
    expect(distBuilt(), `${DIST_ENV} missing: run make build`).toBe(true);
    const root = mkdtempSync(join(tmpdir(), 'tokusim-lock-pause-'));
    const holder = new LockChild(writeChildScript(root));
    try {
      const dir = join(root, 'env');
      expect((await holder.next()).ready).toBe(true);
      holder.send({ op: 'hold', dir, keys: ['before-0', 'before-1'], leaseMs: 4000 });
      const h = await holder.next();
      expect(h).toEqual({ result: 'holding', acked: ['before-0', 'before-1'] });

      process.kill(holder.pid, 'SIGSTOP');
      let resumed = false;
      try {
        await new Promise((r) => setTimeout(r, 5000)); // past the lease written in the lock file
        const err = await Env.open(dir, { checkpointPeriodMs: 0 }).then(
          async (env) => {
            await env.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(EnvLockedError);
        expect((err as EnvLockedError).holder.pid).toBe(holder.pid);
      } finally {
        process.kill(holder.pid, 'SIGCONT');
        resumed = true;
      }
      expect(resumed).toBe(true);

      holder.send({ op: 'commit', keys: ['after-0'] });
      const after = await holder.next();
      expect(after.result).toBe('failed');
      expect(after.kind).toBe('locked');
      expect(after.message).toMatch(/environment lock lost: its lease lapsed/);
      expect(await holder.exited).toBe(0);

      const env = await Env.open(dir, { checkpointPeriodMs: 0 });
      try {
        const rows = (await env.begin().range(await env.openDictionary('t'))).map((e) => dec(e.key));
        expect(rows).toEqual(['before-0', 'before-1']);
      } finally {
        await env.close();
      }
    } finally {
      await holder.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
