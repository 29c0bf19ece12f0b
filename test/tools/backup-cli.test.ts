import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { parseByteSize } from '../../tools/commands/backup.js';
import { startLocalS3, type LocalS3 } from '../../tools/bench/s3rver-local.js';

// The built CLI (`make test` builds first; here `npx tsc -p tsconfig.json`), run as a process.
const ROOT = join(import.meta.dirname, '..', '..');
const TOKUSIM = join(ROOT, 'dist', 'tools', 'tokusim.js');
const enc = (s: string) => new TextEncoder().encode(s);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tokusim(args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TOKUSIM, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TOKUSIM_DEBUG: '', ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let s3: LocalS3;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokusim-backup-cli-'));
  const env = await Env.open(join(dir, 'env'), { storage: new NodeStorage(), checkpointPeriodMs: 0 });
  const t = await env.createDictionary('t');
  for (let i = 0; i < 300; i += 50) await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${i + j}`), value: enc(`v${i + j}`) })));
  await env.close();
  s3 = await startLocalS3('cli-bucket');
});
afterAll(async () => {
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(path: string): Promise<Record<string, string>> {
  const env = await Env.open(path, { storage: new NodeStorage(), checkpointPeriodMs: 0 });
  try {
    const d = await env.openDictionary('t');
    const out: Record<string, string> = {};
    for (const e of await d.committedRange({})) out[new TextDecoder().decode(e.key)] = new TextDecoder().decode(e.value);
    return out;
  } finally {
    await env.close();
  }
}

describe('tokusim backup (the built CLI as a process)', () => {
  // Scenario: push with --concurrency and --rate-limit, list --json, verify, fetch; then every documented failure exits with its code and one line.
  it('Scenario: push, list, verify, fetch, and the exit codes of refusals', async () => {
    const env = join(dir, 'env');
    const repo = join(dir, 'repo');
    const push = await tokusim(['backup', 'push', env, '--to', repo, '--concurrency', '3', '--rate-limit', '64MiB']);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/^base_\d{20} full checkpoint \d+ log \d+-\d+ sent \d+ of \d+ bytes\n$/);
    const list = await tokusim(['backup', 'list', repo, '--json']);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as Array<{ name: string; kind: string }>;
    expect(listed.map((r) => r.kind)).toEqual(['full']);
    expect(push.stdout.startsWith(listed[0]!.name)).toBe(true);
    expect((await tokusim(['backup', 'verify', repo])).code).toBe(0);
    const dest = join(dir, 'restored');
    const fetched = await tokusim(['backup', 'fetch', repo, 'LATEST', dest]);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toMatch(/^restored base_\d+ /);
    expect(await rows(dest)).toEqual(await rows(env));

    const notEmpty = await tokusim(['backup', 'fetch', repo, 'LATEST', dest]);
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.stderr).toMatch(/^tokusim: .*restored: fetch: .* is not empty .*DEST must be empty or absent.*\n$/);
    const noSuch = await tokusim(['backup', 'fetch', repo, 'base_00000000000000000001', join(dir, 'x')]);
    expect(noSuch.code).toBe(2);
    expect(noSuch.stderr).toMatch(/^tokusim: .*no backup named base_00000000000000000001 in .*\n$/);
    const badRate = await tokusim(['backup', 'push', env, '--to', repo, '--rate-limit', 'fast']);
    expect(badRate.code).toBe(2);
    expect(badRate.stderr).toMatch(/--rate-limit: not a size: fast/);

    // A live lease of someone else: exit 7, naming owner and expiry.
    const until = Date.now() + 3_600_000;
    writeFileSync(join(repo, 'locks', 'repo.lease.json'), JSON.stringify({ id: 'other-host:4242', op: 'push', expireAtMs: until, expireAt: new Date(until).toISOString() }));
    const locked = await tokusim(['backup', 'push', env, '--to', repo]);
    expect(locked.code).toBe(7);
    expect(locked.stderr).toBe(`tokusim: ${join(repo, 'locks', 'repo.lease.json')}: ${repo} is held by push other-host:4242 until ${new Date(until).toISOString()} (its lease); wait for it to finish or expire\n`);
    rmSync(join(repo, 'locks', 'repo.lease.json'));

    // A damaged part: verify exits 6 and names it.
    const name = listed[0]!.name;
    const part = join(repo, 'basebackups', name, 'p', readdirSync(join(repo, 'basebackups', name, 'p'))[0]!);
    writeFileSync(part, 'garbage');
    const bad = await tokusim(['backup', 'verify', repo]);
    expect(bad.code).toBe(6);
    expect(bad.stdout).toMatch(/problem: .*does not match its sha256/);
  });

  // Scenario: log archive takes the archive lease: a live one of someone else is refused (exit 7, owner and expiry), a free one is taken and released.
  it('Scenario: log archive under a live lease is refused; push --record-contents then verify --restore-check compares', async () => {
    const env = join(dir, 'env');
    const repo = join(dir, 'repo-archive');
    const first = await tokusim(['log', 'archive', env, '--to', repo]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^archived \d+ log file\(s\)/);
    expect(readdirSync(join(repo, 'locks'))).toEqual([]);
    const until = Date.now() + 3_600_000;
    writeFileSync(join(repo, 'locks', 'wal.lease.json'), JSON.stringify({ id: 'other-host:77', op: 'log archive', expireAtMs: until, expireAt: new Date(until).toISOString() }));
    const locked = await tokusim(['log', 'archive', env, '--to', repo]);
    expect(locked.code).toBe(7);
    expect(locked.stderr).toBe(`tokusim: ${join(repo, 'locks', 'wal.lease.json')}: ${repo} is held by log archive other-host:77 until ${new Date(until).toISOString()} (its lease); wait for it to finish or expire\n`);
    // The archive lease is not the repository's: a push goes on meanwhile.
    const push = await tokusim(['backup', 'push', env, '--to', repo, '--record-contents']);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/; contents 300 rows at LSN \d+\n$/);
    const checked = await tokusim(['backup', 'verify', repo, 'LATEST', '--restore-check']);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/^checked 1 backup\(s\), \d+ archived log file\(s\), restore-checked base_\d+\n$/);
  });

  // Scenario: mistyped paths. A repository that is missing (or a file) is a bad target for
  // list, verify, delete and fetch (exit 2), never an empty repository that verifies fine; an
  // environment that is missing or not tokusim's is refused by push and log archive (exit 9)
  // before anything is created or written.
  it('Scenario: a missing repository or environment is refused with one line, nothing created', async () => {
    const missingRepo = join(dir, 'no-such-repo');
    const fileRepo = join(dir, 'a-file');
    writeFileSync(fileRepo, 'not a repository');
    for (const args of [['list', missingRepo], ['list', fileRepo, '--json'], ['verify', missingRepo], ['delete', missingRepo, 'retain', '1'], ['fetch', missingRepo, 'LATEST', join(dir, 'never-fetched')]]) {
      const r = await tokusim(['backup', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^tokusim: \S+: no backup repository here: (no such directory|a file, not a directory)\n$/);
    }
    const missingEnv = join(dir, 'no-such-env');
    const other = join(dir, 'other-dir');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'hello');
    for (const env of [missingEnv, other]) {
      for (const args of [['backup', 'push', env, '--to', join(dir, 'never-pushed')], ['log', 'archive', env, '--to', join(dir, 'never-pushed')]]) {
        const r = await tokusim(args);
        expect(r.code, args.join(' ')).toBe(9);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^tokusim: \S+: refusing to (back it up|archive its log): [^\n]+; nothing was written\n$/);
      }
    }
    expect(existsSync(missingEnv)).toBe(false);
    expect(readdirSync(other)).toEqual(['notes.txt']);
    expect(existsSync(join(dir, 'never-pushed'))).toBe(false);
    expect(existsSync(join(dir, 'never-fetched'))).toBe(false);
    expect(existsSync(missingRepo)).toBe(false);
  });

  // Scenario: an s3:// repository through TOKUSIM_S3_ENDPOINT; the SDK's Node-version warning never reaches stderr.
  it('Scenario: push and fetch through s3:// with the endpoint from the environment; stderr stays empty', async () => {
    const env = join(dir, 'env');
    const creds = { TOKUSIM_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
    const push = await tokusim(['backup', 'push', env, '--to', 's3://cli-bucket/prod/db1'], creds);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const list = await tokusim(['backup', 'list', 's3://cli-bucket/prod/db1'], creds);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[1]).toMatch(/^base_\d+\tfull\t-\t/);
    const dest = join(dir, 'from-s3');
    const fetched = await tokusim(['backup', 'fetch', 's3://cli-bucket/prod/db1', 'LATEST', dest, '--s3-endpoint', s3.endpoint], { ...creds, TOKUSIM_S3_ENDPOINT: 'http://127.0.0.1:1' });
    expect(fetched.stderr).toBe('');
    expect(fetched.code).toBe(0);
    expect(await rows(dest)).toEqual(await rows(env));
    // One download at a time (the default is 4) restores the same rows (byte-identical files: test/backup/fetch-concurrency.test.ts, s3.test.ts).
    const dest1 = join(dir, 'from-s3-c1');
    const one = await tokusim(['backup', 'fetch', 's3://cli-bucket/prod/db1', 'LATEST', dest1, '--concurrency', '1', '--s3-endpoint', s3.endpoint], creds);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(await rows(dest1)).toEqual(await rows(env));
    // Nothing listening: retried, then exit 5 with one line naming the object.
    const down = await tokusim(['backup', 'list', 's3://cli-bucket/x'], { ...creds, TOKUSIM_S3_ENDPOINT: 'http://127.0.0.1:1' });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^tokusim: s3:\/\/cli-bucket\/x\/wal: S3 LIST of wal failed after 6 tries: ECONNREFUSED.*\n$/);
  }, 60_000);

  // Scenario: delete is a dry run unless --confirm, refuses to orphan a delta (exit 2, one line), keeps whole chains; fetch's point-in-time options refuse bad or unreachable targets with exit 2 before DEST exists, and --until-time restores.
  it('Scenario: delete dry run and --confirm, and the refusals of delete and fetch targets', async () => {
    const env = join(dir, 'env');
    const repo = join(dir, 'repo-delete');
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const push = await tokusim(['backup', 'push', env, '--to', repo, '--delta-max-steps', '1']);
      expect(push.code).toBe(0);
      names.push(push.stdout.split(' ')[0]!);
    }
    const listed = JSON.parse((await tokusim(['backup', 'list', repo, '--json'])).stdout) as Array<{ name: string; kind: string; parent: string | null; checkpointLsn: string; lsnRange: { first: string; last: string }; size: number; created: string }>;
    expect(listed.map((r) => [r.name, r.kind, r.parent])).toEqual([[names[0], 'full', null], [names[1], 'delta', names[0]], [names[2], 'full', null], [names[3], 'delta', names[2]]]);
    for (const r of listed) {
      expect(Object.keys(r).sort()).toEqual(['checkpointLsn', 'created', 'kind', 'lsnRange', 'name', 'parent', 'size']);
      expect(r.name).toContain(r.checkpointLsn.padStart(20, '0'));
      expect(BigInt(r.lsnRange.first)).toBeLessThanOrEqual(BigInt(r.checkpointLsn));
      expect(BigInt(r.lsnRange.last)).toBeGreaterThan(BigInt(r.checkpointLsn));
      expect(r.size).toBeGreaterThan(0);
      expect(Number.isFinite(Date.parse(r.created))).toBe(true);
    }
    // A delta stores less than the full before it.
    expect(listed[1]!.size).toBeLessThan(listed[0]!.size);
    const table = (await tokusim(['backup', 'list', repo])).stdout.split('\n');
    expect(table[0]).toBe('name\tkind\tparent\tcheckpoint_lsn\tlsn_range\tsize\tcreated');
    expect(table[2]).toBe([listed[1]!.name, 'delta', names[0], listed[1]!.checkpointLsn, `${listed[1]!.lsnRange.first}-${listed[1]!.lsnRange.last}`, listed[1]!.size, listed[1]!.created].join('\t'));

    const orphan = await tokusim(['backup', 'delete', repo, 'before', names[3]!]);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toBe(`tokusim: delete before ${names[3]}: it is a delta whose chain starts earlier; deleting before it would orphan it (use --find-full to keep its full base)\n`);
    const zero = await tokusim(['backup', 'delete', repo, 'retain', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/^tokusim: delete retain: N is a whole number >= 1.*\n$/);

    const dry = await tokusim(['backup', 'delete', repo, 'before', names[3]!, '--find-full']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(`would delete backup ${names[0]}\nwould delete backup ${names[1]}\ndry run: add --confirm to delete\n`);
    expect(readdirSync(join(repo, 'basebackups')).filter((n) => n.endsWith('.sentinel.json')).length).toBe(4);
    const done = await tokusim(['backup', 'delete', repo, 'retain', '1', '--confirm']);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe(`delete backup ${names[0]}\ndelete backup ${names[1]}\n`);
    expect((JSON.parse((await tokusim(['backup', 'list', repo, '--json'])).stdout) as Array<{ name: string }>).map((r) => r.name)).toEqual(names.slice(2));

    // What a delete that crashed after removing a sentinel leaves: verify warns (exit 0), the next delete removes it.
    const leftover = 'base_00000000000000000001';
    mkdirSync(join(repo, 'basebackups', leftover, 'p'), { recursive: true });
    writeFileSync(join(repo, 'basebackups', leftover, 'p', '000001'), 'part of a deleted backup');
    const warned = await tokusim(['backup', 'verify', repo]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain(`\nwarning: ${leftover}: a backup directory without a sentinel (left by an interrupted delete or push); a confirmed delete or the next push removes it\n`);
    expect(warned.stdout).not.toContain('problem:');
    const dryLeft = await tokusim(['backup', 'delete', repo, 'retain', '2']);
    expect(dryLeft.stdout).toBe(`would delete leftover backup directory ${leftover} (no sentinel)\ndry run: add --confirm to delete\n`);
    const doneLeft = await tokusim(['backup', 'delete', repo, 'retain', '2', '--confirm']);
    expect(doneLeft.code).toBe(0);
    expect(doneLeft.stdout).toBe(`delete leftover backup directory ${leftover} (no sentinel)\n`);
    expect(readdirSync(join(repo, 'basebackups', leftover, 'p'))).toEqual([]);
    expect((await tokusim(['backup', 'verify', repo])).stdout).not.toContain('warning:');

    const far = join(dir, 'far');
    const tooFar = await tokusim(['backup', 'fetch', repo, 'LATEST', far, '--until-lsn', '999999999']);
    expect(tooFar.code).toBe(2);
    expect(tooFar.stderr).toMatch(/^tokusim: .*the log available ends at LSN \d+, before the target 999999999 .*\n$/);
    expect(readdirSync(dir)).not.toContain('far');
    for (const bad of [['--until-lsn', '12x'], ['--until-time', 'yesterday'], ['--until-lsn', '5', '--until-time', '0'], ['--rate-limit', 'fast'], ['--concurrency', '0']]) {
      const r = await tokusim(['backup', 'fetch', repo, 'LATEST', far, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^tokusim: [^\n]*(until-lsn|until-time|rate-limit|concurrency)[^\n]*\n/);
    }
    expect(readdirSync(dir)).not.toContain('far');
    const timed = await tokusim(['backup', 'fetch', repo, 'LATEST', far, '--until-time', new Date().toISOString(), '--rate-limit', '512MiB']);
    expect(timed.stderr).toBe('');
    expect(timed.code).toBe(0);
    expect(await rows(far)).toEqual(await rows(env));
  }, 120_000);

  it('parses --rate-limit sizes', () => {
    expect(parseByteSize('512k', 'x')).toBe(512 * 1024);
    expect(parseByteSize('10MiB', 'x')).toBe(10 << 20);
    expect(parseByteSize('1.5M', 'x')).toBe(1.5 * (1 << 20));
    expect(parseByteSize('2000', 'x')).toBe(2000);
    expect(() => parseByteSize('0', 'x')).toThrow(/not a size/);
  });
});
