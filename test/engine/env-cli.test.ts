import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/engine/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { environmentStatus } from '../../tools/commands/status.js';
import { runRecover } from '../../tools/commands/recover.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('engine CLI: recover and status', () => {
  // Scenario: a process "crashes" with an open txn; `tokusim status` reports that recovery is needed, `tokusim recover` narrates the passes and aborts it, then status shows a clean shutdown.
  it('Scenario: status before and after recover on a crashed environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-cli-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'cli' });
      const d = await env.createDictionary('t');
      await env.put(d, enc('a'), enc('1'));
      const open = env.begin();
      await open.put(d, enc('b'), enc('2'));
      await env.put(d, enc('c'), enc('3'));
      env.abandon(); // the files stay as written: like a killed process
      const before = await environmentStatus(new NodeStorage(), dir);
      expect(before).toMatch(/next open runs recovery/);
      expect(before).toMatch(/lock: owner cli/);
      expect(before).toMatch(/tokudb.directory\s+slot \d in use/);
      expect(before).toMatch(/t_\d+\.tokudb\s+no valid header/); // created after the last checkpoint
      // The lock names a live pid (ours) with a valid lease, so recovery by another owner is refused...
      await expect(runRecover(dir, () => undefined, () => undefined, false)).rejects.toThrow(/locked by owner cli/);
      // ...until the owner's lock is gone (a restart of the same owner takes it over).
      rmSync(join(dir, '__tokusim_env_lock'));
      const err: string[] = [];
      const out: string[] = [];
      await runRecover(dir, (s) => err.push(s), (s) => out.push(s), false);
      const narration = err.join('');
      expect(narration).toMatch(/scanning backward from \d+/);
      expect(narration).toMatch(/turning around at begin checkpoint \d+/);
      expect(narration).toMatch(/scanning forward/);
      expect(narration).toMatch(new RegExp(`aborted transaction ${open.id}`));
      expect(out.join('')).toMatch(/1 transaction\(s\) aborted, 0 kept prepared/);
      const after = await environmentStatus(new NodeStorage(), dir);
      expect(after).toMatch(/clean shutdown: no recovery needed/);
      const again: string[] = [];
      await runRecover(dir, () => undefined, (s) => again.push(s), false);
      expect(again.join('')).toMatch(/no recovery needed/);
      const env2 = await Env.open(dir, { checkpointPeriodMs: 0 });
      const rows = await env2.begin().range(await env2.openDictionary('t'));
      expect(rows.map((r) => new TextDecoder().decode(r.key))).toEqual(['a', 'c']);
      await env2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
