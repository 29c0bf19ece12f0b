/**
 * The one storage interface the whole engine runs on (DESIGN.md principle 2). Two
 * implementations: NodeStorage (node:fs, real fsync) and SimStorage (in memory, seeded,
 * tracks durable vs only-written bytes and directory entries, can crash and inject faults).
 * Nothing above src/storage touches node:fs.
 *
 * Paths are plain strings joined with '/'. A StorageFile is a handle on one open file.
 *
 * Invariants every implementation keeps:
 *  - pread never returns more bytes than were asked for, and returns 0 only at or past EOF;
 *    it fills the buffer unless EOF comes first (a short count means the file ended).
 *  - After fsync() resolves, every byte written to that file before the call is durable
 *    (survives a crash); after fsyncDir(dir) resolves, every entry created, renamed or
 *    removed in dir before the call is durable.
 *  - On a handle opened with `{ dsync: true }` whose `dsync` property is true, the bytes of a
 *    pwrite are durable when that pwrite resolves (O_DSYNC: as if each write were followed by
 *    an fdatasync of the range it wrote). The file's directory entry still needs fsyncDir.
 *    An implementation that cannot honour the option leaves `dsync` unset, so callers that
 *    check the property fall back to fsync() and stay correct.
 *  - Operations on a closed handle throw a TokusimError of kind 'io'.
 *  - `capabilities` never changes while a caller holds the storage, except that the Node
 *    entry may add a block sink to a fresh NodeStorage before anyone uses it.
 *  - pwriteSync on a storage whose capabilities say `syncWrites: false` throws a TokusimError
 *    of kind 'io' (ENOTSUP) and changes nothing.
 */
/** How a file is opened. */
export type OpenMode =
  /** Open an existing file read-only. */
  | 'read'
  /** Open an existing file for reading and writing. */
  | 'readwrite'
  /** Open for reading and writing, creating it (empty) if missing. */
  | 'create'
  /** Create a new empty file; fail if it already exists (O_CREAT|O_EXCL). */
  | 'create-exclusive';

/** Optional per-open settings; a caller that omits them gets a plain open. */
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
   * pwrite done on the calling thread, returning when the bytes are written (and, on a dsync
   * handle, durable). Works only where the storage's capabilities say `syncWrites` (it saves
   * real work there: no thread-pool round trip); elsewhere it throws ENOTSUP. Callers use it
   * when they have nothing else to do meanwhile. Same bytes and errors as pwrite.
   */
  pwriteSync(data: Uint8Array, offset: number): void;
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
  /** What this storage offers beyond the operations every storage has (see {@link StorageCapabilities}). */
  readonly capabilities: StorageCapabilities;
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

/**
 * What a storage offers beyond the plain interface, in one record, so code above the storage
 * layer asks one question of any storage (wrappers such as FencedStorage forward it) instead
 * of testing for optional members or concrete classes.
 */
export interface StorageCapabilities {
  /**
   * The files live on a real device, where each call costs real time and the OS overlaps I/O
   * with the caller (NodeStorage). Policies that only pay on such a device key on this:
   * background fsyncs during a checkpoint, log preallocation, letting a group commit gather.
   * False on an in-memory disk (SimStorage), where they would only add calls and change the
   * seeded schedule.
   */
  readonly realDevice: boolean;
  /**
   * Resolves on a later turn of the event loop, after pending I/O callbacks and other ready
   * tasks have run: long synchronous work above the storage (cloning or framing a large node)
   * is cut into slices with a yield between them. Null where slices run back to back (SimStorage,
   * whose schedule must not depend on the host's event loop).
   */
  readonly yieldNow: (() => Promise<void>) | null;
  /** StorageFile.pwriteSync works on this storage's writable handles. */
  readonly syncWrites: boolean;
  /**
   * Makes the sink that frames and writes the node blocks of one dictionary, when this storage
   * has a faster way than the plain one (the fast paths, src/fast/, install it on a
   * NodeStorage); null: the plain sink (checkpoint/node-sink.ts).
   */
  readonly blockSinks: (() => BlockSink) | null;
  /**
   * Copies regions of this storage's files into new files and hashes what it copied, on
   * `threads` worker threads (part-copy.ts; a backup's fast path to a local repository on the
   * same kind of storage); null where copies go through pread and pwrite (SimStorage, whose
   * seeded schedule must see every write).
   */
  readonly partCopy: ((threads: number) => PartCopier) | null;
}

/** The capabilities of a storage that offers nothing beyond the interface. */
export const PLAIN_CAPABILITIES: StorageCapabilities = Object.freeze({ realDevice: false, yieldNow: null, syncWrites: false, blockSinks: null, partCopy: null });

/** A node's serialized bytes on their way to a block (see {@link BlockSink}). */
export interface BlockPayload {
  /** The payload as consecutive parts (their concatenation is the payload); only read. */
  readonly parts: readonly Uint8Array[];
  /**
   * The payload is parts[0] alone and nothing else will ever use it (a clone's private
   * bytes), so a sink may take its buffer instead of copying it.
   */
  readonly disposable: boolean;
  /** What the parts belong to; a sink keeps it reachable until the block is written. */
  readonly owner: unknown;
}

/**
 * Frames node payloads as blocks ([LE32 length][payload][LE32 x1764(payload)][zeros to a
 * multiple of 512], format/block-frame.ts) and writes them. `write` is the dictionary's: it
 * places a block of the given bytes (a multiple of 512 long) in the file and writes it there;
 * a sink calls it exactly once per block, with bytes (or a stand-in the storage's pwrite
 * accepts) whose length is the padded frame length.
 */
export interface BlockSink {
  /** Frame `payload` as one block and hand it to `write`, once; resolves when the block is written. */
  writeBlock(payload: BlockPayload, write: (block: Uint8Array) => Promise<void>): Promise<void>;
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
  /**
   * Stable error code (README "Exit codes"), like a `TokusimError`'s, though it is not one:
   * code that handles TokusimErrors must let the machine's halt pass through.
   */
  readonly code = 'TOKUSIM_MACHINE_HALTED' as const;

  /** @param message What stopped the machine, and where (for the report of a crash test). */
  constructor(message: string) {
    super(message);
    this.name = 'MachineHalted';
  }
}

/** What one region copy did. */
export interface PartCopyResult {
  /** Bytes copied: the length asked, or fewer where the source ended. */
  length: number;
  /** Block-segmented sha256 of the bytes copied (hex). */
  sha256: string;
  /** Every segment: [start, end, sha256 hex] in source file offsets. */
  segments: Array<[number, number, string]>;
}

/** Copies regions of files on worker threads (a Node-side implementation: storage/part-copy.ts). */
export interface PartCopier {
  /** Copy [offset, offset + length) of `src` into a new file `dest`, hashed in segments at `cuts` (sorted). */
  copy(src: string, offset: number, length: number, dest: string, cuts: readonly number[]): Promise<PartCopyResult>;
  /** Let the workers close what they keep open of `src`. */
  done(src: string): void;
  /** Stop the workers. */
  close(): Promise<void>;
}

