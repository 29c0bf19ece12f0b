/**
 * The one storage interface the whole engine runs on (DESIGN.md principle 2). Two
 * implementations: NodeStorage (node:fs, real fsync) and SimStorage (in memory, seeded,
 * tracks durable vs only-written bytes and directory entries, can crash and inject faults).
 * Nothing above src/storage touches node:fs.
 *
 * Paths are plain strings joined with '/'. A StorageFile is a handle on one open file.
 *
 * Invariants every implementation keeps:
 *  - pread never returns more bytes than were asked for, and returns 0 only at or past EOF.
 *  - After fsync() resolves, every byte written to that file before the call is durable
 *    (survives a crash); after fsyncDir(dir) resolves, every entry created, renamed or
 *    removed in dir before the call is durable.
 *  - On a handle opened with `{ dsync: true }` whose `dsync` property is true, the bytes of a
 *    pwrite are durable when that pwrite resolves (O_DSYNC: as if each write were followed by
 *    an fdatasync of the range it wrote). The file's directory entry still needs fsyncDir.
 *    An implementation that cannot honour the option leaves `dsync` unset, so callers that
 *    check the property fall back to fsync() and stay correct.
 *  - Operations on a closed handle throw a TokusimError of kind 'io'.
 */

export type OpenMode =
  /** Open an existing file read-only. */
  | 'read'
  /** Open an existing file for reading and writing. */
  | 'readwrite'
  /** Open for reading and writing, creating it (empty) if missing. */
  | 'create'
  /** Create a new empty file; fail if it already exists (O_CREAT|O_EXCL). */
  | 'create-exclusive';

/** Optional per-open settings (additive: every caller that omits them behaves as before). */
export interface OpenOptions {
  /**
   * Open with synchronous data writes (O_DSYNC): each pwrite returns only once its bytes are
   * durable, so a writer can skip the separate fsync (one I/O instead of two).
   */
  dsync?: boolean;
}

/** An open file of a {@link Storage}: positional reads and writes, size changes and fsync. */
export interface StorageFile {
  readonly path: string;
  /**
   * True when this handle was opened with `{ dsync: true }` and the implementation honours it:
   * every pwrite through it is durable when it resolves. Absent or false otherwise.
   */
  readonly dsync?: boolean;
  /** Read up to buf.length bytes at offset into buf; returns the number read. */
  pread(buf: Uint8Array, offset: number): Promise<number>;
  /** Write all of data at offset (growing the file, zero-filling any gap). */
  pwrite(data: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional: pwrite done on the calling thread, returning when the bytes are written (and,
   * on a dsync handle, durable). Offered only where it saves real work (NodeStorage: no
   * thread-pool round trip); callers use it when the caller has nothing else to do meanwhile.
   * Same bytes and errors as pwrite.
   */
  pwriteSync?(data: Uint8Array, offset: number): void;
  /** Current size in bytes (what a reader would see now, durable or not). */
  size(): Promise<number>;
  /** Sets the file's size in bytes, cutting it or extending it with zeros. */
  truncate(size: number): Promise<void>;
  /** Makes everything written to this file so far durable. */
  fsync(): Promise<void>;
  /** Closes the handle; it must not be used afterwards. */
  close(): Promise<void>;
}

/** The file system interface the whole engine runs on, implemented by {@link NodeStorage} (real files) and {@link SimStorage} (in-memory, fault injecting). */
export interface Storage {
  /** Opens the file at path in the given mode (creating it when the mode allows). */
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile>;
  /** True when an entry exists at path. */
  exists(path: string): Promise<boolean>;
  /** Names (not paths) of the entries in dir, sorted bytewise. Missing dir is an error. */
  list(dir: string): Promise<string[]>;
  /** Creates the directory dir and any missing parents. */
  mkdir(dir: string): Promise<void>;
  /** Renames the entry from to the name to; the change is durable only after fsyncDir. */
  rename(from: string, to: string): Promise<void>;
  /**
   * Give the existing file `existing` a second name `newPath` (a hard link); fail with EEXIST,
   * changing nothing, when `newPath` exists. Publishing a fully written file under a name that
   * must be taken by one writer only (the environment lock) needs exactly this: exclusive like
   * create-exclusive, and readers never see the file before its bytes are complete.
   */
  link(existing: string, newPath: string): Promise<void>;
  /** Removes the file at path; durable only after fsyncDir of its directory. */
  unlink(path: string): Promise<void>;
  /** Makes the entries of directory dir (creations, renames, removals) durable. */
  fsyncDir(dir: string): Promise<void>;
}

/** Join path parts with '/', collapsing duplicate separators. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .join('/')
    .replace(/\/+/g, '/');
}

/** The directory part of a path ('.' when there is none). */
export function dirName(path: string): string {
  const i = path.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return path.slice(0, i);
}

/** The last component of a path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/**
 * The machine stopped: the storage accepts no more I/O, as after power loss. Not a failure of
 * the code that met it, so callers do not turn it into an error of their own or try to clean
 * up with more I/O; they pass it on. Only a simulated disk raises it today
 * ({@link SimulatedCrash}), but the engine depends on this class alone.
 */
export class MachineHalted extends Error {
  /** A halt described by `message` (what stopped, and where). */
  constructor(message: string) {
    super(message);
    this.name = 'MachineHalted';
  }
}
