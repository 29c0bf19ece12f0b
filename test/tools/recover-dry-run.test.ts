import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { runRecover } from '../../tools/commands/recover.js';
import { snapshotDir } from '../support/dir-snapshot.js';

const enc = (s: string) => new TextEncoder().encode(s);
const XID = { formatID: 1, gtridLength: 2, bqualLength: 1, data: enc('abc') };
const root = mkdtempSync(join(tmpdir(), 'tokusim-dryrun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A crashed environment: rows committed before and after a checkpoint, one transaction left
 * open, one prepared, and a torn last entry (garbage appended after the log's last entry).
 */
async function crashedEnv(name: string): Promise<{ dir: string; open: bigint; prepared: bigint }> {
  const dir = join(root, name);
  const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'dry', logPreallocate: 0 });
  const d = await env.createDictionary('users');
  for (let i = 0; i < 5; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
  await env.checkpoint();
  await env.put(d, enc('late'), enc('x'));
  const open = env.begin();
  await open.put(d, enc('open'), enc('y'));
  const p = env.begin();
  await p.put(d, enc('prep'), enc('z'));
  await p.prepare(XID);
  await env.put(d, enc('last'), enc('w'));
  env.abandon();
  unlinkSync(join(dir, '__tokusim_env_lock'));
  const log = readdirSync(dir).filter((n) => n.endsWith('.tokulog29')).sort().pop()!;
  appendFileSync(join(dir, log), Buffer.from([0x40, 0, 0, 0, 0x49, 1, 2, 3, 4, 5, 6]));
  return { dir, open: open.id, prepared: p.id };
}

async function recoverCapture(dir: string, dryRun: boolean): Promise<{ out: string; err: string; error?: unknown }> {
  const out: string[] = [];
  const err: string[] = [];
  let error: unknown;
  await runRecover(dir, (s) => err.push(s), (s) => out.push(s), false, { dryRun }).catch((e: unknown) => {
    error = e;
  });
  return { out: out.join(''), err: err.join(''), error };
}

describe('tokusim recover --dry-run', () => {
  // Scenario: a dry run over a crashed environment narrates the cut of the torn tail, the
  // backward scan, the turning point, the records to replay and the transactions to abort and
  // to keep prepared, and changes nothing (every byte, name and mtime); the real recovery then
  // does exactly what the dry run said.
  it('Scenario: the dry run narrates the recovery, writes nothing, and the real recovery matches it', async () => {
    const { dir, open, prepared } = await crashedEnv('crashed');
    const before = snapshotDir(dir);
    const dry = await recoverCapture(dir, true);
    expect(dry.error).toBeUndefined();
    expect(snapshotDir(dir)).toEqual(before);
    expect(dry.out).toMatch(/^dry run: nothing was written/);
    expect(dry.err).toMatch(/would: repairing log: \S+ cut at offset \d+ \(from \d+ to \d+ bytes, 11 bytes cut\)/);
    expect(dry.err).toMatch(/would: scanning backward from \d+/);
    expect(dry.err).toMatch(/would: turning around at begin checkpoint \d+/);
    expect(dry.err).toMatch(new RegExp(`would: aborted transaction ${open}\\b`));
    expect(dry.err).toMatch(new RegExp(`would: kept prepared transaction ${prepared}\\b`));
    const plan = /would recover: replay (\d+) entries from LSN (\d+) \(turning point\) to (\d+), apply (\d+) commits, abort 1 transaction\(s\) \((\d+)\), keep 1 prepared \((\d+)\)/.exec(dry.out);
    expect(plan, dry.out).not.toBeNull();
    expect(plan![5]).toBe(String(open));
    expect(plan![6]).toBe(String(prepared));
    expect(dry.out).toMatch(/would repair the log: .*11 bytes cut/);

    const real = await recoverCapture(dir, false);
    expect(real.error).toBeUndefined();
    expect(real.out).toContain(`recovered: replayed ${plan![1]} entries from LSN ${plan![2]} to ${plan![3]}, ${plan![4]} commits applied, 1 transaction(s) aborted, 1 kept prepared`);
    expect(snapshotDir(dir)).not.toEqual(before);
  });

  // Scenario: a dry run of a cleanly closed environment says no recovery is needed, unchanged.
  it('Scenario: a dry run on a clean environment says so and writes nothing', async () => {
    const dir = join(root, 'clean');
    const env = await Env.open(dir, { checkpointPeriodMs: 0 });
    await env.put(await env.createDictionary('t'), enc('a'), enc('1'));
    await env.close();
    const before = snapshotDir(dir);
    const dry = await recoverCapture(dir, true);
    expect(dry.error).toBeUndefined();
    expect(dry.out).toContain('no recovery needed');
    expect(snapshotDir(dir)).toEqual(before);
  });
});

describe('tokusim recover reports a missing user dictionary file', () => {
  // Scenario: a user dictionary's file was deleted from a cleanly closed environment; recover
  // used to exit 0 without a word. It now fails with one corrupt-input error (exit 3) naming
  // the dictionary and its file; the dry run reports the same and writes nothing.
  it('Scenario: a clean environment missing a dictionary file: recover names it (kind recovery, exit 3)', async () => {
    const dir = join(root, 'missing-clean');
    const env = await Env.open(dir, { checkpointPeriodMs: 0 });
    const d = await env.createDictionary('users');
    await env.put(d, enc('a'), enc('1'));
    await env.close();
    const file = readdirSync(dir).find((n) => n.startsWith('users_'))!;
    unlinkSync(join(dir, file));
    const before = snapshotDir(dir);
    const dry = await recoverCapture(dir, true);
    expect(dry.error).toBeInstanceOf(TokusimError);
    expect((dry.error as TokusimError).kind).toBe('recovery');
    expect((dry.error as Error).message).toContain(`users (${file})`);
    expect(snapshotDir(dir)).toEqual(before);
    const real = await recoverCapture(dir, false);
    expect((real.error as TokusimError).kind).toBe('recovery');
    expect((real.error as Error).message).toMatch(new RegExp(`dictionary file missing: users \\(${file}\\) is named by the environment but its file does not exist`));
  });

  // Scenario: the same in a crashed environment whose log still opens the dictionary.
  it('Scenario: a crashed environment missing a dictionary file: recovery narrates it and recover fails naming it', async () => {
    const { dir } = await crashedEnv('missing-crashed');
    const file = readdirSync(dir).find((n) => n.startsWith('users_'))!;
    unlinkSync(join(dir, file));
    const real = await recoverCapture(dir, false);
    expect(real.err).toContain(`dictionary file ${file}`);
    expect((real.error as TokusimError).kind).toBe('recovery');
    expect((real.error as Error).message).toContain(file);
  });

  // Scenario: the crashed environment's lock file names a pid that is running but is another
  // process now (the start time differs: the pid was reused), with a lease still running. The
  // real recovery's open takes such a lock over; the dry run must judge it the same way and
  // plan the recovery instead of refusing as locked, still writing nothing.
  it('Scenario: a lock naming a reused pid is judged stale by the dry run as by the real open', async () => {
    const { dir } = await crashedEnv('reused-pid');
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'latin1');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19]!) + 1;
    const me = { host: hostname(), bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim(), pidNs: readlinkSync('/proc/self/ns/pid') };
    const record = { ...me, owner: 'gone', pid: process.ppid, thread: 0, startTicks: String(startTicks), leaseExpiresMs: Date.now() + 3_600_000, token: 'g' };
    writeFileSync(join(dir, '__tokusim_env_lock'), JSON.stringify(record) + '\n');
    const before = snapshotDir(dir);
    const dry = await recoverCapture(dir, true);
    expect(dry.error).toBeUndefined();
    expect(dry.out).toMatch(/^dry run: nothing was written/);
    expect(snapshotDir(dir)).toEqual(before);
  });
});
