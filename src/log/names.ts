/**
 * Log file names and the order of log files in a directory (spec tokulog-format.md §2.1).
 *
 * A log file is named `log` + index (decimal, zero-padded to at least 12 digits) + `.tokulog`
 * + version (decimal, no padding), e.g. `log000000000007.tokulog29`. The bare form
 * `log<index>.tokulog` is a version-1 file. Any other name, including a spelled-out version
 * 0 or 1 or trailing characters, is not a log file and is ignored by every reader.
 *
 * Invariants:
 *  - parseLogFileName(logFileName(i, v)) returns {index: i, version: v} for every i >= 0, v >= 2.
 *  - compareLogFiles orders by version, then by index (numerically), and is a total order on
 *    the recognised names of one directory.
 *  - nextLogIndex is 1 + the largest index among files of the given version, 0 when none.
 */
import { invariant } from '../base/errors.js';
import { TOKU_LOG_VERSION } from '../format/log-header.js';
import { joinPath, type Storage } from '../storage/storage.js';

/** A log file name taken apart: its index (after `log`) and log version (after `.tokulog`). */
export interface LogFileName {
  /** The file index (the number after `log`). */
  index: number;
  /** The log version (the number after `.tokulog`; 1 for the bare form). */
  version: number;
}

/** A log file found in a directory: its parsed name, its directory entry name and its path. */
export interface LogFileEntry extends LogFileName {
  /** The directory entry name. */
  name: string;
  /** dir + '/' + name. */
  path: string;
}

/** The name PerconaFT gives log file `index` of `version`. */
export function logFileName(index: number, version: number = TOKU_LOG_VERSION): string {
  invariant(Number.isSafeInteger(index) && index >= 0, `log file index ${index} is not a non-negative integer`);
  invariant(Number.isInteger(version) && version >= 1, `log version ${version} is not a positive integer`);
  const digits = String(index).padStart(12, '0');
  return version === 1 ? `log${digits}.tokulog` : `log${digits}.tokulog${version}`;
}

const NAME_RE = /^log(\d+)\.tokulog(\d*)$/;

/**
 * Recognise a log file name of any version (PerconaFT's is_a_logfile_any_version).
 * Returns undefined for names that are not log files.
 */
export function parseLogFileName(name: string): LogFileName | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) return undefined;
  const versionDigits = m[2]!;
  if (versionDigits === '') return { index, version: 1 };
  const version = Number(versionDigits);
  // A spelled-out version must be >= 2 and fit in a u32; 0 and 1 written out are not log files.
  if (!Number.isSafeInteger(version) || version < 2 || version > 0xffffffff) return undefined;
  return { index, version };
}

/** Order of log files: by version ascending, then index ascending. */
export function compareLogFiles(a: LogFileName, b: LogFileName): number {
  if (a.version !== b.version) return a.version - b.version;
  return a.index - b.index;
}

/** The log files of dir, in reading order. Other entries are ignored. */
export async function findLogFiles(storage: Storage, dir: string): Promise<LogFileEntry[]> {
  const names = await storage.list(dir);
  const files: LogFileEntry[] = [];
  for (const name of names) {
    const parsed = parseLogFileName(name);
    if (parsed !== undefined) files.push({ ...parsed, name, path: joinPath(dir, name) });
  }
  files.sort(compareLogFiles);
  return files;
}

/** The index a logger opening in this directory uses for its new file. */
export function nextLogIndex(files: readonly LogFileName[], version: number = TOKU_LOG_VERSION): number {
  let max = -1;
  for (const f of files) if (f.version === version && f.index > max) max = f.index;
  return max + 1;
}
