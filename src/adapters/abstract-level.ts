/**
 * An `abstract-level` database backed by a tokusim Env and one of its dictionaries
 * (docs/engine.md "abstract-level adapter"). Keys and values reach the private API as
 * Uint8Array (manifest encoding `view`); abstract-level transcodes utf8, buffer, json and the
 * rest to it. put / del / batch are one transaction each (Env.writeBatch: a batch is atomic,
 * durable per the Env's durability mode); reads see committed data; iterators read the tree in bounded
 * chunks through Dictionary.committedChunk, so a limit or a seek costs what it reads.
 *
 * Supported optional features: has / hasMany, iterator seek, getMany, clear (in chunks, not
 * atomic, as abstract-level allows, on a snapshot), createIfMissing / errorIfExists,
 * permanence, implicit snapshots (an iterator reads at an Env snapshot taken when it is
 * created; a get reads at the instant it is called, see _get) and explicit snapshots
 * (`db.snapshot()`, an Env snapshot released by `snapshot.close()`). Not supported: getSync.
 *
 * Invariants:
 *  - Every Env snapshot the adapter takes is released exactly once: an iterator's own at its
 *    close, an explicit one at its close (abstract-level closes both at db.close()).
 *  - While the database is open, `env` and `dict` are set; after close both are undefined.
 *  - An iterator's position only moves forward in its direction: each chunk starts strictly
 *    after the last key it returned (or at the seek target), inside the original range.
 *  - A write that meets a row lock held by another of this database's own in-flight
 *    transactions waits for it (retries) instead of failing: abstract-level callers may
 *    write the same key concurrently.
 */
import { AbstractIterator, AbstractLevel, AbstractSnapshot, type AbstractDatabaseOptions } from 'abstract-level';
import { TokusimError, invariant } from '../base/errors.js';
import type { Clock } from '../storage/clock.js';
import type { Storage } from '../storage/storage.js';
import { defaultNodeStorage } from '../storage/node-storage.js';
import { classifyDirectory, notAnEnvironment } from '../engine/env-identity.js';
import { compareKeys } from '../engine/btree/node.js';
import { Env, type Dictionary, type Durability, type EnvOptions } from '../engine/env.js';
import { LockConflictError } from '../engine/locktree.js';
import type { Entry, RangeOptions } from '../engine/range.js';
import type { Snapshot } from '../engine/mvcc.js';
import { nextMacrotask } from '../base/portable.js';

/**
 * Options of {@link TokusimLevel}: abstract-level's database options (`keyEncoding`,
 * `valueEncoding`, `createIfMissing`, `errorIfExists`) plus where and how the environment runs.
 * `K` and `V` are the default key and value types, fixed by the encodings (e.g. `'json'` with
 * `V = {n: number}`).
 */
export interface TokusimLevelOptions<K = string, V = string> extends AbstractDatabaseOptions<K, V> {
  /** Storage (default NodeStorage). */
  storage?: Storage;
  /** Clock for the environment's timers (default the real clock). */
  clock?: Clock;
  /** Durability of each put / del / batch (default 'sync'). */
  durability?: Durability;
  /** The dictionary holding the entries (default 'level'). */
  dictionary?: string;
  /** Any other Env option (checkpoint period, cache size, ...). */
  env?: Omit<EnvOptions, 'storage' | 'clock' | 'durability'>;
}

type Bytes = Uint8Array;
interface RangeLike {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  reverse?: boolean;
  limit?: number;
}
interface BatchOp {
  type: 'put' | 'del';
  key: Bytes;
  value?: Bytes;
}

const CHUNK = 256;
const MAX_LOCK_RETRIES = 100_000;

/** abstract-level range semantics: when both are given, gte wins over gt and lte over lt. */
function rangeOf(o: RangeLike): RangeOptions {
  const r: RangeOptions = {};
  if (o.gte !== undefined) r.gte = o.gte;
  else if (o.gt !== undefined) r.gt = o.gt;
  if (o.lte !== undefined) r.lte = o.lte;
  else if (o.lt !== undefined) r.lt = o.lt;
  if (o.reverse === true) r.reverse = true;
  return r;
}

/**
 * The range r narrowed to start at pos (strictly after it when strict): the start bound
 * becomes whichever of r's own start bound and pos is tighter.
 */
function narrow(r: RangeOptions, pos: { key: Bytes; strict: boolean } | undefined): RangeOptions {
  if (pos === undefined) return r;
  const rev = r.reverse === true;
  const [strictName, looseName] = rev ? (['lt', 'lte'] as const) : (['gt', 'gte'] as const);
  const own = r[strictName] !== undefined ? { key: r[strictName], strict: true } : r[looseName] !== undefined ? { key: r[looseName], strict: false } : undefined;
  let start = pos;
  if (own !== undefined) {
    const c = compareKeys(own.key, pos.key) * (rev ? -1 : 1);
    if (c > 0 || (c === 0 && own.strict)) start = own;
  }
  const out: RangeOptions = { ...r };
  delete out[strictName];
  delete out[looseName];
  out[start.strict ? strictName : looseName] = start.key;
  return out;
}

type WriteOp = Parameters<Env['writeBatch']>[0][number];

/** abstract-level's snapshot base class; its declared constructor omits the options (with the owner) the code requires. */
const SnapshotBase = AbstractSnapshot as unknown as new (options: object) => AbstractSnapshot;

/** An explicit snapshot (`db.snapshot()`): an Env snapshot, released when abstract-level closes it. */
class TokusimSnapshot extends SnapshotBase {
  constructor(
    options: object,
    /** The Env snapshot reads given this one use. */
    readonly snap: Snapshot,
  ) {
    super(options);
  }

  async _close(): Promise<void> {
    this.snap.release();
  }
}

/** The Env snapshot of a read's `snapshot` option, if it has one. */
function explicitSnapshot(options: { snapshot?: unknown } | undefined): Snapshot | undefined {
  const s = options?.snapshot;
  return s instanceof TokusimSnapshot ? s.snap : undefined;
}

/** Commit ops as one transaction, waiting out row locks held by this database's other writers. */
async function commitOps(env: Env, ops: WriteOp[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await env.writeBatch(ops);
      return;
    } catch (err) {
      if (!(err instanceof LockConflictError) || attempt >= MAX_LOCK_RETRIES) throw err;
      await nextMacrotask();
    }
  }
}

/** The constructor options abstract-level sees (ours are kept out of its open options). */
function levelOptions<K, V>(o: TokusimLevelOptions<K, V>): Record<string, unknown> {
  const { storage: _s, clock: _c, durability: _d, dictionary: _n, env: _e, ...rest } = o;
  return rest;
}

/** The iterator works on bytes whatever the database's key and value types are. */
type AnyLevel = TokusimLevel<any, any>;

class TokusimIterator extends AbstractIterator<AnyLevel, Bytes, Bytes> {
  private readonly range: RangeOptions;
  private pos: { key: Bytes; strict: boolean } | undefined;
  private buffer: Entry[] = [];
  private ended = false;
  private readonly wantKeys: boolean;
  private readonly wantValues: boolean;
  /** The snapshot it reads at: the explicit one given, else its own (released at close). */
  private readonly snap: Snapshot;
  private readonly ownsSnap: boolean;

  constructor(db: AnyLevel, options: RangeLike & { keys?: boolean; values?: boolean; snapshot?: unknown }) {
    super(db, options as never);
    this.range = rangeOf(options);
    this.wantKeys = options.keys !== false;
    this.wantValues = options.values !== false;
    const given = explicitSnapshot(options);
    // Taken synchronously here: the iterator reads the state as of its creation.
    this.snap = given ?? db.env!.snapshot();
    this.ownsSnap = given === undefined;
  }

  private async fill(want: number): Promise<void> {
    const d = (this.db as AnyLevel).dictionary;
    // A read at the snapshot may return no entry although more follow (keys changed since).
    while (this.buffer.length === 0 && !this.ended) {
      const res = await d.chunkAsOf(narrow(this.range, this.pos), Math.max(1, Math.min(want, CHUNK * 16)), this.snap);
      this.buffer = res.entries;
      if (res.done) this.ended = true;
      else this.pos = { key: res.last!, strict: true };
    }
  }

  async _close(): Promise<void> {
    if (this.ownsSnap) this.snap.release();
  }

  private shape(e: Entry): [Bytes | undefined, Bytes | undefined] {
    return [this.wantKeys ? e.key : undefined, this.wantValues ? e.value : undefined];
  }

  async _next(): Promise<[Bytes | undefined, Bytes | undefined] | undefined> {
    await this.fill(CHUNK);
    const e = this.buffer.shift();
    return e === undefined ? undefined : this.shape(e);
  }

  async _nextv(size: number): Promise<Array<[Bytes | undefined, Bytes | undefined]>> {
    const out: Array<[Bytes | undefined, Bytes | undefined]> = [];
    while (out.length < size) {
      await this.fill(size - out.length);
      if (this.buffer.length === 0) break;
      for (const e of this.buffer.splice(0, size - out.length)) out.push(this.shape(e));
    }
    return out;
  }

  async _all(): Promise<Array<[Bytes | undefined, Bytes | undefined]>> {
    const out: Array<[Bytes | undefined, Bytes | undefined]> = [];
    const limit = (this as unknown as { limit: number }).limit;
    const count = (this as unknown as { count: number }).count;
    const remaining = limit >= 0 && Number.isFinite(limit) ? limit - count : Infinity;
    while (out.length < remaining) {
      await this.fill(Math.min(CHUNK * 16, remaining - out.length));
      if (this.buffer.length === 0) break;
      for (const e of this.buffer.splice(0, remaining - out.length)) out.push(this.shape(e));
    }
    return out;
  }

  _seek(target: Bytes): void {
    this.buffer = [];
    this.ended = false;
    this.pos = { key: target.slice(), strict: false };
  }
}

/**
 * `new TokusimLevel<K, V>(location, options)`: an abstract-level database whose entries live
 * in one dictionary of the tokusim environment at `location`. Like `ClassicLevel<K, V>`, `K`
 * and `V` are the default key and value types (default `string`), matching the `keyEncoding`
 * and `valueEncoding` options.
 *
 * @example
 * ```ts
 * const db = new TokusimLevel<string, { n: number }>('dir', { valueEncoding: 'json' });
 * await db.put('a', { n: 1 });
 * ```
 */
export class TokusimLevel<K = string, V = string> extends AbstractLevel<Uint8Array, K, V> {
  /** The environment directory given to the constructor. */
  readonly location: string;
  private readonly opts: TokusimLevelOptions<K, V>;
  /** The open environment (undefined while closed). */
  env: Env | undefined;
  private dict: Dictionary | undefined;

  /** A database in the environment directory location (created on first open); nothing is opened until `open()`. */
  constructor(location: string, options: TokusimLevelOptions<K, V> = {}) {
    super(
      {
        encodings: { view: true },
        has: true,
        getSync: false,
        seek: true,
        permanence: true,
        createIfMissing: true,
        errorIfExists: true,
        snapshots: true,
        implicitSnapshots: true,
        explicitSnapshots: true,
        additionalMethods: {},
      } as never,
      levelOptions(options) as never,
    );
    if (typeof location !== 'string' || location === '') {
      throw new TokusimError('bad-argument', 'TokusimLevel needs a location (a directory path)', { actual: String(location) });
    }
    this.location = location;
    this.opts = options;
  }

  /** @internal The open dictionary. */
  get dictionary(): Dictionary {
    invariant(this.dict !== undefined, 'the database is open');
    return this.dict;
  }

  private get storage(): Storage {
    return (this.opts.storage ??= defaultNodeStorage());
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    // Decided before anything is written: a PerconaFT or other foreign directory is refused
    // whatever createIfMissing / errorIfExists say (Env.open refuses it too).
    const found = await classifyDirectory(this.storage, this.location);
    if (found.kind === 'perconaft' || found.kind === 'foreign' || (found.kind === 'unfinished' && found.others.length > 0)) {
      throw notAnEnvironment(this.location, found, 'open it as a tokusim database');
    }
    const exists = found.kind === 'tokusim';
    if (!exists && !options.createIfMissing) throw new TokusimError('io', 'database does not exist (createIfMissing is false)', { file: this.location });
    if (exists && options.errorIfExists) throw new TokusimError('io', 'database exists (errorIfExists is true)', { file: this.location });
    const env = await Env.open(this.location, {
      ...this.opts.env,
      storage: this.storage,
      ...(this.opts.clock !== undefined ? { clock: this.opts.clock } : {}),
      durability: this.opts.durability ?? 'sync',
    });
    try {
      const name = this.opts.dictionary ?? 'level';
      this.dict = (await env.listDictionaries()).includes(name) ? await env.openDictionary(name) : await env.createDictionary(name);
    } catch (err) {
      await env.close().catch(() => undefined);
      throw err;
    }
    this.env = env;
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _close(): Promise<void> {
    const env = this.env;
    this.env = undefined;
    this.dict = undefined;
    await env?.close();
  }

  /**
   * One committed read: at the explicit snapshot when given, else of the newest committed
   * value. The latter is already an implicit snapshot in abstract-level's sense: the read
   * takes the commit-visibility lock synchronously (or queues for it), so it sees every write
   * finished before the call and all or nothing of one in flight.
   */
  private read(key: Bytes, snap: Snapshot | undefined): Promise<Bytes | undefined> {
    return snap !== undefined ? this.dictionary.getAsOf(key, snap) : this.dictionary.getCommitted(key);
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _get(key: Bytes, options?: { snapshot?: unknown }): Promise<Bytes | undefined> {
    return this.read(key, explicitSnapshot(options));
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _getMany(keys: Bytes[], options?: { snapshot?: unknown }): Promise<Array<Bytes | undefined>> {
    const snap = explicitSnapshot(options);
    return Promise.all(keys.map((k) => this.read(k, snap)));
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _has(key: Bytes, options?: { snapshot?: unknown }): Promise<boolean> {
    return (await this.read(key, explicitSnapshot(options))) !== undefined;
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _hasMany(keys: Bytes[], options?: { snapshot?: unknown }): Promise<boolean[]> {
    const snap = explicitSnapshot(options);
    return Promise.all(keys.map(async (k) => (await this.read(k, snap)) !== undefined));
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  _snapshot(options: object): TokusimSnapshot {
    return new TokusimSnapshot(options, this.env!.snapshot());
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _put(key: Bytes, value: Bytes): Promise<void> {
    const d = this.dictionary;
    await commitOps(this.env!, [{ dict: d, op: 'insert', key, value }]);
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _del(key: Bytes): Promise<void> {
    const d = this.dictionary;
    await commitOps(this.env!, [{ dict: d, op: 'delete', key }]);
  }

  /** One transaction for the whole batch: all of it commits or none. */
  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _batch(operations: BatchOp[]): Promise<void> {
    const d = this.dictionary;
    await commitOps(
      this.env!,
      operations.map((op) => (op.type === 'put' ? { dict: d, op: 'insert' as const, key: op.key, value: op.value! } : { dict: d, op: 'delete' as const, key: op.key })),
    );
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  _iterator(options: RangeLike & { keys?: boolean; values?: boolean; snapshot?: unknown }): TokusimIterator {
    return new TokusimIterator(this, options);
  }

  /**
   * Delete a range in chunks (not atomic, as abstract-level allows), honouring limit and
   * reverse: the entries of the explicit snapshot when given, else of a snapshot taken at the
   * call, so entries written after the call are never deleted.
   */
  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _clear(options: RangeLike & { snapshot?: unknown }): Promise<void> {
    const d = this.dictionary;
    const given = explicitSnapshot(options);
    const snap = given ?? this.env!.snapshot();
    try {
      let r = rangeOf(options);
      let left = options.limit !== undefined && options.limit >= 0 ? options.limit : Infinity;
      while (left > 0) {
        const res = await d.chunkAsOf(r, Math.min(left, CHUNK * 4), snap);
        const chunk = res.entries.slice(0, left);
        if (chunk.length > 0) await commitOps(this.env!, chunk.map((e) => ({ dict: d, op: 'delete' as const, key: e.key })));
        left -= chunk.length;
        if (res.done) return;
        r = narrow(r, { key: res.last!, strict: true });
      }
    } finally {
      if (given === undefined) snap.release();
    }
  }
}
