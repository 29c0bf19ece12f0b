/**
 * An `abstract-level` database backed by a tokusim Env and one of its dictionaries
 * (docs/engine.md "abstract-level adapter"). Keys and values reach the private API as
 * Uint8Array (manifest encoding `view`); abstract-level transcodes utf8, buffer, json and the
 * rest to it. put / del / batch are one transaction each (Env.writeBatch: a batch is atomic,
 * durable per the Env's durability mode); reads see committed data; iterators read the tree in bounded
 * chunks through Dictionary.committedChunk, so a limit or a seek costs what it reads.
 *
 * Supported optional features: has / hasMany, iterator seek, getMany, clear (in chunks, not
 * atomic, as abstract-level allows), createIfMissing / errorIfExists, permanence. Not
 * supported: implicit or explicit snapshots (an iterator reads lazily and sees commits made
 * after it was created, never part of one), getSync.
 *
 * Invariants:
 *  - While the database is open, `env` and `dict` are set; after close both are undefined.
 *  - An iterator's position only moves forward in its direction: each chunk starts strictly
 *    after the last key it returned (or at the seek target), inside the original range.
 *  - A write that meets a row lock held by another of this database's own in-flight
 *    transactions waits for it (retries) instead of failing: abstract-level callers may
 *    write the same key concurrently.
 */
import { AbstractIterator, AbstractLevel, type AbstractDatabaseOptions } from 'abstract-level';
import { TokusimError, invariant } from '../base/errors.js';
import type { Clock } from '../storage/clock.js';
import type { Storage } from '../storage/storage.js';
import { defaultNodeStorage } from '../storage/node-storage.js';
import { classifyDirectory, notAnEnvironment } from '../engine/env-identity.js';
import { compareKeys } from '../engine/btree/node.js';
import { Env, type Dictionary, type Durability, type EnvOptions } from '../engine/env.js';
import { LockConflictError } from '../engine/locktree.js';
import type { Entry, RangeOptions } from '../engine/range.js';
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

  constructor(db: AnyLevel, options: RangeLike & { keys?: boolean; values?: boolean }) {
    super(db, options as never);
    this.range = rangeOf(options);
    this.wantKeys = options.keys !== false;
    this.wantValues = options.values !== false;
  }

  private async fill(want: number): Promise<void> {
    if (this.buffer.length > 0 || this.ended) return;
    const d = (this.db as AnyLevel).dictionary;
    const chunk = await d.committedChunk(narrow(this.range, this.pos), Math.max(1, Math.min(want, CHUNK * 16)));
    if (chunk.length === 0) this.ended = true;
    else {
      this.buffer = chunk;
      this.pos = { key: chunk[chunk.length - 1]!.key, strict: true };
    }
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
        implicitSnapshots: false,
        explicitSnapshots: false,
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

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _get(key: Bytes): Promise<Bytes | undefined> {
    return this.dictionary.getCommitted(key);
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _getMany(keys: Bytes[]): Promise<Array<Bytes | undefined>> {
    const d = this.dictionary;
    return Promise.all(keys.map((k) => d.getCommitted(k)));
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _has(key: Bytes): Promise<boolean> {
    return (await this.dictionary.getCommitted(key)) !== undefined;
  }

  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _hasMany(keys: Bytes[]): Promise<boolean[]> {
    const d = this.dictionary;
    return Promise.all(keys.map(async (k) => (await d.getCommitted(k)) !== undefined));
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
  _iterator(options: RangeLike & { keys?: boolean; values?: boolean }): TokusimIterator {
    return new TokusimIterator(this, options);
  }

  /** Delete a range in chunks (not atomic, as abstract-level allows), honouring limit and reverse. */
  /** @internal abstract-level private API (called by AbstractLevel, not by users). */
  async _clear(options: RangeLike): Promise<void> {
    const d = this.dictionary;
    let r = rangeOf(options);
    let left = options.limit !== undefined && options.limit >= 0 ? options.limit : Infinity;
    while (left > 0) {
      const chunk = await d.committedChunk(r, Math.min(left, CHUNK * 4));
      if (chunk.length === 0) return;
      await commitOps(this.env!, chunk.map((e) => ({ dict: d, op: 'delete' as const, key: e.key })));
      left -= chunk.length;
      r = narrow(r, { key: chunk[chunk.length - 1]!.key, strict: true });
    }
  }
}
