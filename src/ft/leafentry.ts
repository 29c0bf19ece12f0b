/**
 * Leaf entries of layout 29 (docs/ft-nodes.md "Leaf entries"; PerconaFT ft/leafentry.h,
 * ft/ule.cc `le_unpack`, `msg_modify_ule`, `le_iterate_val`): the packed form read from a
 * basement node, the unpacked MVCC stack it stands for, message application, and the
 * committed value a reader sees.
 *
 * An unpacked entry (PerconaFT's ULE) is one stack of transaction records: `uxrs[0 .. nc)` are
 * committed (uxrs[0] is the oldest, always with xid 0), `uxrs[nc ..)` are provisional, outermost
 * first. A record inserts a value, deletes, or is a placeholder for an enclosing transaction
 * that did nothing to this key itself.
 *
 * Packed form (after the one type byte; the key is stored apart from the entry):
 *  - clean (type 0): u32 value length, value. Stands for one committed insert with xid 0.
 *  - mvcc (type 1): u32 number of committed records (>= 1), u8 number of provisional records;
 *    then the xids (u64 little-endian): the outermost provisional one (if any), then the
 *    committed ones newest first, except uxrs[0]; then a u32 length word for the innermost
 *    provisional record (if any) and for each committed record newest first (bit 31 set for an
 *    insert, the low 31 bits its value length); then their values in the same order; then,
 *    when there are two or more provisional records: the outermost one's type byte (and u32
 *    length and value for an insert), each middle one's xid, type byte (length, value), and
 *    the innermost one's xid.
 *
 * Invariants:
 *  - unpackLeafEntry reads only inside [offset, end) and checks every count and length against
 *    what is left; the result has nc >= 1, uxrs[0].xid === 0, and an innermost record that is
 *    not a placeholder.
 *  - applyMessage follows PerconaFT's rules, so a message applied twice or out of MSN order is
 *    the caller's bug, not this module's; callers apply each message once, in MSN order.
 */
import { TokusimError } from '../base/errors.js';

/** Transaction record type: the transaction inserted (or overwrote) the key's value. */
export const XR_INSERT = 1;
/** Transaction record type: the transaction deleted the key. */
export const XR_DELETE = 2;
/** Transaction record type: an enclosing transaction that did nothing to the key itself (its children did). */
export const XR_PLACEHOLDER = 3;

/** Packed leaf entry type: one committed value and nothing else. */
export const LE_CLEAN = 0;
/** Packed leaf entry type: a stack of committed and provisional records. */
export const LE_MVCC = 1;

/** One transaction record. */
export interface Uxr {
  /** Insert, delete or placeholder. */
  type: typeof XR_INSERT | typeof XR_DELETE | typeof XR_PLACEHOLDER;
  /** The transaction's id at this level (0 for the oldest committed record). */
  xid: bigint;
  /** The value (inserts only). */
  value?: Uint8Array;
}

/** An unpacked leaf entry: committed records [0, nc), provisional records after them. */
export interface Ule {
  uxrs: Uxr[];
  /** How many of uxrs are committed (>= 1). */
  nc: number;
}

/** Where a leaf entry lies, for errors. */
export interface LeafEntrySite {
  file: string;
  blocknum: bigint;
  /** The part of the node ("partition 2"). */
  what: string;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function u64le(b: Uint8Array, at: number): bigint {
  return (BigInt(u32(b, at + 4)) << 32n) | BigInt(u32(b, at));
}

const MAX_STACK = 255;

/**
 * Unpack the leaf entry that starts at `offset` in `buf` and must end by `end`. Throws a
 * 'bad-node' TokusimError naming the site and the position inside the partition.
 */
export function unpackLeafEntry(
  buf: Uint8Array,
  offset: number,
  end: number,
  site: LeafEntrySite,
  keyInline = false,
): { ule: Ule; size: number; key?: Uint8Array; consumed: number } {
  let p = offset;
  const fail = (what: string, expected: string, actual: string): never => {
    throw new TokusimError('bad-node', `${site.what}: leaf entry at partition byte ${offset}: ${what}`, { file: site.file, blocknum: site.blocknum, expected, actual });
  };
  const need = (n: number, what: string) => {
    if (p + n > end) fail(`${what} runs past the entry's space`, `${n} bytes`, `${Math.max(0, end - p)} left`);
  };
  need(1, 'type byte');
  const type = buf[p++]!;
  let keyLen = 0;
  if (keyInline) {
    need(4, 'key length');
    keyLen = u32(buf, p);
    p += 4;
  }
  let key: Uint8Array | undefined;
  const readKey = () => {
    if (!keyInline) return;
    need(keyLen, 'key');
    key = buf.subarray(p, p + keyLen);
    p += keyLen;
  };
  const done = (ule: Ule) => ({ ule, size: p - offset - (keyInline ? 4 + keyLen : 0), key, consumed: p - offset });
  if (type === LE_CLEAN) {
    need(4, 'value length');
    const len = u32(buf, p);
    p += 4;
    readKey();
    need(len, 'value');
    const value = buf.subarray(p, p + len);
    p += len;
    return done({ uxrs: [{ type: XR_INSERT, xid: 0n, value }], nc: 1 });
  }
  if (type !== LE_MVCC) fail('unknown leaf entry type', '0 (clean) or 1 (mvcc)', String(type));
  need(5, 'record counts');
  const nc = u32(buf, p);
  const np = buf[p + 4]!;
  p += 5;
  readKey();
  if (nc < 1 || nc > (end - p) / 8 + 1) fail('committed record count out of range', `1..${Math.floor((end - p) / 8) + 1}`, String(nc));
  if (np > MAX_STACK) fail('provisional record count out of range', `0..${MAX_STACK}`, String(np));
  const uxrs: Uxr[] = new Array(nc + np);
  for (let i = 0; i < nc + np; i++) uxrs[i] = { type: XR_INSERT, xid: 0n };
  if (np > 0) {
    need(8, 'outermost provisional xid');
    uxrs[nc]!.xid = u64le(buf, p);
    p += 8;
  }
  need(8 * (nc - 1), 'committed xids');
  for (let i = 0; i < nc - 1; i++, p += 8) uxrs[nc - 1 - i]!.xid = u64le(buf, p);
  const lengthWord = (u: Uxr) => {
    need(4, 'length word');
    const w = u32(buf, p);
    p += 4;
    if ((w & 0x80000000) !== 0) {
      u.type = XR_INSERT;
      u.value = new Uint8Array(w & 0x7fffffff);
    } else {
      u.type = XR_DELETE;
    }
  };
  const data = (u: Uxr) => {
    if (u.type !== XR_INSERT) return;
    const len = u.value!.length;
    need(len, 'value');
    u.value = buf.subarray(p, p + len);
    p += len;
  };
  if (np > 0) lengthWord(uxrs[nc + np - 1]!);
  for (let i = 0; i < nc; i++) lengthWord(uxrs[nc - 1 - i]!);
  if (np > 0) data(uxrs[nc + np - 1]!);
  for (let i = 0; i < nc; i++) data(uxrs[nc - 1 - i]!);
  const typeAndLength = (u: Uxr) => {
    need(1, 'record type');
    const t = buf[p++]!;
    if (t === XR_INSERT) {
      need(4, 'value length');
      u.type = XR_INSERT;
      u.value = new Uint8Array(u32(buf, p));
      p += 4;
    } else if (t === XR_DELETE || t === XR_PLACEHOLDER) {
      u.type = t;
    } else {
      fail('unknown transaction record type', '1 (insert), 2 (delete) or 3 (placeholder)', String(t));
    }
  };
  if (np > 1) {
    const outer = uxrs[nc]!;
    typeAndLength(outer);
    data(outer);
    for (let i = nc + 1; i < nc + np - 1; i++) {
      need(8, 'provisional xid');
      uxrs[i]!.xid = u64le(buf, p);
      p += 8;
      typeAndLength(uxrs[i]!);
      data(uxrs[i]!);
    }
    need(8, 'innermost provisional xid');
    uxrs[nc + np - 1]!.xid = u64le(buf, p);
    p += 8;
  }
  return done({ uxrs, nc });
}

// ---- message application (PerconaFT ft/ule.cc msg_modify_ule) ----

/** Message types of PerconaFT's `ft_msg_type`. */
export const FT_MSG = {
  NONE: 0,
  INSERT: 1,
  DELETE_ANY: 2,
  ABORT_ANY: 4,
  COMMIT_ANY: 6,
  COMMIT_BROADCAST_ALL: 8,
  COMMIT_BROADCAST_TXN: 9,
  ABORT_BROADCAST_TXN: 10,
  INSERT_NO_OVERWRITE: 11,
  OPTIMIZE: 12,
  OPTIMIZE_FOR_UPGRADE: 13,
  UPDATE: 14,
  UPDATE_BROADCAST_ALL: 15,
} as const;

/** True for the message types that apply to every key under the buffer. */
export function isBroadcast(type: number): boolean {
  return type === FT_MSG.COMMIT_BROADCAST_ALL || type === FT_MSG.COMMIT_BROADCAST_TXN || type === FT_MSG.ABORT_BROADCAST_TXN || type === FT_MSG.OPTIMIZE || type === FT_MSG.OPTIMIZE_FOR_UPGRADE || type === FT_MSG.UPDATE_BROADCAST_ALL;
}

/** An empty entry: one committed delete with xid 0 (PerconaFT's starting point for a new key). */
export function emptyUle(): Ule {
  return { uxrs: [{ type: XR_DELETE, xid: 0n }], nc: 1 };
}

function innermost(u: Ule): Uxr {
  return u.uxrs[u.uxrs.length - 1]!;
}

function np(u: Ule): number {
  return u.uxrs.length - u.nc;
}

function promoteInnermostToCommitted(u: Ule): void {
  const inner = innermost(u);
  const outerXid = u.uxrs[u.nc]!.xid;
  u.uxrs.length = u.nc;
  u.uxrs.push(inner.type === XR_DELETE ? { type: XR_DELETE, xid: outerXid } : { type: XR_INSERT, xid: outerXid, value: inner.value! });
  u.nc++;
}

function promoteInnermostToIndex(u: Ule, index: number): void {
  const inner = innermost(u);
  const xid = u.uxrs[index]!.xid;
  u.uxrs.length = index;
  u.uxrs.push(inner.type === XR_DELETE ? { type: XR_DELETE, xid } : { type: XR_INSERT, xid, value: inner.value! });
}

function doImplicitPromotions(u: Ule, xids: readonly bigint[]): void {
  if (np(u) === 0) return;
  if (xids.length === 0) {
    // A message outside any transaction finds provisional records: every one of them is
    // older than it and resolved, so the innermost becomes the committed value.
    promoteInnermostToCommitted(u);
    return;
  }
  const maxIndex = u.nc + Math.min(np(u), xids.length) - 1;
  let ica = maxIndex;
  for (let i = u.nc; i <= maxIndex; i++) {
    if (xids[i - u.nc] !== u.uxrs[i]!.xid) {
      ica = i - 1;
      break;
    }
  }
  if (ica < u.nc) promoteInnermostToCommitted(u);
  else if (ica < u.uxrs.length - 1) promoteInnermostToIndex(u, ica);
}

function removeInnermostPlaceholders(u: Ule): void {
  while (np(u) > 0 && innermost(u).type === XR_PLACEHOLDER) u.uxrs.pop();
}

function prepareForNewUxr(u: Ule, xids: readonly bigint[]): void {
  const thisXid = xids.length === 0 ? 0n : xids[xids.length - 1]!;
  if (thisXid === 0n && innermost(u).xid === 0n) {
    // Outside any transaction: the new record replaces the committed one.
    if (np(u) > 0) u.uxrs.pop();
    else {
      u.uxrs.pop();
      u.nc--;
    }
  } else if (np(u) > 0 && innermost(u).xid === thisXid) {
    u.uxrs.pop();
  } else {
    for (let i = np(u); i < xids.length - 1; i++) u.uxrs.push({ type: XR_PLACEHOLDER, xid: xids[i]! });
  }
}

function push(u: Ule, rec: Uxr, committed: boolean): void {
  u.uxrs.push(rec);
  if (committed) u.nc++;
}

/**
 * Apply one message to an entry in place (PerconaFT `msg_modify_ule`). UPDATE messages must be
 * turned into INSERT or DELETE_ANY by the caller first.
 */
export function applyMessage(u: Ule, type: number, xids: readonly bigint[], value: Uint8Array): void {
  if (type !== FT_MSG.OPTIMIZE && type !== FT_MSG.OPTIMIZE_FOR_UPGRADE) doImplicitPromotions(u, xids);
  const thisXid = xids.length === 0 ? 0n : xids[xids.length - 1]!;
  switch (type) {
    case FT_MSG.INSERT_NO_OVERWRITE:
    case FT_MSG.INSERT:
      if (type === FT_MSG.INSERT_NO_OVERWRITE && innermost(u).type === XR_INSERT) return;
      prepareForNewUxr(u, xids);
      push(u, { type: XR_INSERT, xid: thisXid, value }, thisXid === 0n);
      return;
    case FT_MSG.DELETE_ANY:
      prepareForNewUxr(u, xids);
      push(u, { type: XR_DELETE, xid: thisXid }, thisXid === 0n);
      return;
    case FT_MSG.ABORT_ANY:
    case FT_MSG.ABORT_BROADCAST_TXN:
      if (np(u) > 0 && innermost(u).xid === thisXid) {
        u.uxrs.pop();
        removeInnermostPlaceholders(u);
      }
      return;
    case FT_MSG.COMMIT_BROADCAST_ALL: {
      const inner = innermost(u);
      u.uxrs = [inner.type === XR_INSERT ? { type: XR_INSERT, xid: 0n, value: inner.value! } : { type: XR_DELETE, xid: 0n }];
      u.nc = 1;
      return;
    }
    case FT_MSG.COMMIT_ANY:
    case FT_MSG.COMMIT_BROADCAST_TXN:
      if (np(u) > 0 && innermost(u).xid === thisXid) {
        if (np(u) === 1) promoteInnermostToCommitted(u);
        else promoteInnermostToIndex(u, u.uxrs.length - 2);
      }
      return;
    case FT_MSG.OPTIMIZE:
    case FT_MSG.OPTIMIZE_FOR_UPGRADE:
      if (np(u) > 0) {
        const oldestLiving = xids.length > 0 ? xids[0]! : 0n;
        if (oldestLiving === 0n || u.uxrs[u.nc]!.xid < oldestLiving) promoteInnermostToCommitted(u);
      }
      return;
    case FT_MSG.NONE:
      return;
    default:
      throw new TokusimError('invariant', `applyMessage: message type ${type} must be resolved by the caller`);
  }
}

/** True when an entry stands for nothing at all (PerconaFT drops such entries when it packs them). */
export function uleIsEmpty(u: Ule): boolean {
  return np(u) === 0 && innermost(u).type === XR_DELETE;
}

/**
 * Decides whether the root transaction with this xid committed. The default answer for
 * {@link committedValue} is "yes for every xid": in a cleanly closed environment every
 * transaction has ended, and the aborted ones have left ABORT messages in the tree.
 */
export type XidCommitted = (xid: bigint) => boolean;

/**
 * Decides whether one level of a provisional stack survived. `xids` is the stack from the
 * outermost (root) xid down to and including the level asked about: `[root]` asks about the
 * root transaction, `[root, child]` about a child of it, and so on (each level's xid is the
 * one PerconaFT stores for it: the root's id, then each child's own id). Levels are asked
 * outermost first, and a level is asked only when every level outside it survived; a level
 * that did not (an aborted child, or a root that aborted or is still live or prepared) is
 * left out together with every level inside it.
 */
export type LevelCommitted = (xids: readonly bigint[]) => boolean;

/** The answer "every transaction committed", for a cleanly closed environment. */
export const ALL_COMMITTED: LevelCommitted = () => true;

/** Asks only about the root: every level below a committed root is taken as committed. */
export function rootOnly(committed: XidCommitted): LevelCommitted {
  return (xids) => xids.length > 1 || committed(xids[0]!);
}

/** What {@link resolveEntry} found. */
export interface ResolvedEntry {
  /** The value a read-committed reader sees, or null when that record is a delete. */
  value: Uint8Array | null;
  /**
   * When part of the provisional stack was left out: the xids from the root down to the
   * outermost level that did not survive. Undefined when nothing was left out (including an
   * entry with no provisional records).
   */
  leftOut: bigint[] | undefined;
}

/**
 * Resolve an entry's provisional stack with `committed`, level by level (PerconaFT
 * `le_iterate_val` once each transaction's fate is known): the levels from the outermost
 * down to the last one that survived are kept, the rest are dropped, and the value is that
 * of the innermost kept record that is not a placeholder, or else the newest committed
 * record.
 */
export function resolveEntry(u: Ule, committed: LevelCommitted): ResolvedEntry {
  const n = np(u);
  let kept = n;
  let leftOut: bigint[] | undefined;
  if (n > 0) {
    const stack: bigint[] = [];
    for (let i = 0; i < n; i++) {
      stack.push(u.uxrs[u.nc + i]!.xid);
      if (!committed(stack.slice())) {
        kept = i;
        leftOut = stack;
        break;
      }
    }
  }
  let rec: Uxr | undefined;
  for (let i = u.nc + kept - 1; i >= u.nc; i--) {
    if (u.uxrs[i]!.type !== XR_PLACEHOLDER) {
      rec = u.uxrs[i];
      break;
    }
  }
  rec ??= u.uxrs[u.nc - 1]!;
  return { value: rec.type === XR_INSERT ? rec.value! : null, leftOut };
}

/**
 * The value a read-committed reader sees once the provisional records are resolved with
 * `committed`, asked about the root transaction only (see {@link resolveEntry} to ask about
 * every level): the innermost record of the provisional stack if its root transaction
 * committed, else the newest committed record. Returns the value, or null when that record
 * is a delete.
 */
export function committedValue(u: Ule, committed: XidCommitted = () => true): Uint8Array | null {
  return resolveEntry(u, rootOnly(committed)).value;
}
