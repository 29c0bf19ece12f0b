import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { runRecover } from '../../tools/commands/recover.js';
import { replayCommand } from '../../tools/commands/replay.js';
import { runSynthLog } from '../../tools/commands/synth-log.js';
import { PLAIN_LINE_EVERY_MS, startProgress } from '../../tools/progress.js';

/** A stream that records what is written to it; `isTTY` picks the bar or the plain lines. */
function collector(isTTY: boolean): { write(s: string): boolean; isTTY: boolean; text(): string } {
  const parts: string[] = [];
  return {
    isTTY,
    write(s: string) {
      parts.push(s);
      return true;
    },
    text: () => parts.join(''),
  };
}

describe('the progress display', () => {
  // Scenario: off a terminal, short work prints nothing, and long work one plain line per period.
  it('Scenario: plain lines appear only after a full period, then at most once per period, never after stop', () => {
    let now = 1_000;
    const s = collector(false);
    const p = startProgress({ title: 'crashtest programs', unit: 'programs', stream: s, now: () => now });
    for (let i = 1; i < 100; i++) {
      now += 49; // 99 updates in 4851 ms: less than one period
      p.update(i, 200);
    }
    expect(s.text()).toBe('');
    now = 1_000 + PLAIN_LINE_EVERY_MS;
    p.update(100, 200, 'half way');
    expect(s.text()).toBe('tokusim: crashtest programs: 100/200 programs (50%), half way\n');
    now += PLAIN_LINE_EVERY_MS - 1;
    p.update(150, 200);
    expect(s.text().split('\n')).toHaveLength(2);
    p.stop();
    now += 10 * PLAIN_LINE_EVERY_MS;
    p.update(200, 200);
    expect(s.text().split('\n')).toHaveLength(2);
  });

  // Property: whatever the update times, two plain lines are always at least one period apart
  // and the first comes no sooner than one period after the start.
  it('Property: plain lines are at least one period apart, the first one period after the start', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 * PLAIN_LINE_EVERY_MS }), { maxLength: 200 }), (gaps) => {
        let now = 0;
        const times: number[] = [];
        const p = startProgress({ title: 't', unit: 'u', stream: { write: () => times.push(now), isTTY: false }, now: () => now });
        gaps.forEach((g, i) => {
          now += g;
          p.update(i, gaps.length);
        });
        let last = 0;
        for (const t of times) {
          expect(t - last).toBeGreaterThanOrEqual(PLAIN_LINE_EVERY_MS);
          last = t;
        }
      }),
    );
  });

  // Scenario: on a terminal, the bar is drawn with the title and counts, and erased at stop.
  it('Scenario: on a terminal a bar with the title and counts is drawn, and nothing is written after stop', () => {
    const s = collector(true);
    const p = startProgress({ title: 'synth-log', unit: 'MiB', stream: s });
    p.update(3, 10);
    p.stop();
    const drawn = s.text();
    expect(drawn).toContain('synth-log');
    expect(drawn).toContain('3/10 MiB');
    p.update(4, 10);
    expect(s.text()).toBe(drawn);
  });
});

describe('long commands draw their progress on the display they are given', () => {
  // Scenario: synth-log of a few MiB on a terminal shows its bar (and returns the same log).
  it('Scenario: synth-log draws a synth-log bar on a terminal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-progress-synth-'));
    try {
      const s = collector(true);
      const r = await runSynthLog({ out: join(dir, 'log'), sizeMb: 3, valueBytes: 100, seed: 1, lgMaxMb: 100, progress: s });
      expect(r.bytes).toBeGreaterThan(2 << 20);
      expect(s.text()).toMatch(/synth-log .*\d+\/3 MiB/);
      // replay of that log draws its own bar.
      const rs = collector(true);
      const code = await replayCommand(new NodeStorage(), { logdirs: [join(dir, 'log')], dump: false, userOnly: false, partial: false, progress: rs }, { stdout: () => undefined, stderr: () => undefined });
      expect(code).toBe(0);
      expect(rs.text()).toMatch(/replay .*\d+\/\d+ MiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Scenario: crashtest draws a programs bar on a terminal, never among its stdout lines', async () => {
    const s = collector(true);
    const lines: string[] = [];
    await runCrashtest({ seed: 11, runs: 2, progress: s }, (l) => lines.push(l));
    expect(s.text()).toMatch(/crashtest programs .*2\/2 programs/);
    expect(lines.join('\n')).toMatch(/programs run: 2/);
    expect(lines.join('\n')).not.toMatch(/crashtest programs/);
  }, 120_000);

  // Scenario: recovery of a log with thousands of entries reports recovery-progress events,
  // drawn as a bar on a terminal through the narration callback (stderr), never on stdout.
  it('Scenario: recover draws recovery progress on stderr, not on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-progress-recover-'));
    try {
      const enc = (s: string) => new TextEncoder().encode(s);
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'progress' });
      const d = await env.createDictionary('t');
      await env.checkpoint();
      const ops = Array.from({ length: 2500 }, (_, i) => ({ dict: d, op: 'insert' as const, key: enc(`k${i}`), value: enc('v') }));
      await env.writeBatch(ops);
      env.abandon();
      rmSync(join(dir, '__tokusim_env_lock'));
      let err = '';
      let out = '';
      await runRecover(dir, (s) => (err += s), (s) => (out += s), true);
      expect(err).toMatch(/recovery forward replay .*\/\d+ LSNs/);
      expect(out).not.toMatch(/LSNs/);
      expect(out).toMatch(/^recovered: replayed \d+ entries/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

// The built CLI as a process: on a terminal (a pty from util-linux `script`) and off one.
describe('the progress display of the tokusim process', () => {
  const TOKUSIM = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'tokusim.js');
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  /** The plain progress line format (tools/progress.ts). */
  const PLAIN = /^tokusim: [\w -]+: \d+\/\d+ [\w]+ \(\d+%\)(, .*)?$/;

  // Scenario: `tokusim synth-log` and `tokusim crashtest` in a terminal with stdout redirected
  // to a file: the bar is drawn on the terminal (stderr), the file holds only the result.
  it('Scenario: on a terminal the bar goes to stderr, and stdout redirected to a file holds only the result', () => {
    expect(existsSync(TOKUSIM), `${TOKUSIM} missing: build first`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-progress-pty-'));
    try {
      const cases = [
        { title: 'synth-log', args: ['synth-log', '--out', join(dir, 'log'), '--size-mb', '4'], result: /^wrote \d+ records, \d+ bytes, LSN 1\.\.\d+, 1 file\(s\) in .*\n$/ },
        { title: 'crashtest programs', args: ['crashtest', '--runs', '2'], result: /^programs run: 2\n[^\x1b]*violations found: 0\n$/ },
      ];
      for (const c of cases) {
        const outFile = join(dir, 'stdout.txt');
        const cmd = [process.execPath, TOKUSIM, ...c.args].map(quote).join(' ') + ` > ${quote(outFile)}`;
        const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TOKUSIM_DEBUG: '', TERM: 'xterm' } });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        // The terminal saw the bar: its title and the shaded bar characters.
        expect(r.stdout).toContain(` ${c.title} `);
        expect(r.stdout).toMatch(/[\u2588\u2591]{10}/);
        const out = readFileSync(outFile, 'utf8');
        expect(out).toMatch(c.result);
        expect(out).not.toContain(c.title + ' ');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  // Scenario: the same commands in a pipeline (no terminal anywhere): stdout is only the
  // result, and stderr holds nothing but plain progress lines (none when the work is short).
  it('Scenario: off a terminal stdout is only the result and stderr only plain progress lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-progress-pipe-'));
    try {
      for (const args of [['synth-log', '--out', join(dir, 'log'), '--size-mb', '4'], ['crashtest', '--runs', '2']]) {
        const r = spawnSync(process.execPath, [TOKUSIM, ...args], { encoding: 'utf8', env: { ...process.env, TOKUSIM_DEBUG: '' } });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).not.toMatch(/\x1b|\u2588|\u2591|%\)/);
        expect(r.stdout.length).toBeGreaterThan(0);
        for (const line of r.stderr.split('\n').filter((l) => l !== '')) expect(line).toMatch(PLAIN);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
