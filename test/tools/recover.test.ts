import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { LogCursor } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { runRecover } from '../../tools/commands/recover.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('tools: tokusim recover narrates the log repair', () => {
  // Scenario: a crashed environment whose newest log file has a damaged entry followed by
  // whole-looking ones; `tokusim recover` names the cut offset, the bytes cut, the discarded
  // entries with their LSNs and the last good LSN, both in the narration and the summary.
  it('Scenario: recover prints offset, bytes cut, discarded entries and the last good LSN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-recover-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'rec' });
      const d = await env.createDictionary('t');
      for (let i = 0; i < 6; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
      env.abandon();
      rmSync(join(dir, '__tokusim_env_lock'));
      const storage = new NodeStorage();
      const files = await findLogFiles(storage, dir);
      const newest = files[files.length - 1]!.path;
      const c = new LogCursor(storage, files.map((f) => f.path));
      const entries: Array<{ lsn: bigint; offset: number; length: number; file: string }> = [];
      try {
        for (let e = await c.next(); e !== undefined; e = await c.next()) entries.push({ lsn: e.record.lsn, offset: e.offset, length: e.length, file: e.file });
      } finally {
        await c.close();
      }
      const inNewest = entries.filter((e) => e.file === newest);
      expect(inNewest.length).toBeGreaterThan(4);
      // Damage the fourth-from-last entry: three whole entries follow it.
      const victim = inNewest[inNewest.length - 4]!;
      const bytes = readFileSync(newest);
      const sizeBefore = bytes.length;
      bytes[victim.offset + 8]! ^= 0xff;
      writeFileSync(newest, bytes);

      const err: string[] = [];
      const out: string[] = [];
      await runRecover(dir, (s) => err.push(s), (s) => out.push(s), false);
      const narration = err.join('');
      const lastGood = inNewest[inNewest.length - 5]!.lsn;
      const discarded = inNewest.slice(-3);
      const expectCut = `cut at offset ${victim.offset} (from ${sizeBefore} to ${victim.offset} bytes, ${sizeBefore - victim.offset} bytes cut)`;
      const repairLine = narration.split('\n').find((l) => l.includes('repairing log:'));
      expect(repairLine).toBeDefined();
      expect(repairLine).toContain(expectCut);
      expect(repairLine).toContain(`3 whole-looking entries after the damage discarded (LSNs ${discarded[0]!.lsn}..${discarded[2]!.lsn})`);
      expect(repairLine).toContain(`last good LSN ${lastGood}`);
      expect(repairLine).toMatch(/damage: \S/);
      const summary = out.join('');
      expect(summary).toContain(`log repaired: ${newest} ${expectCut}`);
      expect(summary).toContain(`last good LSN ${lastGood}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
