/** Test-local setup for the checkpointer: SimStorage, VirtualClock, a cachetable, a log, dictionaries. */
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { Checkpointer, type CheckpointerOptions } from '../../src/checkpoint/checkpointer.js';
import { CheckpointableDictionary, type NodeCodec } from '../../src/checkpoint/checkpointable-dictionary.js';
import { decodeRecord } from '../../src/format/codec.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { LOG_FILE_HEADER_SIZE } from '../../src/format/log-header.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { LogWriter } from '../../src/log/writer.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

/** A node value a client modifies in two steps, so a torn image shows up as a !== b. */
export interface Val {
  a: number;
  b: number;
}

export const valCodec: NodeCodec<Val> = {
  serialize(v) {
    const out = new Uint8Array(8);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, v.a, true);
    dv.setUint32(4, v.b, true);
    return out;
  },
  deserialize(bytes) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { a: dv.getUint32(0, true), b: dv.getUint32(4, true) };
  },
  clone: (v) => ({ ...v }),
  sizeOf: () => 8,
};

export const noCloneCodec: NodeCodec<Val> = { ...valCodec, clone: undefined };

export interface Env {
  storage: SimStorage;
  clock: VirtualClock;
  ct: Cachetable;
  log: LogWriter;
  cp: Checkpointer;
  dicts: CheckpointableDictionary<Val>[];
}

export async function makeEnv(opts: { dicts?: number; cloneable?: boolean; lgMax?: number; storage?: SimStorage } & Partial<CheckpointerOptions> = {}): Promise<Env> {
  const storage = opts.storage ?? new SimStorage({ seed: 7 });
  const clock = new VirtualClock();
  await storage.mkdir('log');
  await storage.mkdir('data');
  const ct = new Cachetable();
  const log = await LogWriter.open({ storage, dir: 'log', lgMax: opts.lgMax ?? 1 << 20 });
  const cp = new Checkpointer({ periodSeconds: 0, ...opts, cachetable: ct, clock, logger: log });
  const dicts: CheckpointableDictionary<Val>[] = [];
  for (let i = 0; i < (opts.dicts ?? 1); i++) {
    const d = await CheckpointableDictionary.create<Val>({
      cachetable: ct,
      storage,
      path: `data/d${i}.tokudb`,
      filenum: i + 1,
      codec: opts.cloneable === false ? noCloneCodec : valCodec,
      header: newFtHeader({ now: clock.nowMicros() / 1_000_000n }),
    });
    cp.attach(d.cachefile, d);
    dicts.push(d);
  }
  return { storage, clock, ct, log, cp, dicts };
}

/** Create n new nodes (put + unpin dirty) with value {a: v, b: v}; returns their blocknums. */
export async function putNodes(env: Env, d: CheckpointableDictionary<Val>, n: number, v = 1): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const p = await env.ct.put(d.cachefile, () => d.allocateBlocknum(), { a: v, b: v }, 8);
    out.push(p.blocknum);
    env.ct.unpin(p, { dirty: true });
  }
  return out;
}

/** Write-pin, set both halves to v, unpin dirty. */
export async function modify(env: Env, d: CheckpointableDictionary<Val>, b: bigint, v: number): Promise<void> {
  const p = await env.ct.getAndPin(d.cachefile, b, { mode: 'write' });
  p.value.a = v;
  p.value.b = v;
  env.ct.unpin(p, { dirty: true });
}

/** Every record in the written bytes of the log files, in order. */
export function readLogRecords(storage: SimStorage, paths: readonly string[], durableOnly = false): LogRecord[] {
  const out: LogRecord[] = [];
  for (const path of paths) {
    const bytes = durableOnly ? storage.durableBytes(path) : storage.fileBytes(path);
    if (bytes === undefined) continue;
    let off = LOG_FILE_HEADER_SIZE;
    while (off < bytes.length) {
      const r = decodeRecord(bytes, off, { file: path });
      if (r.kind !== 'ok') break;
      out.push(r.record);
      off += r.length;
    }
  }
  return out;
}

export async function logPaths(storage: SimStorage): Promise<string[]> {
  return (await storage.list('log')).filter((n) => n.endsWith('.tokulog29')).sort().map((n) => `log/${n}`);
}
