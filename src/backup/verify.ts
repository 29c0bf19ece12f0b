/**
 * `backup verify` (docs/backup.md): every part's, file's and block's sha256, every log
 * record's x1764 (decodeRecord checks it), consecutive LSNs within each backup's log and
 * across the archive; with restoreCheck, a restore into scratch storage, recovery to the end
 * of the backup's log (through the archive's copy of that region when it has one), the tree
 * invariants of every dictionary, and the committed rows against the manifest's contents.
 *
 * Invariants:
 *  - verify reads the repository only; problems are collected as lines, one per problem.
 */
import { TokusimError } from '../base/errors.js';
import type { Storage } from '../storage/storage.js';
import { archivedLogs } from './archive.js';
import { BlockStream } from './block-stream.js';
import { recoveredContents } from './contents.js';
import { findLeftovers } from './delete.js';
import { wholeFile } from './fetch.js';
import { sha256Hex } from './hash.js';
import { scanLogBytes } from './log-bytes.js';
import { WAL_DIR, type BackupManifest } from './manifest.js';
import type { BackupRepo } from './repo.js';

export interface VerifyReport {
  backups: string[];
  archivedLogs: number;
  problems: string[];
  restoreChecked: string[];
  /** What was not checked, and why (not problems). */
  notes: string[];
  /** Leftovers of interrupted runs that nothing lists (not problems: a confirmed delete removes them). */
  warnings: string[];
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Records of a log file's bytes: problems, and its first/last LSN. */
function checkLog(bytes: Uint8Array, name: string, problems: string[]): { first?: bigint; last?: bigint } {
  let prev: bigint | undefined;
  const scan = scanLogBytes(bytes, name, (r) => {
    if (prev !== undefined && r.lsn !== prev + 1n) problems.push(`${name}: LSN ${prev} is followed by ${r.lsn}`);
    prev = r.lsn;
  });
  if (scan.problem !== undefined || scan.goodEnd !== bytes.length) problems.push(`${name}: damaged at offset ${scan.goodEnd}: ${typeof scan.problem === 'string' ? scan.problem : scan.problem?.message ?? 'trailing bytes'}`);
  const out: { first?: bigint; last?: bigint } = {};
  if (scan.firstLsn !== undefined) out.first = scan.firstLsn;
  if (scan.lastLsn !== undefined) out.last = scan.lastLsn;
  return out;
}

async function verifyOne(repo: BackupRepo, m: BackupManifest, problems: string[]): Promise<void> {
  const p = (s: string) => problems.push(`${m.name}: ${s}`);
  let prevLast: bigint | undefined;
  for (const f of m.files) {
    try {
      if (f.delta !== undefined) {
        for (const part of new Set([...f.delta.changed.map((c) => c.part), f.delta.headerPart.replace(/@.*$/, '')])) {
          const bytes = await repo.store.get(part);
          if (bytes === undefined) p(`${f.name}: part ${part} is missing`);
        }
        for (const c of f.delta.changed) {
          const bytes = (await repo.store.get(c.part))?.subarray(c.partOffset, c.partOffset + c.size);
          if (bytes === undefined || sha256Hex(bytes) !== c.sha256) p(`${f.name}: block ${c.blocknum} does not match its sha256`);
        }
        continue;
      }
      const bytes = await wholeFile(repo, f);
      if (f.role === 'dictionary' && f.blocks !== undefined) {
        const want = new Map(f.blocks.map((b) => [b[0], b[3]]));
        const stream = new BlockStream(f.name, f.blocks.map((b) => ({ blocknum: b[0], diskoff: b[1], size: b[2] })).sort((a, b) => a.diskoff - b.diskoff), (b, got) => {
          if (sha256Hex(got) !== want.get(b.blocknum)) p(`${f.name}: block ${b.blocknum} does not match its sha256`);
        });
        stream.feed(bytes, 0);
        stream.finish(bytes.length);
      }
      if (f.role === 'log') {
        const r = checkLog(bytes, f.name, problems);
        if (String(r.first) !== f.firstLsn || String(r.last) !== f.lastLsn) p(`${f.name}: holds LSNs ${r.first}..${r.last}, the manifest says ${f.firstLsn}..${f.lastLsn}`);
        if (prevLast !== undefined && r.first !== undefined && r.first !== prevLast + 1n) p(`log hole between LSN ${prevLast} and ${r.first}`);
        if (r.last !== undefined) prevLast = r.last;
      }
    } catch (err) {
      p(msg(err));
    }
  }
}

/**
 * Restore into scratch, recover to the end of the backup's log (replaying the archive's copy
 * of that region when the archive holds it), check every tree's invariants, and compare the
 * committed rows with the manifest's recorded contents.
 */
async function restoreCheck(repo: BackupRepo, m: BackupManifest, scratch: { storage: Storage; dir: string }, problems: string[], notes: string[]): Promise<void> {
  const p = (s: string) => problems.push(`${m.name}: restore-check: ${s}`);
  const got = await recoveredContents(repo, await repo.chain(m.name), scratch, {
    archive: true,
    check: async (env) => {
      for (const name of await env.listDictionaries()) {
        const d = await env.openDictionary(name);
        await d.tree.check();
      }
      const missing = await env.missingDictionaryFiles();
      if (missing.length > 0) p(`dictionaries without a file after recovery: ${missing.map((x) => x.name).join(', ')}`);
    },
  });
  const want = m.contents;
  if (want === undefined) {
    notes.push(`${m.name}: restore-check: the backup records no contents (pushed without --record-contents): recovered ${got.rows} rows at LSN ${got.atLsn}, tree invariants checked, nothing to compare with`);
    return;
  }
  const wantDicts = want.dictionaries;
  const gotDicts = got.dictionaries ?? {};
  if (wantDicts === undefined) {
    // Written before contents meant the recovered state: its figure is the checkpoint image's.
    notes.push(`${m.name}: restore-check: the manifest's contents (at LSN ${want.atLsn}) describe the checkpoint image (an older manifest), not the recovered state: recovered ${got.rows} rows at LSN ${got.atLsn}, tree invariants checked, nothing to compare with`);
    return;
  }
  if (got.atLsn !== want.atLsn) p(`recovered to LSN ${got.atLsn}, the manifest's contents are at LSN ${want.atLsn}`);
  if (got.rows !== want.rows || got.sha256 !== want.sha256) {
    const names = [...new Set([...Object.keys(gotDicts), ...Object.keys(wantDicts)])].sort();
    const differ = names.filter((n) => gotDicts[n] !== wantDicts[n]).map((n) => `${n}: ${gotDicts[n] ?? 'absent'} rows, recorded ${wantDicts[n] ?? 'absent'}`);
    p(`recovered state at LSN ${got.atLsn} holds ${got.rows} rows (hash ${got.sha256.slice(0, 16)}...), the manifest records ${want.rows} (${want.sha256.slice(0, 16)}...)${differ.length > 0 ? `; ${differ.join('; ')}` : '; same row counts, different rows'}`);
  }
}

export async function verifyRepo(repo: BackupRepo, name: string | undefined, opts: { restoreCheck?: { storage: Storage; dir: (name: string) => string } } = {}): Promise<VerifyReport> {
  const problems: string[] = [];
  const names = name === undefined ? await repo.names() : (await repo.chain(await repo.resolve(name))).map((m) => m.name);
  const report: VerifyReport = { backups: names, archivedLogs: 0, problems, restoreChecked: [], notes: [], warnings: [] };
  for (const n of names) {
    let m: BackupManifest;
    try {
      m = await repo.manifest(n);
    } catch (err) {
      problems.push(`${n}: ${msg(err)}`);
      continue;
    }
    await verifyOne(repo, m, problems);
  }
  const archive = await archivedLogs(repo.store);
  report.archivedLogs = archive.length;
  let prevLast: bigint | undefined;
  for (const a of archive) {
    const bytes = await repo.store.get(`${WAL_DIR}/${a.name}`);
    if (bytes === undefined) {
      problems.push(`archive: ${a.name} is missing`);
      continue;
    }
    if (sha256Hex(bytes) !== a.sha256) problems.push(`archive: ${a.name} does not match its sha256`);
    const r = checkLog(bytes, `archive ${a.name}`, problems);
    if (prevLast !== undefined && r.first !== undefined && r.first !== prevLast + 1n) problems.push(`archive: LSN hole between ${prevLast} and ${r.first} (before ${a.name})`);
    if (r.last !== undefined) prevLast = r.last;
  }
  const left = await findLeftovers(repo);
  for (const l of left.logs) report.warnings.push(`archive: ${l} has no sidecar (left by an interrupted delete or archive); a confirmed delete removes it once the oldest kept backup's log starts after it`);
  for (const b of left.backups) report.warnings.push(`${b}: a backup directory without a sentinel (left by an interrupted delete or push); a confirmed delete or the next push removes it`);
  if (opts.restoreCheck !== undefined && name !== undefined) {
    const target = names[names.length - 1]!;
    try {
      await restoreCheck(repo, await repo.manifest(target), { storage: opts.restoreCheck.storage, dir: opts.restoreCheck.dir(target) }, problems, report.notes);
      report.restoreChecked.push(target);
    } catch (err) {
      if (!(err instanceof TokusimError)) throw err;
      problems.push(`${target}: restore-check: ${msg(err)}`);
    }
  }
  return report;
}
