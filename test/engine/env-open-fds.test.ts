import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { rejection } from '../support/rejection.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('engine: a failed open leaves nothing open', () => {
  // Scenario: an environment whose tokudb.directory lost both header slots fails to open with a
  // corrupt-input error; every file the failed open had opened (log, rollback, environment
  // dictionary) is closed again, so nothing is left to the garbage collector, and the lock is
  // released (a second open fails the same way instead of being refused as locked).
  it('Scenario: a corrupt dictionary file fails the open and closes every file it opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-open-fds-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0 });
      await env.createDictionary('t');
      await env.close();
      writeFileSync(join(dir, 'tokudb.directory'), new Uint8Array(16384)); // both header slots gone
      const before = openFds();
      for (let i = 0; i < 2; i++) {
        const err = await rejection(Env.open(dir, { checkpointPeriodMs: 0 }));
        expect(err).toBeInstanceOf(TokusimError);
        expect((err as TokusimError).kind).not.toBe('locked');
        expect((err as TokusimError).kind).not.toBe('invariant');
      }
      expect(openFds()).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
