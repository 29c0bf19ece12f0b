import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { x1764 } from '../../src/format/x1764.js';
import { exitCodeFor } from '../../tools/cli-support.js';
import { runRecover } from '../../tools/commands/recover.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('a blocknum named by the file that has no block', () => {
  // Scenario: a crashed environment's dictionary header names a root blocknum outside its
  // translation table (checksum re-computed, both slots); recovery replays into that
  // dictionary and must report corrupt input naming the file, not fail an invariant (exit 1).
  it('Scenario: recover on a dictionary whose root_blocknum is 2^31-1 exits 3 naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-hostile-root-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0, logPreallocate: 0, owner: 'root' });
      const d = await env.createDictionary('t');
      for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
      await env.checkpoint();
      await env.put(d, enc('after'), enc('checkpoint'));
      env.abandon();
      rmSync(join(dir, '__tokusim_env_lock'));
      const name = readdirSync(dir).find((f) => f.endsWith('.tokudb') && !f.startsWith('tokudb.'))!;
      const path = join(dir, name);
      const b = new Uint8Array(readFileSync(path));
      const dv = new DataView(b.buffer);
      for (const off of [0, 4096]) {
        if (new TextDecoder().decode(b.subarray(off, off + 8)) !== 'tokudata') continue;
        dv.setUint32(off + 64, 0, true);
        dv.setUint32(off + 68, 0x7fffffff, true);
        dv.setUint32(off + 193, x1764(b, off, off + 193), true);
      }
      writeFileSync(path, b);
      const err = await runRecover(dir, () => undefined, () => undefined, false).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('bad-btt');
      expect(exitCodeFor(err)).toBe(3);
      expect((err as TokusimError).message).toContain(`${path}: blocknum 2147483647 named by the file has no block on disk`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
