/**
 * The backup manifest (docs/backup.md "Manifest") and the repository's names. JSON with
 * LSNs, counts and sizes as decimal strings; parsed back with checks, so a damaged manifest is
 * one clear error naming the key, not a crash later.
 *
 * Invariants:
 *  - parseManifest(JSON.stringify(m)) equals m for every manifest made by this module.
 *  - A backup name sorts (bytewise) in the order of its checkpoint LSN.
 */
import { TokusimError } from '../base/errors.js';

export const MANIFEST_FORMAT = 'tokusim-backup/1';
/** Bytes per data part (the unit of upload, resume and checksum). */
export const PART_BYTES = 8 << 20;

/** One stored part: its key in the repository and the bytes it carries. */
export interface PartRef {
  key: string;
  /** Where its bytes go in the file (full copies), or -1 for a packed part of a delta. */
  offset: number;
  length: number;
  sha256: string;
}

/** One block of a dictionary file's chosen translation: [blocknum, diskoff, size, sha256]. */
export type BlockEntry = [number, number, number, string];

/** A changed block a delta carries: where it goes and where its bytes are. */
export interface ChangedBlock {
  blocknum: number;
  diskoff: number;
  size: number;
  sha256: string;
  part: string;
  partOffset: number;
}

export type FileRole = 'dictionary' | 'log' | 'identity';

export interface ManifestFile {
  name: string;
  role: FileRole;
  size: number;
  /**
   * Full copies only: the file's digest. Without `hashing`, the sha256 of its bytes; with
   * `hashing: 'blocks'`, the sha256 of its parts' digests in order.
   */
  sha256?: string;
  /**
   * 'blocks' (dictionary files): every part's sha256 is block-segmented (hash.ts
   * segmentedSha256, cut at every start and end of `blocks`), so a push hashes each byte once.
   */
  hashing?: 'blocks';
  /** Full copy: the parts in file order. Delta: the parts holding the header region and changed blocks. */
  parts: PartRef[];
  /** Dictionary files: the chosen header. */
  header?: { slot: 0 | 1; checkpointCount: string; checkpointLsn: string };
  /** Dictionary files: every block of the chosen translation. */
  blocks?: BlockEntry[];
  /** Set when the file is stored as a delta against the parent's file of the same name. */
  delta?: { headerPart: string; headerSha256: string; changed: ChangedBlock[] };
  /** Log files: the LSNs of its first and last whole record. */
  firstLsn?: string;
  lastLsn?: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  kind: 'full' | 'delta';
  parent: string | null;
  deltaSteps: number;
  createdAt: string;
  source: string;
  checkpoint: { beginLsn: string; endLsn: string; count: string };
  log: { firstLsn: string; lastLsn: string };
  files: ManifestFile[];
  /**
   * The committed rows after restore and recovery to `atLsn` (the end of the backup's log),
   * recorded only when the push was asked to (PushOptions.contents): count and multiset hash
   * over (dictionary name, key, value). `backup verify --restore-check` compares with it.
   */
  contents?: RecordedContents;
  /** total: bytes of the environment covered; sent: bytes this backup stores; reused: of those, bytes an interrupted push had stored already. */
  bytes: { total: number; sent: number; reused?: number };
}

export interface RecordedContents {
  atLsn: string;
  rows: string;
  sha256: string;
  /**
   * Per dictionary: name -> row count (to name the dictionary that differs). Absent in
   * manifests written before contents described the recovered state (theirs is the
   * checkpoint image's, at the checkpoint's begin LSN).
   */
  dictionaries?: Record<string, string>;
}

/** What the sentinel says (the backup exists iff it does). */
export interface Sentinel {
  format: typeof MANIFEST_FORMAT;
  name: string;
  manifestSha256: string;
}

export const BASE_DIR = 'basebackups';
export const WAL_DIR = 'wal';
export const LOCK_KEY = 'locks/repo.lease.json';
/** The lease of `log archive` (apart from LOCK_KEY, so a long push does not hold up archiving). */
export const WAL_LOCK_KEY = 'locks/wal.lease.json';
export const SENTINEL_SUFFIX = '.sentinel.json';

export function manifestKey(name: string): string {
  return `${BASE_DIR}/${name}/manifest.json`;
}
export function sentinelKey(name: string): string {
  return `${BASE_DIR}/${name}${SENTINEL_SUFFIX}`;
}
export function partKey(name: string, n: number): string {
  return `${BASE_DIR}/${name}/p/${String(n).padStart(6, '0')}`;
}
export function progressKey(name: string): string {
  return `progress/${name}.json`;
}

const lsn20 = (lsn: bigint): string => lsn.toString().padStart(20, '0');

/** `base_<LSN>` or `base_<LSN>_D_<parent LSN>`. */
export function backupName(checkpointLsn: bigint, parentLsn?: bigint): string {
  return parentLsn === undefined ? `base_${lsn20(checkpointLsn)}` : `base_${lsn20(checkpointLsn)}_D_${lsn20(parentLsn)}`;
}

const NAME_RE = /^base_\d{20}(_D_\d{20})?$/;
export function isBackupName(s: string): boolean {
  return NAME_RE.test(s);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v, null, 1) + '\n');
}

function bad(where: string, what: string, actual: string): TokusimError {
  return new TokusimError('bad-header', `backup manifest: ${what}`, { file: where, expected: what, actual });
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(dec.decode(bytes));
  } catch (err) {
    throw bad(where, 'valid JSON', (err as Error).message);
  }
}

/** Parse and check a manifest (shape and the fields every reader relies on). */
export function parseManifest(bytes: Uint8Array, where: string): BackupManifest {
  const m = parseJson(bytes, where) as Partial<BackupManifest> | null;
  if (typeof m !== 'object' || m === null) throw bad(where, 'a JSON object', typeof m);
  if (m.format !== MANIFEST_FORMAT) throw bad(where, `format ${MANIFEST_FORMAT}`, String(m.format));
  if (typeof m.name !== 'string' || !isBackupName(m.name)) throw bad(where, 'a backup name', String(m.name));
  if (m.kind !== 'full' && m.kind !== 'delta') throw bad(where, 'kind full or delta', String(m.kind));
  if (m.kind === 'delta' && (typeof m.parent !== 'string' || !isBackupName(m.parent))) throw bad(where, 'a delta names its parent', String(m.parent));
  if (!Array.isArray(m.files)) throw bad(where, 'files is an array', typeof m.files);
  if (m.contents !== undefined && (typeof m.contents !== 'object' || m.contents === null || typeof m.contents.sha256 !== 'string')) throw bad(where, 'contents is an object with rows and sha256', typeof m.contents);
  for (const k of ['checkpoint', 'log', 'bytes'] as const) if (typeof m[k] !== 'object' || m[k] === null) throw bad(where, `${k} is an object`, typeof m[k]);
  for (const f of m.files) {
    if (typeof f?.name !== 'string' || !Array.isArray(f.parts) || typeof f.size !== 'number') throw bad(where, 'each file has name, size and parts', JSON.stringify(f).slice(0, 80));
  }
  return m as BackupManifest;
}

export function parseSentinel(bytes: Uint8Array, where: string): Sentinel {
  const s = parseJson(bytes, where) as Partial<Sentinel> | null;
  if (typeof s !== 'object' || s === null || s.format !== MANIFEST_FORMAT || typeof s.name !== 'string' || typeof s.manifestSha256 !== 'string') {
    throw bad(where, 'a backup sentinel', JSON.stringify(s).slice(0, 80));
  }
  return s as Sentinel;
}
