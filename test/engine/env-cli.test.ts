import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { environmentStatus } from '../../src/node/env.js';
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
      // abandon() stands for a crash: this process no longer holds the lock, so it is stale.
      expect(before).toMatch(/lock: owner cli pid \d+ lease until \S+ \(stale: it names this process \(pid \d+\), which does not hold it; the next open takes it over\)/);
      // sync mode on real storage preallocates the log: status says how much of it is zeros.
      expect(before).toMatch(/tokulog29\s+\d+ bytes\s+\d+ entries\s+LSN 1\.\.\d+\s+\(last \d+ bytes preallocated zeros\)/);
      expect(before).toMatch(/tokudb.directory\s+slot \d in use/);
      expect(before).toMatch(/t_\d+\.tokudb\s+no valid header/); // created after the last checkpoint
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

  // Scenario: the process holding the environment died; `tokusim status` says the lock is stale
  // and that the next open takes it over (which it then does).
  it('Scenario: status reports a lock whose holder is dead as stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-cli-stale-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'gone' });
      env.abandon();
      // A pid that surely exited: a child that has already been reaped.
      const child = spawnSync(process.execPath, ['-e', '']);
      expect(child.status).toBe(0);
      const lockPath = join(dir, '__tokusim_env_lock');
      const held = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number };
      writeFileSync(lockPath, JSON.stringify({ ...held, pid: child.pid }));
      const status = await environmentStatus(new NodeStorage(), dir);
      expect(status).toMatch(new RegExp(`lock: owner gone pid ${child.pid} .*\\(stale: pid ${child.pid} is not running; the next open takes it over\\)`));
      const taken: string[] = [];
      const again = await Env.open(dir, {
        checkpointPeriodMs: 0,
        owner: 'other',
        onEvent: (e) => {
          if (e.type === 'lock-takeover') taken.push(e.reason);
        },
      });
      await again.close();
      expect(taken.join('')).toMatch(/not running/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
