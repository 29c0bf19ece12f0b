import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { InvariantError } from '../../src/base/errors.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { PERCONAFT_SCENARIOS, perconaftCopy, snapshotDir } from '../support/dir-snapshot.js';

// The built CLI (`make test` builds first): the commands as a user runs them.
const TOKUSIM = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'tokusim.js');
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const root = mkdtempSync(join(tmpdir(), 'tokusim-readonly-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let clean = '';
let crashed = '';
beforeAll(async () => {
  clean = join(root, 'clean');
  const env = await Env.open(clean, { checkpointPeriodMs: 0 });
  const d = await env.createDictionary('t');
  for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
  await env.close();
  crashed = join(root, 'crashed');
  const c = await Env.open(crashed, { checkpointPeriodMs: 0, owner: 'ro' });
  const cd = await c.createDictionary('t');
  await c.put(cd, enc('before'), enc('1'));
  await c.checkpoint();
  await c.put(cd, enc('after'), enc('2'));
  await c.begin().put(cd, enc('open'), enc('3'));
  c.abandon();
  unlinkSync(join(crashed, '__tokusim_env_lock'));
  const log = readdirSync(crashed).filter((n) => n.endsWith('.tokulog29')).sort().pop()!;
  appendFileSync(join(crashed, log), Buffer.from([9, 9, 9, 9, 9])); // a torn tail recovery would cut
});

/** The read-only commands on dir; returns each one's exit code and stderr. */
function runReadOnlyCommands(dir: string): Array<{ cmd: string; code: number | null; stderr: string }> {
  // ftdump on tokudb.environment and one user dictionary (each spawn costs a node start).
  const dicts = ['tokudb.environment', readdirSync(dir).find((n) => n.endsWith('.tokudb'))!];
  const cmds = [['status', dir], ['logprint', dir], ['replay', dir, '--dump', '--partial'], ...dicts.map((f) => ['ftdump', join(dir, f)])];
  return cmds.map((args) => {
    const r = spawnSync(process.execPath, [TOKUSIM, ...args], { encoding: 'utf8' });
    return { cmd: args.join(' '), code: r.status, stderr: r.stderr };
  });
}

describe('read-only commands and read-only opens write nothing', () => {
  it('the built CLI exists', () => {
    expect(existsSync(TOKUSIM), `${TOKUSIM} missing: run make build`).toBe(true);
  });

  // Scenario: status, logprint, replay and ftdump on a clean and on a crashed tokusim
  // environment leave every byte, name and mtime as it was (the crashed one keeps its torn tail).
  for (const which of ['clean', 'crashed'] as const) {
    it(`Scenario: every read-only command on a ${which} tokusim environment changes nothing`, () => {
      const dir = which === 'clean' ? clean : crashed;
      const before = snapshotDir(dir);
      for (const r of runReadOnlyCommands(dir)) {
        expect(r.stderr, r.cmd).not.toMatch(/\n\s+at /); // never a stack trace
        if (which === 'clean') expect(r.code, `${r.cmd}: ${r.stderr}`).toBe(0);
      }
      expect(snapshotDir(dir)).toEqual(before);
    });
  }

  // Scenario: the same commands on a copy of every PerconaFT reference environment.
  for (const scenario of PERCONAFT_SCENARIOS) {
    it(`Scenario: every read-only command on PerconaFT ${scenario} changes nothing`, () => {
      const dir = perconaftCopy(scenario, 'env', root);
      const before = snapshotDir(dir);
      for (const r of runReadOnlyCommands(dir)) expect(r.stderr, r.cmd).not.toMatch(/\n\s+at /);
      expect(snapshotDir(dir)).toEqual(before);
    });
  }

  // Scenario: `tokusim recover` on a PerconaFT environment, a missing and an empty directory
  // exits 9 with one line on stderr naming what it found, and creates or changes nothing.
  it('Scenario: recover exits 9 with one line on a PerconaFT, a missing and an empty directory', () => {
    const pft = perconaftCopy('S7_all_types/crash', 'env', root);
    const missing = join(root, 'no-such-env');
    const empty = join(root, 'empty-env');
    mkdirSync(empty);
    for (const [dir, what] of [[pft, /a PerconaFT environment/], [missing, /does not exist/], [empty, /is empty/]] as const) {
      const before = snapshotDir(dir);
      const r = spawnSync(process.execPath, [TOKUSIM, 'recover', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(9);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(what);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(snapshotDir(dir)).toEqual(before);
    }
  });

  // Scenario: a read-only open of a crashed environment reads the checkpointed image and
  // repairs nothing: the torn tail stays, no log file, lock or header is written.
  it('Scenario: Env.open readOnly on a crashed and on a clean environment writes nothing', async () => {
    for (const dir of [crashed, clean]) {
      const before = snapshotDir(dir);
      const env = await Env.open(dir, { readOnly: true });
      const d = await env.openDictionary('t');
      if (dir === crashed) {
        expect(dec((await d.getCommitted(enc('before')))!)).toBe('1');
        expect(await d.getCommitted(enc('open'))).toBeUndefined();
      } else {
        expect((await d.committedRange({})).length).toBe(20);
      }
      await env.close();
      expect(snapshotDir(dir)).toEqual(before);
    }
  });

  // Scenario: the guard itself: through ReadOnlyStorage every call that could change the disk
  // throws (a bug in a read-only path), and nothing reaches the directory.
  it('Scenario: ReadOnlyStorage refuses every write, create, rename, unlink and sync', async () => {
    const before = snapshotDir(clean);
    const ro = new ReadOnlyStorage(new NodeStorage());
    const name = readdirSync(clean).find((n) => n.endsWith('.tokulog29'))!;
    const f = await ro.open(join(clean, name), 'readwrite');
    const attempts: Array<() => Promise<unknown>> = [
      () => f.pwrite(enc('x'), 0),
      () => f.truncate(0),
      () => f.fsync(),
      () => ro.open(join(clean, 'new'), 'create'),
      () => ro.open(join(clean, 'new'), 'create-exclusive'),
      () => ro.mkdir(join(clean, 'sub')),
      () => ro.rename(join(clean, name), join(clean, 'moved')),
      () => ro.unlink(join(clean, name)),
      () => ro.fsyncDir(clean),
    ];
    for (const a of attempts) await expect(a()).rejects.toBeInstanceOf(InvariantError);
    const buf = new Uint8Array(8);
    expect(await f.pread(buf, 0)).toBe(8);
    await f.close();
    expect(snapshotDir(clean)).toEqual(before);
  });
});
