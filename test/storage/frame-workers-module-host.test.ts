import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built library (`make test` builds first): the host must be a real `node` started with the
// flags under test, which the test runner's own process is not.
const INDEX = join(import.meta.dirname, '..', '..', 'dist', 'src', 'index.js');

/** A script that checkpoints 1 MiB values on NodeStorage, reopens and prints what it reads back. */
function hostScript(dir: string): string {
  return `
import { Env } from ${JSON.stringify(pathToFileURL(INDEX).href)};
const dir = ${JSON.stringify(dir)};
const big = (i) => new Uint8Array(1 << 20).fill(65 + i);
const env = await Env.open(dir, { checkpointPeriodMs: 0, durability: 'sync' });
const d = await env.createDictionary('big');
for (let i = 0; i < 3; i++) await env.put(d, new TextEncoder().encode('k' + i), big(i));
await env.checkpoint();
await env.close();
const again = await Env.open(dir, { checkpointPeriodMs: 0 });
const d2 = await again.openDictionary('big');
const out = [];
for (let i = 0; i < 3; i++) {
  const v = await again.get(d2, new TextEncoder().encode('k' + i));
  out.push(v === undefined ? 'missing' : v.length + ':' + v.every((b) => b === 65 + i));
}
console.log(JSON.stringify({ rows: out, recovered: again.status().recovery !== null, failed: again.failedWith?.message ?? null }));
await again.close();
`;
}

describe('frame workers start the same however the host was started', () => {
  // Scenario: an application embeds tokusim in a script run as `node --input-type=module -e`
  // (and again with the script on stdin); a checkpoint of 1 MiB values goes through the frame
  // workers, succeeds, and every value reads back whole after a clean reopen.
  for (const how of ['-e', 'stdin'] as const) {
    it(`Scenario: a checkpoint of 1 MiB values under node --input-type=module (${how})`, () => {
      expect(existsSync(INDEX), `${INDEX} missing: run make build`).toBe(true);
      const dir = mkdtempSync(join(tmpdir(), 'tokusim-module-host-'));
      try {
        const script = hostScript(join(dir, 'env'));
        const r =
          how === '-e'
            ? spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 })
            : spawnSync(process.execPath, ['--input-type=module'], { input: script, encoding: 'utf8', timeout: 120_000 });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: string[]; recovered: boolean; failed: string | null };
        expect(result).toEqual({ rows: ['1048576:true', '1048576:true', '1048576:true'], recovered: false, failed: null });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
