/**
 * `tokusim backup push|fetch|list|verify|delete` and `tokusim log archive` (docs/backup.md).
 * Parses arguments, calls src/backup, prints. Exit codes: those of tools/cli-support.ts; verify
 * exits VIOLATION (6) when it found a problem.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { archiveClosedLogs, archivedLogs } from '../../src/backup/archive.js';
import { executeDelete, planDelete, type DeleteTarget } from '../../src/backup/delete.js';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { TokusimError } from '../../src/base/errors.js';
import { Env } from '../../src/engine/env.js';
import { classifyDirectory, notAnEnvironment } from '../../src/engine/env-identity.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { EXIT, runCommand } from '../cli-support.js';
import { startProgress } from '../progress.js';

/** Environment variable naming the S3 endpoint of s3:// repositories (README "Backups"). */
export const S3_ENDPOINT_ENV = 'TOKUSIM_S3_ENDPOINT';

/**
 * A repository: a directory, or `s3://bucket/prefix` at --s3-endpoint / $TOKUSIM_S3_ENDPOINT
 * (default AWS). The S3 module (and the SDK) is loaded only for an s3:// repository, so other
 * commands start without it.
 */
async function repoAt(where: string, endpoint?: string): Promise<BackupRepo> {
  if (!where.startsWith('s3://')) return new BackupRepo(new LocalStore(new NodeStorage(), where));
  const { parseS3Url, S3Store } = await import('../../src/backup/s3-store.js');
  const ep = endpoint ?? process.env[S3_ENDPOINT_ENV];
  return new BackupRepo(new S3Store({ ...parseS3Url(where), ...(ep !== undefined && ep !== '' ? { endpoint: ep } : {}) }));
}

/**
 * A repository that must exist already (list, verify, delete, fetch): a local path that is
 * missing or not a directory is a bad target (exit 2), so a mistyped path is never reported
 * as an empty repository. (An S3 prefix cannot be told from an empty one.)
 */
async function existingRepoAt(where: string, endpoint?: string): Promise<BackupRepo> {
  if (!where.startsWith('s3://')) {
    const storage = new NodeStorage();
    const refuse = (why: string) => new TokusimError('bad-argument', `no backup repository here: ${why}`, { file: where });
    if (!(await storage.exists(where))) throw refuse('no such directory');
    try {
      await storage.list(where);
    } catch (err) {
      if (ioErrorCode(err) === 'ENOTDIR') throw refuse('a file, not a directory');
      throw err;
    }
  }
  return repoAt(where, endpoint);
}

/**
 * The environment a push or an archive reads: an existing tokusim environment, checked before
 * anything is opened, so a mistyped path is refused (exit 9) instead of created and backed up.
 */
async function requireEnvironment(dir: string, action: string): Promise<void> {
  const found = await classifyDirectory(new ReadOnlyStorage(new NodeStorage()), dir);
  if (found.kind !== 'tokusim') throw notAnEnvironment(dir, found, action);
}

function endpointOf(a: object): string | undefined {
  const v = (a as { 's3-endpoint'?: unknown })['s3-endpoint'];
  return typeof v === 'string' ? v : undefined;
}

function parseTime(s: string): number {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) throw new TokusimError('bad-argument', `--until-time: not a time: ${s} (an ISO time or milliseconds since the epoch)`, { actual: s });
  return ms;
}

/** `123`, `64k`, `10MiB`, `1.5M`, `2G` (powers of 1024) as bytes. */
export function parseByteSize(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?[bB])?$/.exec(s.trim());
  const n = m === null ? NaN : Number(m[1]) * 1024 ** ['', 'k', 'm', 'g'].indexOf(m[2]!.toLowerCase());
  if (!Number.isFinite(n) || n <= 0) throw new TokusimError('bad-argument', `${what}: not a size: ${s} (bytes, or with k, M or G: 512k, 10MiB)`, { actual: s });
  return Math.floor(n);
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new TokusimError('bad-argument', `${what}: a whole number >= 1, not ${v}`, { actual: String(v) });
  return v;
}

const mib = (b: number): number => Math.round(b / (1 << 20));

type PushArgv = { env: string; to: string; 'delta-max-steps': number; 'delta-origin': string; concurrency: number; 'rate-limit'?: string; 'lease-id'?: string; 'record-contents': boolean };

const push: CommandModule<object, PushArgv> = {
  command: 'push <env>',
  describe: 'hot backup of an environment into a repository (a directory or s3://bucket/prefix)',
  builder: (y) =>
    y
      .positional('env', { type: 'string', demandOption: true, describe: 'environment directory (open or closed)' })
      .option('to', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .option('delta-max-steps', { type: 'number', default: 0, describe: 'deltas allowed after a full backup' })
      .option('delta-origin', { choices: ['LATEST', 'LATEST_FULL'], default: 'LATEST', describe: 'backup a delta is taken against: the newest one, or the newest full one' })
      .option('concurrency', { type: 'number', default: 4, describe: 'parts uploaded at once' })
      .option('rate-limit', { type: 'string', describe: 'at most this many bytes per second (512k, 10MiB, ...)' })
      .option('lease-id', { type: 'string', describe: 'id in the repository lease (default host:pid)' })
      .option('record-contents', { type: 'boolean', default: false, describe: 'restore and recover the copy in a scratch directory and record its rows (for verify --restore-check)' })
      .example('$0 backup push ./env --to ./repo', 'a full backup into a local repository')
      .example('$0 backup push ./env --to ./repo --delta-max-steps 6', 'a delta (changed blocks only) unless 6 deltas already follow the last full backup')
      .example('$0 backup push ./env --to s3://bucket/db1 --rate-limit 50MiB', 'into S3 (endpoint from --s3-endpoint or $' + S3_ENDPOINT_ENV + '), at most 50 MiB/s') as Argv<PushArgv>,
  handler: (a) =>
    runCommand(async () => {
      const concurrency = positiveInt(a.concurrency, '--concurrency');
      const rateLimit = a['rate-limit'] === undefined ? undefined : parseByteSize(a['rate-limit'], '--rate-limit');
      await requireEnvironment(a.env, 'back it up');
      const repo = await repoAt(a.to, endpointOf(a));
      const env = await Env.open(a.env, {});
      const progress = startProgress({ title: 'backup push', unit: 'MiB' });
      const notes: string[] = [];
      const scratch = a['record-contents'] ? await mkdtemp(join(tmpdir(), 'tokusim-push-')) : undefined;
      let m;
      try {
        m = await env.backup(repo, {
          deltaMaxSteps: a['delta-max-steps'], deltaOrigin: a['delta-origin'] as 'LATEST' | 'LATEST_FULL', concurrency,
          ...(rateLimit !== undefined ? { rateLimit } : {}),
          ...(a['lease-id'] !== undefined ? { leaseId: a['lease-id'] } : {}),
          onProgress: (p) => progress.update(mib(p.done), mib(p.total), p.file),
          onResume: (r) => notes.push(`${r.exact ? 'resumed' : 'resuming'} ${r.from}: ${r.reason}`),
          onWarning: (w) => notes.push(`warning: ${w}`),
          ...(scratch !== undefined ? { contents: { storage: new NodeStorage(), dir: join(scratch, 'restore') } } : {}),
        });
      } finally {
        progress.stop();
        await env.close();
        if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
      }
      for (const n of notes) process.stderr.write(`tokusim: ${n}\n`);
      process.stdout.write(`${m.name} ${m.kind} checkpoint ${m.checkpoint.beginLsn} log ${m.log.firstLsn}-${m.log.lastLsn} sent ${m.bytes.sent} of ${m.bytes.total} bytes${m.bytes.reused !== undefined ? ` (${m.bytes.reused} stored by the interrupted push)` : ''}${m.contents !== undefined ? `; contents ${m.contents.rows} rows at LSN ${m.contents.atLsn}` : ''}\n`);
    }),
};

/** A warning of the library (a lease found taken over when released): stderr, the command still succeeds. */
function warnOnStderr(message: string): void {
  process.stderr.write(`tokusim: warning: ${message}\n`);
}

type FetchArgv = { repo: string; name: string; dest: string; 'until-lsn'?: string; 'until-time'?: string; concurrency: number; 'rate-limit'?: string };

const fetch: CommandModule<object, FetchArgv> = {
  command: 'fetch <repo> <name> <dest>',
  describe: 'restore a backup (NAME or LATEST) into DEST (empty or absent), optionally to a point in time',
  builder: (y) =>
    y
      .positional('repo', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .positional('name', { type: 'string', demandOption: true, describe: 'backup name (from backup list), or LATEST' })
      .positional('dest', { type: 'string', demandOption: true, describe: 'directory to restore into (empty or absent)' })
      .option('until-lsn', { type: 'string', describe: 'replay the archived log up to this LSN' })
      .option('until-time', { type: 'string', describe: 'replay up to the last timestamped record at or before this time (ISO, or ms since the epoch)' })
      .option('concurrency', { type: 'number', default: 4, describe: 'parts downloaded at once' })
      .option('rate-limit', { type: 'string', describe: 'download at most this many bytes per second (512k, 10MiB, ...)' })
      .conflicts('until-lsn', 'until-time')
      .example('$0 backup fetch ./repo LATEST ./restored', 'restore the newest backup')
      .example('$0 backup fetch ./repo LATEST ./restored --until-time 2024-05-01T12:00:00Z', 'restore to a point in time through the archived log') as Argv<FetchArgv>,
  handler: (a) =>
    runCommand(async () => {
      const opts: Parameters<typeof fetchBackup>[4] = { concurrency: positiveInt(a.concurrency, '--concurrency') };
      if (a['until-lsn'] !== undefined) {
        if (!/^\d+$/.test(a['until-lsn'])) throw new TokusimError('bad-argument', `--until-lsn: not an LSN: ${a['until-lsn']}`, { actual: a['until-lsn'] });
        opts.untilLsn = BigInt(a['until-lsn']);
      }
      if (a['until-time'] !== undefined) opts.untilTimeMs = parseTime(a['until-time']);
      if (a['rate-limit'] !== undefined) opts.rateLimit = parseByteSize(a['rate-limit'], '--rate-limit');
      const progress = startProgress({ title: 'backup fetch', unit: 'MiB' });
      opts.onProgress = (p) => progress.update(mib(p.done), mib(p.total), p.file);
      // Printed once the progress line is gone.
      const warnings: string[] = [];
      opts.onWarning = (w) => warnings.push(w);
      let r;
      try {
        r = await fetchBackup(await existingRepoAt(a.repo, endpointOf(a)), a.name, new NodeStorage(), a.dest, opts);
      } finally {
        progress.stop();
        warnings.forEach(warnOnStderr);
      }
      process.stdout.write(`restored ${r.name} (chain ${r.chain.join(' <- ')}) to ${a.dest}, log up to LSN ${r.lastLsn}\n`);
    }),
};

const list: CommandModule<object, { repo: string; json: boolean }> = {
  command: 'list <repo>',
  describe: 'the backups of a repository',
  builder: (y) =>
    y
      .positional('repo', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON array of the backups instead of a table' })
      .example('$0 backup list ./repo', 'one tab-separated line per backup: name, kind, parent, LSNs, size, time')
      .example('$0 backup list ./repo --json', 'the same as JSON') as Argv<{ repo: string; json: boolean }>,
  handler: (a) =>
    runCommand(async () => {
      const repo = await existingRepoAt(a.repo, endpointOf(a));
      const archive = await archivedLogs(repo.store);
      const archiveEnd = archive.length === 0 ? null : archive[archive.length - 1]!.lastLsn;
      const rows = (await repo.manifests()).map((m) => ({
        name: m.name, kind: m.kind, parent: m.parent, checkpointLsn: m.checkpoint.beginLsn,
        lsnRange: { first: m.log.firstLsn, last: archiveEnd !== null && BigInt(archiveEnd) > BigInt(m.log.lastLsn) ? archiveEnd : m.log.lastLsn },
        size: m.bytes.sent, created: m.createdAt,
      }));
      if (a.json) {
        process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
        return;
      }
      process.stdout.write(['name', 'kind', 'parent', 'checkpoint_lsn', 'lsn_range', 'size', 'created'].join('\t') + '\n');
      for (const r of rows) process.stdout.write([r.name, r.kind, r.parent ?? '-', r.checkpointLsn, `${r.lsnRange.first}-${r.lsnRange.last}`, r.size, r.created].join('\t') + '\n');
    }),
};

const verify: CommandModule<object, { repo: string; name?: string; 'restore-check': boolean; json: boolean }> = {
  command: 'verify <repo> [name]',
  describe: 'check every checksum and LSN of a repository; --restore-check restores into a scratch directory',
  builder: (y) =>
    y
      .positional('repo', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .positional('name', { type: 'string', describe: 'one backup (or LATEST); default every backup' })
      .option('restore-check', { type: 'boolean', default: false, describe: 'also restore into a scratch directory, recover and compare the rows (default backup LATEST)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of text' })
      .example('$0 backup verify ./repo', 'every checksum and LSN of every backup (exit 6 on a problem)')
      .example('$0 backup verify ./repo LATEST --restore-check', 'then a scratch restore with recovery') as Argv<{ repo: string; name?: string; 'restore-check': boolean; json: boolean }>,
  handler: (a) =>
    runCommand(async () => {
      const repo = await existingRepoAt(a.repo, endpointOf(a));
      const scratch = a['restore-check'] ? await mkdtemp(join(tmpdir(), 'tokusim-verify-')) : undefined;
      try {
        const name = a.name ?? (a['restore-check'] ? 'LATEST' : undefined);
        const r = await verifyRepo(repo, name, scratch === undefined ? {} : { restoreCheck: { storage: new NodeStorage(), dir: (n) => join(scratch, n) } });
        if (a.json) process.stdout.write(JSON.stringify(r, null, 1) + '\n');
        else {
          process.stdout.write(`checked ${r.backups.length} backup(s), ${r.archivedLogs} archived log file(s)${r.restoreChecked.length > 0 ? `, restore-checked ${r.restoreChecked.join(', ')}` : ''}\n`);
          for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
          for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
          for (const p of r.problems) process.stdout.write(`problem: ${p}\n`);
        }
        return r.problems.length === 0 ? EXIT.OK : EXIT.VIOLATION;
      } finally {
        if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
      }
    }),
};

const del: CommandModule<object, { repo: string; mode: string; arg: string; full: boolean; 'find-full': boolean; confirm: boolean }> = {
  command: 'delete <repo> <mode> <arg>',
  describe: 'delete backups: retain N [--full] | before NAME [--find-full]; a dry run unless --confirm',
  builder: (y) =>
    y
      .positional('repo', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .positional('mode', { choices: ['retain', 'before'], demandOption: true, describe: 'retain: keep the N newest; before: delete those older than NAME' })
      .positional('arg', { type: 'string', demandOption: true, describe: 'N for retain, a backup name for before' })
      .option('full', { type: 'boolean', default: false, describe: 'retain: count full backups only (each with its deltas)' })
      .option('find-full', { type: 'boolean', default: false, describe: 'before: when NAME is a delta, delete only what is older than its full backup' })
      .option('confirm', { type: 'boolean', default: false, describe: 'delete (without it, only print what would be deleted)' })
      .example('$0 backup delete ./repo retain 2', 'what keeping the 2 newest backups would delete (a dry run)')
      .example('$0 backup delete ./repo before base_00000000000000004711 --confirm', 'delete every backup older than that one, and archived log files no remaining backup needs') as Argv<{ repo: string; mode: string; arg: string; full: boolean; 'find-full': boolean; confirm: boolean }>,
  handler: (a) =>
    runCommand(async () => {
      const repo = await existingRepoAt(a.repo, endpointOf(a));
      const target: DeleteTarget = a.mode === 'retain' ? { retain: Number(a.arg), fullOnly: a.full } : { before: a.arg, findFull: a['find-full'] };
      const plan = await planDelete(repo, target);
      for (const b of plan.backups) process.stdout.write(`${a.confirm ? 'delete' : 'would delete'} backup ${b}\n`);
      for (const l of plan.logs) process.stdout.write(`${a.confirm ? 'delete' : 'would delete'} archived log ${l}\n`);
      for (const b of plan.leftovers.backups) process.stdout.write(`${a.confirm ? 'delete' : 'would delete'} leftover backup directory ${b} (no sentinel)\n`);
      for (const l of plan.leftovers.logs) process.stdout.write(`${a.confirm ? 'delete' : 'would delete'} leftover archived log ${l} (no sidecar)\n`);
      if (a.confirm) await executeDelete(repo, plan, { onWarning: warnOnStderr });
      else process.stdout.write('dry run: add --confirm to delete\n');
    }),
};

export const backupCommandModule: CommandModule<object, object> = {
  command: 'backup',
  describe: 'hot backups: push, fetch (with point-in-time recovery), list, verify, delete',
  builder: (y) => y.option('s3-endpoint', { type: 'string', describe: `endpoint of s3:// repositories (default $${S3_ENDPOINT_ENV}, else AWS)` }).command(push).command(fetch).command(list).command(verify).command(del).demandCommand(1, 'name a backup command: push, fetch, list, verify or delete (see tokusim backup --help)')
      .example('$0 backup push ./env --to ./repo --concurrency 4', 'hot full backup into a local repository')
      .example('$0 backup push ./env --to s3://bucket/db1 --s3-endpoint http://127.0.0.1:9000 --delta-max-steps 6', 'a delta (changed blocks only) when allowed, into S3')
      .example('$0 backup fetch ./repo LATEST ./restored --until-time 2024-05-01T12:00:00Z', 'restore to a point in time')
      .example('$0 backup verify ./repo LATEST --restore-check', 'every checksum, then a scratch restore with recovery')
      .example('$0 backup delete ./repo retain 2 --confirm', 'keep the 2 newest backups (whole delta chains)'),
  handler: () => undefined,
};

const archive: CommandModule<object, { env: string; to: string; 'lease-id'?: string }> = {
  command: 'archive <env>',
  describe: 'archive the closed log files of an environment (all but its newest) into a repository',
  builder: (y) =>
    y
      .positional('env', { type: 'string', demandOption: true, describe: 'environment directory (open or closed)' })
      .option('to', { type: 'string', demandOption: true, describe: 'repository: a directory or s3://bucket/prefix' })
      .option('lease-id', { type: 'string', describe: 'id in the archive lease (default host:pid)' })
      .example('$0 log archive ./env --to ./repo', 'copy the closed log files (all but the newest) into the repository') as Argv<{ env: string; to: string; 'lease-id'?: string }>,
  handler: (a) =>
    runCommand(async () => {
      await requireEnvironment(a.env, 'archive its log');
      const repo = await repoAt(a.to, endpointOf(a));
      const done = await archiveClosedLogs(repo.store, new NodeStorage(), a.env, { onWarning: warnOnStderr, ...(a['lease-id'] !== undefined ? { leaseId: a['lease-id'] } : {}) });
      process.stdout.write(`archived ${done.length} log file(s)${done.length > 0 ? `: ${done.join(', ')}` : ''}\n`);
    }),
};

/** The subcommands of `tokusim backup` and `tokusim log`, by parent (for the help tests). */
export const NESTED_COMMANDS: Record<string, CommandModule<any, any>[]> = { backup: [push, fetch, list, verify, del], log: [archive] };

export const logCommandModule: CommandModule<object, object> = {
  command: 'log',
  describe: 'log archiving: archive ENV --to REPO',
  builder: (y) => y.option('s3-endpoint', { type: 'string', describe: `endpoint of s3:// repositories (default $${S3_ENDPOINT_ENV}, else AWS)` }).command(archive).demandCommand(1, 'name a log command: archive (see tokusim log --help)')
      .example('$0 log archive ./env --to ./repo', 'archive the closed log files (all but the newest)'),
  handler: () => undefined,
};
