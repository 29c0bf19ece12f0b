import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';

// The built library (`make test` builds first): the child must be a real process to be killed.
const INDEX = join(import.meta.dirname, '..', '..', 'dist', 'src', 'index.js');
const PERIOD_MS = 100;

/**
 * The child: a 'periodic' environment on real files, a commit loop that never yields to timers
 * for 1.5 s of its own clock, each commit's start and acknowledgement times (the engine's
 * clock) written to a file, then SIGKILL to itself.
 */
function childScript(dir: string, timesFile: string): string {
  return `
import { Env, RealClock } from ${JSON.stringify(pathToFileURL(INDEX).href)};
import { writeFileSync } from 'node:fs';
const clock = new RealClock();
const env = await Env.open(${JSON.stringify(dir)}, { clock, durability: 'periodic', periodMs: ${PERIOD_MS}, checkpointPeriodMs: 0 });
const d = await env.createDictionary('t');
await env.checkpoint();
const start = [], end = [];
const value = new Uint8Array(64).fill(1);
const t0 = clock.nowMs();
for (let i = 0; clock.nowMs() - t0 < 1500 && i < 200000; i++) {
  start.push(clock.nowMs());
  await env.put(d, new TextEncoder().encode('n' + String(i).padStart(6, '0')), value);
  end.push(clock.nowMs());
}
writeFileSync(${JSON.stringify(timesFile)}, JSON.stringify({ start, end }));
process.kill(process.pid, 'SIGKILL');
`;
}

describe("engine: 'periodic' bound under SIGKILL of a real process", () => {
  // Property: after SIGKILL of a process whose commit loop never yields, the acknowledged
  // commits that are lost are a suffix, and the last of them started less than periodMs after
  // the first of them was acknowledged (both on the child's own clock).
  it('Scenario: a non-yielding periodic commit loop is killed; lost commits fit in one period', async () => {
    expect(existsSync(INDEX), `${INDEX} missing: run make build`).toBe(true);
    const root = mkdtempSync(join(tmpdir(), 'tokusim-sigkill-'));
    try {
      const dir = join(root, 'env');
      const timesFile = join(root, 'times.json');
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', childScript(dir, timesFile)], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.signal).toBe('SIGKILL');
      const { start, end } = JSON.parse(readFileSync(timesFile, 'utf8')) as { start: number[]; end: number[] };
      const n = end.length;
      expect(n).toBeGreaterThan(100);

      const env = await Env.open(dir, { checkpointPeriodMs: 0 });
      const d = await env.openDictionary('t');
      const keys = (await env.begin().range(d)).map((e) => new TextDecoder().decode(e.key));
      await env.close();
      const kept = keys.length;
      expect(keys).toEqual(Array.from({ length: kept }, (_, i) => 'n' + String(i).padStart(6, '0')));
      expect(kept).toBeLessThanOrEqual(n);
      if (kept < n) expect(start[n - 1]! - end[kept]!).toBeLessThan(PERIOD_MS);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
