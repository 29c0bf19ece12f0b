/**
 * Which directories are tokusim environments, decided before anything is written to them.
 *
 * An environment created by this version is published by its identity file
 * (`__tokusim_env_identity`, one JSON line), written as the very last step of creation (to a
 * temporary name, fsynced, renamed, directory fsynced), so its presence means "a complete
 * tokusim environment". Creation first writes a marker (`__tokusim_env_creating`, durable
 * before any other file of the environment): a directory holding the marker but no identity
 * file is an unfinished creation of ours, which never held data (Env.open never returned for
 * it), so Env.open may remove what creation wrote and create it again.
 *
 * Environments made by earlier tokusim versions have neither file. They are recognised, read
 * only, by what only tokusim writes: tokusim's own node format ("tokubtnd" inside a framed
 * block) holding the `tokusim_engine_version` row in tokudb.environment, or that row's
 * enq_insert near the start of the oldest log file (creation logs it before the startup
 * checkpoint; the log is trimmed only after a checkpoint, which puts the row in the file).
 * A PerconaFT environment is recognised by its lock files (`__tokudb_lock_dont_delete_me_*`),
 * by PerconaFT node magic ("tokuleaf", "tokunode", "tokuroll") at the start of a dictionary
 * block, or by PerconaFT's creation records in the log (the `original_version` row).
 *
 * Invariants:
 *  - classifyDirectory never writes: it lists, checks existence and opens files 'read' only.
 *  - A directory is 'tokusim' only on positive evidence (identity file or tokusim-only
 *    content); anything else that is neither missing nor empty is refused by every opener.
 *  - Names of the environment lock (`__tokusim_env_lock*`) do not make a directory non-empty:
 *    a creator that failed at once may leave one behind.
 */
import { TokusimError } from '../base/errors.js';
import { DictionaryFile } from '../blocks/dictionary-file.js';
import { LogCursor } from '../log/cursor.js';
import { findLogFiles, parseLogFileName } from '../log/names.js';
import { ioErrorCode } from '../storage/io-error.js';
import { readSmallFile } from '../storage/small-file.js';
import { joinPath, type Storage } from '../storage/storage.js';
import { decodeNode, NODE_MAGIC } from './btree/node-codec.js';
import { ENV_LOCK_FILE } from './env-lock.js';

export const ENV_IDENTITY_FILE = '__tokusim_env_identity';
export const ENV_IDENTITY_TEMP = '__tokusim_env_identity.tmp';
export const ENV_CREATING_FILE = '__tokusim_env_creating';
const IDENTITY_FORMAT = 'tokusim-environment';
const IDENTITY_VERSION = 1;
/** The row every tokusim environment has in tokudb.environment (written at creation). */
export const ENGINE_VERSION_KEY = 'tokusim_engine_version';
/** Names creation writes besides the marker (an unfinished creation may hold any of them). */
const CREATION_NAMES = new Set(['tokudb.rollback', 'tokudb.environment', 'tokudb.directory', ENV_IDENTITY_TEMP, ENV_CREATING_FILE]);
const PERCONAFT_LOCK_PREFIX = '__tokudb_lock_dont_delete_me';
const PERCONAFT_NODE_MAGICS = ['tokuleaf', 'tokunode', 'tokuroll'];
/** How many records of the oldest log file the creation signature is looked for in. */
const LOG_SIGNATURE_RECORDS = 64;

export type DirectoryKind =
  | { kind: 'missing' }
  | { kind: 'empty' }
  /**
   * Ours; `staleMarker`: the creation marker is still there (a crash just after publishing);
   * `lockFile`: the listing named the environment lock file (a holder's, or one a crash left).
   */
  | { kind: 'tokusim'; how: 'identity' | 'legacy'; evidence: string; staleMarker: boolean; lockFile: boolean }
  /** An unfinished creation of ours; `others`: entries creation does not write. */
  | { kind: 'unfinished'; others: string[] }
  | { kind: 'perconaft'; evidence: string }
  | { kind: 'foreign'; evidence: string };

const dec = new TextDecoder();
const enc = new TextEncoder();

function isLockName(name: string): boolean {
  return name.startsWith(ENV_LOCK_FILE);
}

/** The names an unfinished creation may have written (log files and CREATION_NAMES). */
export function isCreationName(name: string): boolean {
  return CREATION_NAMES.has(name) || parseLogFileName(name) !== undefined;
}

/** Decide what dir holds (see the top of this file). Never writes. */
export async function classifyDirectory(storage: Storage, dir: string): Promise<DirectoryKind> {
  if (!(await storage.exists(dir))) return { kind: 'missing' };
  let names: string[];
  try {
    names = await storage.list(dir);
  } catch (err) {
    if (ioErrorCode(err) === 'ENOTDIR') return { kind: 'foreign', evidence: 'a file, not a directory' };
    throw err;
  }
  const rest = names.filter((n) => !isLockName(n));
  if (rest.length === 0) return { kind: 'empty' };
  const staleMarker = rest.includes(ENV_CREATING_FILE);
  const lockFile = names.includes(ENV_LOCK_FILE);
  if (rest.includes(ENV_IDENTITY_FILE)) {
    await readIdentity(storage, dir);
    return { kind: 'tokusim', how: 'identity', evidence: `identity file ${ENV_IDENTITY_FILE}`, staleMarker, lockFile };
  }
  if (staleMarker) return { kind: 'unfinished', others: rest.filter((n) => !isCreationName(n)) };

  const perconaftLock = rest.find((n) => n.startsWith(PERCONAFT_LOCK_PREFIX));
  if (perconaftLock !== undefined) return { kind: 'perconaft', evidence: `PerconaFT lock file ${perconaftLock}` };
  const dictNames = rest.filter((n) => n.startsWith('tokudb.') || n.endsWith('.tokudb'));
  for (const name of ['tokudb.environment', ...dictNames.filter((n) => n !== 'tokudb.environment')]) {
    if (!dictNames.includes(name)) continue;
    const probe = await probeDictionary(storage, joinPath(dir, name));
    if (probe === 'perconaft') return { kind: 'perconaft', evidence: `PerconaFT node format in ${name}` };
    if (probe === 'tokusim-env' && name === 'tokudb.environment') {
      return { kind: 'tokusim', how: 'legacy', evidence: `tokusim node format with the ${ENGINE_VERSION_KEY} row in tokudb.environment`, staleMarker: false, lockFile };
    }
  }
  const logs = await findLogFiles(storage, dir);
  if (logs.length > 0) {
    const sig = await logSignature(storage, logs[0]!.path);
    if (sig === 'perconaft') return { kind: 'perconaft', evidence: `PerconaFT's environment creation records in ${logs[0]!.name}` };
    if (sig === 'tokusim' && dictNames.includes('tokudb.environment')) {
      return { kind: 'tokusim', how: 'legacy', evidence: `tokusim's environment creation records in ${logs[0]!.name}`, staleMarker: false, lockFile };
    }
  }
  const shown = rest.slice(0, 4).join(', ') + (rest.length > 4 ? `, ... (${rest.length} entries)` : '');
  const what =
    logs.length > 0 || dictNames.length > 0
      ? `${logs.length} log file(s) and ${dictNames.length} dictionary file(s) without tokusim's identity file or content`
      : `${rest.length} entr${rest.length === 1 ? 'y' : 'ies'} and no tokusim environment`;
  return { kind: 'foreign', evidence: `${what} (${shown})` };
}

/** One line naming what was found, for refusals. */
export function describeKind(k: DirectoryKind): string {
  switch (k.kind) {
    case 'missing':
      return 'the directory does not exist';
    case 'empty':
      return 'the directory is empty';
    case 'tokusim':
      return `a tokusim environment (${k.evidence})`;
    case 'unfinished':
      return k.others.length === 0
        ? 'a tokusim environment whose creation never finished (it holds no data; Env.open creates it again)'
        : `an unfinished tokusim environment that also holds other files (${k.others.slice(0, 4).join(', ')})`;
    case 'perconaft':
      return `a PerconaFT environment (${k.evidence})`;
    case 'foreign':
      return `not a tokusim environment: ${k.evidence}`;
  }
}

/** The refusal error: one line, kind 'not-an-environment' (exit 9), naming what was found. */
export function notAnEnvironment(dir: string, k: DirectoryKind, action: string): TokusimError {
  return new TokusimError('not-an-environment', `refusing to ${action}: ${describeKind(k)}; nothing was written`, { file: dir });
}

/** Read and check the identity file (a damaged one is corrupt input, never silently ignored). */
async function readIdentity(storage: Storage, dir: string): Promise<void> {
  const path = joinPath(dir, ENV_IDENTITY_FILE);
  const f = await storage.open(path, 'read');
  let text: string;
  try {
    const r = await readSmallFile(f, 4096);
    if ('tooLarge' in r) throw new TokusimError('bad-length', 'identity file is too large', { file: path, expected: '<= 4096 bytes', actual: `${r.tooLarge} bytes` });
    text = dec.decode(r.bytes);
  } finally {
    await f.close();
  }
  let parsed: { format?: unknown; version?: unknown } | undefined;
  try {
    parsed = JSON.parse(text) as { format?: unknown; version?: unknown };
  } catch {
    parsed = undefined;
  }
  if (parsed?.format !== IDENTITY_FORMAT) {
    throw new TokusimError('bad-magic', 'damaged tokusim identity file', { file: path, offset: 0, expected: `{"format":"${IDENTITY_FORMAT}",...}`, actual: JSON.stringify(text.slice(0, 40)) });
  }
  if (parsed.version !== IDENTITY_VERSION) {
    throw new TokusimError('bad-version', 'unsupported tokusim identity version', { file: path, expected: String(IDENTITY_VERSION), actual: String(parsed.version) });
  }
}

/**
 * What the blocks of a dictionary file are: PerconaFT node magic at a block start, or a
 * tokusim node (framed) holding the engine version row, or neither / unreadable.
 */
async function probeDictionary(storage: Storage, path: string): Promise<'perconaft' | 'tokusim-env' | 'tokusim' | 'unknown'> {
  let opened;
  try {
    opened = await DictionaryFile.open(storage, path, { mode: 'read' });
  } catch {
    return 'unknown';
  }
  const file = opened.file;
  let sawTokusim = false;
  try {
    const t = file.blockTable.snapshot('checkpointed');
    if (t === null) return 'unknown';
    for (let b = 3n; b < t.smallestNeverUsed; b++) {
      if (!(t.sizes[Number(b)]! > 0n)) continue;
      let block: Uint8Array;
      try {
        block = await file.readBlock(b);
      } catch {
        continue;
      }
      const head = dec.decode(block.subarray(0, 8));
      if (PERCONAFT_NODE_MAGICS.includes(head)) return 'perconaft';
      if (block.length >= 12 && dec.decode(block.subarray(4, 12)) === NODE_MAGIC) {
        sawTokusim = true;
        const len = new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(0, true);
        try {
          const node = decodeNode(block.subarray(4, 4 + len), { blocknum: b, file: path });
          if (node.kind === 'leaf' && node.keys.some((k) => dec.decode(k) === ENGINE_VERSION_KEY)) return 'tokusim-env';
        } catch {
          // A damaged node is no evidence either way.
        }
      }
    }
  } finally {
    await file.close();
  }
  return sawTokusim ? 'tokusim' : 'unknown';
}

/** Creation signature among the first records of the oldest log file. */
async function logSignature(storage: Storage, path: string): Promise<'perconaft' | 'tokusim' | 'unknown'> {
  const c = new LogCursor(storage, [path]);
  try {
    for (let i = 0; i < LOG_SIGNATURE_RECORDS; i++) {
      const e = await c.next();
      if (e === undefined) break;
      const r = e.record;
      if (r.type === 'enq_insert' && r.filenum === 1) {
        const key = dec.decode(r.key);
        if (key === ENGINE_VERSION_KEY) return 'tokusim';
        if (key === 'original_version') return 'perconaft';
      }
    }
  } catch {
    // Damage in the log is no evidence either way.
  } finally {
    await c.close().catch(() => undefined);
  }
  return 'unknown';
}

async function writeDurably(storage: Storage, path: string, text: string): Promise<void> {
  if (await storage.exists(path)) await storage.unlink(path);
  const f = await storage.open(path, 'create');
  try {
    await f.pwrite(enc.encode(text), 0);
    await f.fsync();
  } finally {
    await f.close();
  }
}

/** Creation's first step: the marker, durable (file and entry) before anything else is written. */
export async function writeCreationMarker(storage: Storage, dir: string): Promise<void> {
  await writeDurably(storage, joinPath(dir, ENV_CREATING_FILE), 'tokusim environment creation in progress\n');
  await storage.fsyncDir(dir);
}

/** Creation's last step: publish the identity file atomically (temp, fsync, rename, fsyncDir), then drop the marker. */
export async function publishIdentity(storage: Storage, dir: string): Promise<void> {
  const tmp = joinPath(dir, ENV_IDENTITY_TEMP);
  await writeDurably(storage, tmp, `${JSON.stringify({ format: IDENTITY_FORMAT, version: IDENTITY_VERSION })}\n`);
  await storage.rename(tmp, joinPath(dir, ENV_IDENTITY_FILE));
  await storage.fsyncDir(dir);
  await removeCreationMarker(storage, dir);
}

export async function removeCreationMarker(storage: Storage, dir: string): Promise<void> {
  const marker = joinPath(dir, ENV_CREATING_FILE);
  if (!(await storage.exists(marker))) return;
  await storage.unlink(marker);
  await storage.fsyncDir(dir);
}

/** Remove what an unfinished creation wrote (the marker stays: creation starts again). */
export async function removeUnfinishedCreation(storage: Storage, dir: string): Promise<void> {
  for (const name of await storage.list(dir)) {
    if (name !== ENV_CREATING_FILE && isCreationName(name)) await storage.unlink(joinPath(dir, name));
  }
  await storage.fsyncDir(dir);
}
