/**
 * Benchmark of backups (issue #16) on NodeStorage under bench-data/backup (git-ignored; or
 * BENCH_DIR). Not a test: it prints figures and asserts nothing. Side by side in one run:
 *
 *  1. Full push of a generated environment to a local repository vs a plain `cp -r` of the
 *     same directory, each measured BENCH_ROUNDS times (default 3) alternately, medians
 *     (target: push at >= 80% of cp's speed), and of `cp -r` followed by `sync` of the copied
 *     files (push fsyncs what it stores; cp does not). All read a file cache warmed by the
 *     generation and by each other. Speeds are MB/s of what each copies: cp every file of
 *     the directory, push the dictionaries and the log from the held checkpoint on.
 *  2. A delta after changing 1% of the rows, spread (every 100th key: most leaves change) and
 *     as one key range: bytes stored / environment size.
 *  3. Restore (fetch of the full backup) and recovery: time and MB/s.
 *  4. Push to s3rver on 127.0.0.1 (S3 over HTTP on the same machine): MB/s.
 *
 * BENCH_SCALE (default 1) scales the environment: 1 GB of rows at 1 (the issue's size); use
 * e.g. 0.05 for a smoke run. BENCH_CONCURRENCY sets the push's uploads in flight (default 4).
 * BENCH_JSON=<file> writes the figures (tools/bench/figures.ts).
 * BENCH_ONLY_PUSH=1 stops after part 1 (push against cp -r, and the push without the part copier).
 * Run after `make build`: node dist/tools/bench/backup-bench.js
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { S3Store } from '../../src/backup/s3-store.js';
import { LocalStore } from '../../src/backup/store.js';
import { Env } from '../../src/engine/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { Figures } from './figures.js';
import { startLocalS3 } from './s3rver-local.js';

const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? '3'));
const CONCURRENCY = Math.max(1, Number(process.env['BENCH_CONCURRENCY'] ?? '4'));
const DATA = process.env['BENCH_DIR'] ?? join(process.cwd(), 'bench-data', 'backup');
const VALUE_BYTES = 1000;
const ROWS = Math.max(1000, Math.round((SCALE * 1e9) / (VALUE_BYTES + 16)));
const FIGURES = new Figures('backup-bench');
const MB = 1e6;

const key = (i: number) => new TextEncoder().encode(`key${String(i).padStart(10, '0')}`);
function value(i: number, gen: number): Uint8Array {
  const v = new Uint8Array(VALUE_BYTES);
  let x = (i * 2654435761 + gen * 40503) >>> 0;
  for (let j = 0; j < v.length; j += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[j] = x & 0xff;
    v[j + 1] = (x >>> 8) & 0xff;
    v[j + 2] = (x >>> 16) & 0xff;
    v[j + 3] = (x >>> 24) & 0xff;
  }
  return v;
}

// A long lease: on a busy shared machine a checkpoint of a 1 GB environment can block the event loop past the default.
const openEnv = (dir: string) => Env.open(dir, { storage: new NodeStorage(), durability: 'none', checkpointPeriodMs: 0, owner: 'backup-bench', cacheSize: 256 << 20, leaseMs: 600_000 });

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; r: T }> {
  const t0 = performance.now();
  const r = await fn();
  return { ms: performance.now() - t0, r };
}

async function main(): Promise<void> {
  rmSync(DATA, { recursive: true, force: true });
  mkdirSync(DATA, { recursive: true });
  const envDir = join(DATA, 'env');
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`load average at start: ${load()}`);
  console.log(`backup-bench: ${ROWS} rows of ${VALUE_BYTES} bytes (BENCH_SCALE=${SCALE}), ${ROUNDS} round(s), push concurrency ${CONCURRENCY}, in ${DATA}`);

  // ---- generate
  const genStart = performance.now();
  let env = await openEnv(envDir);
  const t = await env.createDictionary('t');
  const BATCH = 500;
  for (let i = 0; i < ROWS; i += BATCH) {
    await env.writeBatch(Array.from({ length: Math.min(BATCH, ROWS - i) }, (_, j) => ({ dict: t, op: 'insert' as const, key: key(i + j), value: value(i + j, 0) })));
  }
  await env.checkpoint();
  await env.close();
  const envBytes = dirBytes(envDir);
  console.log(`environment: ${(envBytes / MB).toFixed(1)} MB (generated in ${((performance.now() - genStart) / 1000).toFixed(0)} s); load average now ${load()}`);

  // ---- 1. full push vs cp -r, alternately
  const cpMs: number[] = [];
  const cpSyncMs: number[] = [];
  const pushMs: number[] = [];
  const mainPushMs: number[] = [];
  let fullName = '';
  let pushedBytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const copy = join(DATA, `cp-${r}`);
    const c = await timed(async () => spawnSync('cp', ['-r', envDir, copy], { stdio: 'inherit' }));
    if (c.r.status !== 0) throw new Error('cp -r failed');
    cpMs.push(c.ms);
    rmSync(copy, { recursive: true, force: true });
    // The same copy made durable (push fsyncs what it stores; cp does not).
    const cs = await timed(async () => spawnSync('sh', ['-c', 'cp -r "$0" "$1" && sync "$1"/*', envDir, copy], { stdio: 'inherit' }));
    if (cs.r.status !== 0) throw new Error('cp -r && sync failed');
    cpSyncMs.push(cs.ms);
    rmSync(copy, { recursive: true, force: true });
    const repoDir = join(DATA, `repo-${r}`);
    env = await openEnv(envDir);
    const p = await timed(() => env.backup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), { concurrency: CONCURRENCY }));
    await env.close();
    pushMs.push(p.ms);
    pushedBytes = p.r.bytes.total;
    fullName = p.r.name;
    if (r < ROUNDS - 1) rmSync(repoDir, { recursive: true, force: true });
    // The same push with its parts read, hashed and put through the main thread (no part copier): the path before it.
    const mainRepo = join(DATA, `repo-main-${r}`);
    env = await openEnv(envDir);
    const pm = await timed(() => env.backup(new BackupRepo(new LocalStore(new NodeStorage(), mainRepo)), { concurrency: CONCURRENCY, copyThreads: 0 }));
    await env.close();
    mainPushMs.push(pm.ms);
    rmSync(mainRepo, { recursive: true, force: true });
    console.log(`round ${r + 1}: cp -r ${c.ms.toFixed(0)} ms, cp -r + sync ${cs.ms.toFixed(0)} ms, push ${p.ms.toFixed(0)} ms, push without part copier ${pm.ms.toFixed(0)} ms; load average ${load()}`);
  }
  const repoDir = join(DATA, `repo-${ROUNDS - 1}`);
  const cpMBps = envBytes / MB / (median(cpMs) / 1000);
  const pushMBps = pushedBytes / MB / (median(pushMs) / 1000);
  console.log(`cp -r:      ${median(cpMs).toFixed(0)} ms  ${cpMBps.toFixed(1)} MB/s  (rounds: ${cpMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`full push:  ${median(pushMs).toFixed(0)} ms  ${pushMBps.toFixed(1)} MB/s  (rounds: ${pushMs.map((x) => x.toFixed(0)).join(', ')}; ${(pushedBytes / MB).toFixed(1)} MB copied)`);
  const ratio = pushMBps / cpMBps;
  // Per round, push against the cp of the same round (they ran back to back).
  const perRound = pushMs.map((p, i) => (pushedBytes / p) / (envBytes / cpMs[i]!));
  console.log(`push / cp per round: ${perRound.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}`);
  const perRoundSync = pushMs.map((p, i) => (pushedBytes / p) / (envBytes / cpSyncMs[i]!));
  console.log(`push / (cp + sync) per round: ${perRoundSync.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}`);
  const mainPerRound = mainPushMs.map((p, i) => (pushedBytes / p) / (envBytes / cpMs[i]!));
  console.log(`push without part copier: ${median(mainPushMs).toFixed(0)} ms (rounds: ${mainPushMs.map((x) => x.toFixed(0)).join(', ')}); / cp per round: ${mainPerRound.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}; push time / its time per round: ${pushMs.map((p, i) => (p / mainPushMs[i]!).toFixed(2)).join(', ')}`);
  console.log(`cp -r+sync: ${median(cpSyncMs).toFixed(0)} ms  ${(envBytes / MB / (median(cpSyncMs) / 1000)).toFixed(1)} MB/s  (rounds: ${cpSyncMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`push speed / cp speed: ${(ratio * 100).toFixed(0)}%  (target >= 80%); / cp+sync speed: ${((pushMBps / (envBytes / MB / (median(cpSyncMs) / 1000))) * 100).toFixed(0)}%`);
  console.log('  (cp copies every file of the directory, push only the dictionaries and the log from the checkpoint on; speeds are per byte each copied)');
  FIGURES.add('backup.push.mbps', 'full push to a local repository', 'MB/s', pushMBps, 'higher');
  FIGURES.add('backup.cp.mbps', 'cp -r of the same environment', 'MB/s', cpMBps, 'neither');
  FIGURES.add('backup.push.vs-cp', 'push speed / cp -r speed', '%', ratio * 100, 'higher');
  FIGURES.add('backup.push.vs-cp-sync', 'push speed / (cp -r + sync) speed', '%', (pushMBps / (envBytes / MB / (median(cpSyncMs) / 1000))) * 100, 'higher');

  if (process.env['BENCH_ONLY_PUSH'] === '1') {
    FIGURES.writeIfRequested();
    return;
  }

  // ---- 2. delta after changing 1% of the rows
  env = await openEnv(envDir);
  const td = await env.openDictionary('t');
  const step = 100;
  const changes: number[] = [];
  for (let i = 37; i < ROWS; i += step) changes.push(i);
  for (let i = 0; i < changes.length; i += BATCH) {
    await env.writeBatch(changes.slice(i, i + BATCH).map((k) => ({ dict: td, op: 'insert' as const, key: key(k), value: value(k, 1) })));
  }
  const d = await timed(() => env.backup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), { deltaMaxSteps: 2, deltaOrigin: 'LATEST_FULL', concurrency: CONCURRENCY }));
  const deltaShare = d.r.bytes.sent / d.r.bytes.total;
  console.log(`delta after changing ${changes.length} rows (1%, every 100th key): ${(d.r.bytes.sent / MB).toFixed(2)} MB stored of ${(d.r.bytes.total / MB).toFixed(1)} MB = ${(deltaShare * 100).toFixed(2)}%  (${d.ms.toFixed(0)} ms; ${d.r.kind})`);
  FIGURES.add('backup.delta.share', 'delta bytes / environment after a 1% change (spread)', '%', deltaShare * 100, 'lower');
  // The same number of rows, one contiguous key range: the changed leaves are ~1% of them.
  const from = Math.floor(ROWS / 2);
  for (let i = 0; i < changes.length; i += BATCH) {
    await env.writeBatch(Array.from({ length: Math.min(BATCH, changes.length - i) }, (_, j) => ({ dict: td, op: 'insert' as const, key: key(from + i + j), value: value(from + i + j, 2) })));
  }
  const d2 = await timed(() => env.backup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), { deltaMaxSteps: 2, concurrency: CONCURRENCY }));
  await env.close();
  const share2 = d2.r.bytes.sent / d2.r.bytes.total;
  console.log(`delta after changing ${changes.length} rows (1%, one key range): ${(d2.r.bytes.sent / MB).toFixed(2)} MB = ${(share2 * 100).toFixed(2)}%  (${d2.ms.toFixed(0)} ms; ${d2.r.kind} of ${d2.r.parent})`);
  FIGURES.add('backup.delta.share-range', 'delta bytes / environment after a 1% change (one range)', '%', share2 * 100, 'lower');

  // ---- 3. restore + recovery of the full backup
  const dest = join(DATA, 'restored');
  const f = await timed(() => fetchBackup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), fullName, new NodeStorage(), dest, { envOptions: { owner: 'backup-bench' } }));
  console.log(`restore + recovery of ${fullName}: ${f.ms.toFixed(0)} ms  ${(f.r.bytes / MB / (f.ms / 1000)).toFixed(1)} MB/s`);
  FIGURES.add('backup.restore.ms', 'restore + recovery of the full backup', 'ms', f.ms, 'lower');
  FIGURES.add('backup.restore.mbps', 'restore + recovery of the full backup', 'MB/s', f.r.bytes / MB / (f.ms / 1000), 'higher');
  rmSync(dest, { recursive: true, force: true });

  // ---- 4. push to s3rver
  const s3 = await startLocalS3('bench-bucket');
  try {
    env = await openEnv(envDir);
    const store = new S3Store({ bucket: s3.bucket, prefix: 'bench', client: s3.client });
    const s = await timed(() => env.backup(new BackupRepo(store), { concurrency: CONCURRENCY }));
    await env.close();
    const mbps = s.r.bytes.sent / MB / (s.ms / 1000);
    console.log(`push to s3rver (127.0.0.1): ${s.ms.toFixed(0)} ms  ${mbps.toFixed(1)} MB/s`);
    FIGURES.add('backup.s3.mbps', 'full push to s3rver on 127.0.0.1', 'MB/s', mbps, 'higher');
  } finally {
    await s3.stop();
  }
  console.log(`load average at end: ${load()}`);
  FIGURES.writeIfRequested();
  rmSync(DATA, { recursive: true, force: true });
}

await main();
