import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { fetchBackup } from '../../src/backup/fetch.js';
import { Lease } from '../../src/backup/lease.js';
import { LOCK_KEY } from '../../src/backup/manifest.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { isTransient, makeS3Client, parseS3Url, S3Store } from '../../src/backup/s3-store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { sha256Hex } from '../../src/backup/hash.js';
import { readOpenFile } from '../../src/backup/store.js';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3 } from '../../tools/bench/s3rver-local.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const warnings: string[] = [];
const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
process.on('warning', onWarning);

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3.stop();
  process.off('warning', onWarning);
});

/** A client whose send fails as `fault` says before (or instead of) the real call. */
function faulty(fault: (cmd: unknown, n: number) => unknown): { client: S3Client; calls: () => number } {
  const client = makeS3Client({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
  const real = client.send.bind(client) as (c: unknown) => Promise<unknown>;
  let n = 0;
  (client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (cmd: unknown) => {
    const err = fault(cmd, n++);
    if (err !== undefined) throw err;
    return real(cmd);
  };
  return { client, calls: () => n };
}

const http = (status: number, name: string): Error => Object.assign(new Error(`${name} (injected)`), { name, $metadata: { httpStatusCode: status } });
const reset = (): Error => Object.assign(new Error('socket hang up (injected)'), { code: 'ECONNRESET' });

async function smallEnv(h: ReturnType<typeof backupHarness>) {
  const env = await h.open();
  const t = await env.createDictionary('t');
  for (let i = 0; i < 200; i += 20) await env.writeBatch(Array.from({ length: 20 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${i + j}`), value: enc(`v${i + j}`) })));
  return { env, t };
}

describe('backup: S3 repository (s3rver on 127.0.0.1)', () => {
  // Scenario: a push to s3://bucket/prefix lists, verifies, and fetches back to the committed rows; a delta composes over S3 too.
  it('Scenario: push, delta, list, verify and fetch through S3', async () => {
    const h = backupHarness();
    const { env, t } = await smallEnv(h);
    const store = new S3Store({ ...parseS3Url(`s3://${s3.bucket}/site-a/env1`), endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    const repo = new BackupRepo(store);
    const full = await env.backup(repo, { deltaMaxSteps: 1 });
    await env.put(t, enc('k3'), enc('changed'));
    const delta = await env.backup(repo, { deltaMaxSteps: 1 });
    expect(delta.kind).toBe('delta');
    const live = await dumpAll(env);
    await env.close();
    const again = new BackupRepo(store);
    expect(await again.names()).toEqual([full.name, delta.name]);
    expect((await verifyRepo(again, undefined)).problems).toEqual([]);
    await fetchBackup(again, 'LATEST', h.storage, '/from-s3', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/from-s3')).toEqual(live);
    // Another prefix of the same bucket is another repository.
    expect(await new BackupRepo(new S3Store({ bucket: s3.bucket, prefix: 'site-b', client: s3.client })).names()).toEqual([]);
    store.destroy();
  });

  // Scenario: fetch --concurrency through S3: a full backup and a delta of many small parts fetched with 1 and 4 downloads at once give byte-identical DEST files and the committed rows.
  it('Scenario: fetch from S3 with concurrency 1 and 4: identical results', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    for (let i = 0; i < 1200; i += 100) await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(40)) })));
    const store = new S3Store({ bucket: s3.bucket, prefix: 'fetch-concurrency', endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
    const repo = new BackupRepo(store);
    const full = await env.backup(repo, { partBytes: 16 << 10, deltaMaxSteps: 1, concurrency: 4 });
    expect(full.files.some((f) => f.parts.length >= 4)).toBe(true);
    for (let i = 0; i < 1200; i += 53) await env.put(t, enc(`k${String(i).padStart(5, '0')}`), enc('changed'));
    expect((await env.backup(repo, { partBytes: 16 << 10, deltaMaxSteps: 1 })).kind).toBe('delta');
    const live = await dumpAll(env);
    await env.close();
    const files: Array<Record<string, string>> = [];
    for (const c of [1, 4]) {
      await fetchBackup(new BackupRepo(store), 'LATEST', h.storage, `/s3-c${c}`, { concurrency: c, recover: false });
      const out: Record<string, string> = {};
      for (const n of await h.storage.list(`/s3-c${c}`)) {
        const f = await h.storage.open(`/s3-c${c}/${n}`, 'read');
        out[n] = sha256Hex(await readOpenFile(f));
        await f.close();
      }
      files.push(out);
      expect(await dumpDir(h.storage, h.clock, `/s3-c${c}`)).toEqual(live);
    }
    expect(Object.keys(files[0]!).length).toBeGreaterThan(3);
    expect(files[1]).toEqual(files[0]);
    store.destroy();
  });

  // Scenario: 503s and connection resets on the first calls are retried with growing waits and the push completes; a 403 is not retried; endless 503s end in one clear error.
  it('Scenario: transient failures are retried with backoff, others fail at once with TOKUSIM_REMOTE_STORAGE', async () => {
    const h = backupHarness();
    const { env } = await smallEnv(h);
    const k = 5;
    const f = faulty((_c, n) => (n < k ? (n % 2 === 0 ? http(503, 'ServiceUnavailable') : reset()) : undefined));
    const waits: number[] = [];
    const retries: string[] = [];
    const store = new S3Store({ bucket: s3.bucket, prefix: 'retry', client: f.client, retry: { sleep: async (ms) => void waits.push(ms) }, onRetry: (r) => retries.push(r.cause) });
    const repo = new BackupRepo(store);
    const m = await env.backup(repo, {});
    expect(retries.length).toBe(k);
    expect(retries[0]).toMatch(/HTTP 503/);
    expect(retries[1]).toMatch(/ECONNRESET/);
    // Exponential: each cap doubles, and a wait lies in [cap/2, cap].
    waits.forEach((w, i) => {
      const cap = 100 * 2 ** i;
      expect(w).toBeGreaterThanOrEqual(cap / 2);
      expect(w).toBeLessThanOrEqual(cap);
    });
    expect(await repo.names()).toEqual([m.name]);

    const forbidden = faulty(() => http(403, 'AccessDenied'));
    const denied = new S3Store({ bucket: s3.bucket, prefix: 'denied', client: forbidden.client, retry: { sleep: async () => undefined } });
    await expect(new BackupRepo(denied).names()).rejects.toMatchObject({ code: 'TOKUSIM_REMOTE_STORAGE', message: expect.stringMatching(/^s3:\/\/tokusim-backups\/denied\/basebackups: S3 LIST of basebackups failed: AccessDenied, HTTP 403/) });
    expect(forbidden.calls()).toBe(1);

    const down = faulty(() => http(503, 'ServiceUnavailable'));
    const store2 = new S3Store({ bucket: s3.bucket, prefix: 'down', client: down.client, retry: { attempts: 4, sleep: async () => undefined } });
    await expect(env.backup(new BackupRepo(store2), {})).rejects.toThrow(/S3 GET of locks\/repo\.lease\.json failed after 4 tries: ServiceUnavailable, HTTP 503/);
    expect(down.calls()).toBe(4);
    await env.close();
    expect(isTransient(Object.assign(new Error('x'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }))).toBe(false);
  });

  // Scenario: when the sentinel's PUT fails for good, every part and the manifest are in the bucket but the backup does not exist.
  it('Scenario: the sentinel is written last; without it the backup is invisible', async () => {
    const h = backupHarness();
    const { env } = await smallEnv(h);
    const keys: string[] = [];
    const f = faulty((cmd) => {
      if (!(cmd instanceof PutObjectCommand)) return undefined;
      if (cmd.input.Key!.includes('/basebackups/')) keys.push(cmd.input.Key!);
      return cmd.input.Key!.endsWith('.sentinel.json') ? http(403, 'AccessDenied') : undefined;
    });
    const repo = new BackupRepo(new S3Store({ bucket: s3.bucket, prefix: 'nosentinel', client: f.client }));
    await expect(env.backup(repo, {})).rejects.toThrow(/sentinel/);
    await env.close();
    expect(keys[keys.length - 1]).toMatch(/\.sentinel\.json$/);
    expect(keys[keys.length - 2]).toMatch(/manifest\.json$/);
    expect(keys.filter((k) => k.includes('/p/')).length).toBeGreaterThan(0);
    expect(await new BackupRepo(new S3Store({ bucket: s3.bucket, prefix: 'nosentinel', client: s3.client })).names()).toEqual([]);
  });

  // Scenario: what s3rver does with S3's conditional writes, which the lease sends: it accepts the headers but does not check them on PUT (so lease-race.test.ts shows the race on a store double); the lease's whole life still works through it: taken, refused to another, refreshed with If-Match, released.
  it('Scenario: s3rver and conditional writes: headers accepted, not checked; a lease works through them', async () => {
    const store = new S3Store({ bucket: s3.bucket, prefix: 'cond', client: s3.client });
    const first = await store.conditional.putIf('x', enc('one'), { ifAbsent: true });
    expect(first).toMatch(/^"[0-9a-f]+"$/);
    expect((await store.conditional.getTagged('x'))?.tag).toBe(first);
    // Real S3 answers 412 here (the object exists); s3rver 3.7.1 writes. docs/backup.md says so.
    expect(await store.conditional.putIf('x', enc('two'), { ifAbsent: true })).toBeDefined();
    expect(new TextDecoder().decode(await store.get('x'))).toBe('two');

    let now = 0;
    const lease = await Lease.acquire(store, LOCK_KEY, { id: 'a:1', op: 'push', now: () => now, ttlMs: 30_000 });
    await expect(Lease.acquire(store, LOCK_KEY, { id: 'b:2', op: 'push', now: () => now })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: expect.stringContaining('is held by push a:1 until 1970-01-01T00:00:30.000Z') });
    now = 20_000;
    await lease.refresh();
    expect(JSON.parse(new TextDecoder().decode(await store.get(LOCK_KEY))).expireAtMs).toBe(50_000);
    expect(await lease.release()).toBe(true);
    expect(await store.get(LOCK_KEY)).toBeUndefined();
  });

  // Scenario: what s3rver does with a conditional delete (`If-Match` on DeleteObject, which release() sends): it ignores the header and deletes; deleteIf still refuses an object whose ETag is not the one given (it reads first), and deletes the one that is.
  it('Scenario: s3rver and conditional deletes: If-Match ignored; deleteIf checks by reading first', async () => {
    const store = new S3Store({ bucket: s3.bucket, prefix: 'cdel', client: s3.client });
    expect(await store.conditional.putIf('x', enc('one'), { ifAbsent: true })).toBeDefined();
    // Real S3 answers 412 (the ETag differs) and keeps the object; s3rver 3.7.1 deletes it.
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'cdel/x', IfMatch: '"not-its-etag"' }));
    expect(await store.get('x')).toBeUndefined();
    const again = await store.conditional.putIf('x', enc('two'), { ifAbsent: true });
    expect(await store.conditional.deleteIf('x', '"not-its-etag"')).toBe(false);
    expect(new TextDecoder().decode(await store.get('x'))).toBe('two');
    expect(await store.conditional.deleteIf('x', again!)).toBe(true);
    expect(await store.get('x')).toBeUndefined();
  });

  it('Scenario: bad URLs are refused; the SDK printed no Node-version warning', () => {
    expect(parseS3Url('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(() => parseS3Url('s3://ab/x')).toThrow(/not an S3 repository URL/);
    expect(() => parseS3Url('s3:/bucket')).toThrow(/not an S3 repository URL/);
    makeS3Client({ endpoint: s3.endpoint });
    return new Promise<void>((r) => setImmediate(r)).then(() => expect(warnings.filter((w) => /NodeVersionSupport|AWS SDK/.test(w))).toEqual([]));
  });
});
