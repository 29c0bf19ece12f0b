/**
 * A backup's recorded contents (manifest `contents`, docs/backup.md "What --restore-check
 * compares"): every committed row of every dictionary after restore and recovery to the end
 * of the backup's log, as a row count and an order-independent hash over (dictionary name,
 * key, value). A push records it when asked (PushOptions.contents) by restoring its own copy
 * into scratch storage; `backup verify --restore-check` restores again (replaying archived
 * log where the archive holds the backup's log region) and compares.
 *
 * Invariants:
 *  - Rows are read through Dictionary.committedChunk, the engine's own committed reads, so
 *    the figure is what a client of the restored environment sees.
 *  - The scratch directory must be absent or empty; only then, and whatever happens, are
 *    the files put there removed afterwards (a directory of someone else's is never touched).
 */
import { TokusimError } from '../base/errors.js';
import { Env, type EnvOptions } from '../engine/env.js';
import { joinPath, type Storage } from '../storage/storage.js';
import { restoreChain } from './fetch.js';
import { ContentHash } from './hash.js';
import type { BackupManifest, RecordedContents } from './manifest.js';
import type { BackupSource } from './source.js';

const CHUNK_ROWS = 4096;

/** Count and hash the committed rows of every dictionary of an open environment. */
export async function envContents(env: Env, atLsn: bigint): Promise<RecordedContents> {
  const h = new ContentHash();
  const dictionaries: Record<string, string> = {};
  for (const name of await env.listDictionaries()) {
    const d = await env.openDictionary(name);
    const before = h.rows;
    let after: Uint8Array | undefined;
    for (;;) {
      const rows = await d.committedChunk(after === undefined ? {} : { gt: after }, CHUNK_ROWS);
      for (const e of rows) h.add(name, e.key, e.value);
      if (rows.length < CHUNK_ROWS) break;
      after = rows[rows.length - 1]!.key;
    }
    dictionaries[name] = String(h.rows - before);
  }
  return { atLsn: String(atLsn), rows: String(h.rows), sha256: h.hex(), dictionaries };
}

/**
 * Restore chain (full base first) into scratch, recover it to `untilLsn` (default: the end of
 * the last backup's log, through the archive where it holds that region), and count its rows;
 * also runs `check` on the recovered environment (tree invariants) when given.
 */
export async function recoveredContents(
  repo: BackupSource,
  chain: BackupManifest[],
  scratch: { storage: Storage; dir: string },
  opts: { envOptions?: Omit<EnvOptions, 'storage'>; archive?: boolean; check?: (env: Env) => Promise<void> } = {},
): Promise<RecordedContents> {
  const m = chain[chain.length - 1]!;
  const { storage, dir } = scratch;
  if ((await storage.exists(dir)) && (await storage.list(dir)).length > 0) {
    throw new TokusimError('dest-not-empty', `scratch directory for the backup's contents is not empty; give a new or empty one`, { file: dir, expected: 'an empty or absent directory' });
  }
  try {
    const r = await restoreChain(repo, chain, storage, dir, { recover: false, ...(opts.archive === true ? { untilLsn: BigInt(m.log.lastLsn), preferArchive: true } : {}) });
    const env = await Env.open(scratch.dir, { checkpointPeriodMs: 0, owner: 'backup-contents', ...opts.envOptions, storage });
    try {
      await opts.check?.(env);
      return await envContents(env, BigInt(r.lastLsn));
    } finally {
      await env.close();
    }
  } finally {
    if (await storage.exists(dir)) {
      for (const n of await storage.list(dir)) await storage.unlink(joinPath(dir, n));
      await storage.fsyncDir(dir);
    }
  }
}
