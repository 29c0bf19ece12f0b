/**
 * The checkpoint's node writes through NodeStorage's frame workers (checksum and pwritev off
 * the main thread). A checkpoint must leave the dictionary file byte for byte as the
 * main-thread path does, keep the PAIRs' own values intact when a codec's clone shares bytes
 * with them, and stay sharp while clients rewrite nodes during the checkpoint.
 */
import { fastNodeStorage } from './helpers.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import { CheckpointableDictionary, NODE_SLICE_BYTES, readCheckpointedImage, type NodeCodec } from '../../src/checkpoint/checkpointable-dictionary.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { LogWriter } from '../../src/log/writer.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

const NODE = 2 * NODE_SLICE_BYTES + 333;
const COUNT = 10;

/** Clones are fresh arrays and serialize returns them as they are: safe to hand over. */
const privateCodec: NodeCodec<Uint8Array> = {
  serialize: (v) => v,
  deserialize: (b) => b.slice(),
  clone: (v) => v.slice(),
  sizeOf: (v) => v.length,
  privateCloneBytes: true,
};

/** Values are {bytes}; a clone shares the very same bytes (as the engine's frozen rollback nodes do). */
type Shared = { bytes: Uint8Array };
const sharingCodec: NodeCodec<Shared> = {
  serialize: (v) => v.bytes,
  deserialize: (b) => ({ bytes: b.slice() }),
  clone: (v) => ({ bytes: v.bytes }),
  sizeOf: (v) => v.bytes.length,
};

async function run<V>(
  dir: string,
  storage: NodeStorage,
  codec: NodeCodec<V>,
  make: (i: number) => V,
  rewrite: (v: V, i: number) => V,
  syncEveryBytes?: number,
): Promise<{ file: Buffer; ct: Cachetable; dict: CheckpointableDictionary<V>; nodes: bigint[] }> {
  await mkdir(join(dir, 'log'), { recursive: true });
  const ct = new Cachetable();
  const log = await LogWriter.open({ storage, dir: join(dir, 'log') });
  const nodes: bigint[] = [];
  let dict: CheckpointableDictionary<V> | null = null;
  let client: Promise<void> | null = null;
  const cp = new Checkpointer({
    cachetable: ct,
    clock: new VirtualClock(),
    logger: log,
    periodSeconds: 0,
    hooks: {
      // While the checkpoint writes, a client replaces every node's value.
      afterBegin: () => {
        client = (async () => {
          for (let i = 0; i < nodes.length; i++) {
            const p = await ct.getAndPin(dict!.cachefile, nodes[i]!, { mode: 'write' });
            p.value = rewrite(p.value, i);
            ct.unpin(p, { dirty: true });
          }
        })();
      },
    },
  });
  dict = await CheckpointableDictionary.create<V>({
    cachetable: ct, storage, path: join(dir, 'd.tokudb'), filenum: 1, codec, header: newFtHeader({ now: 1n }),
    ...(syncEveryBytes !== undefined ? { syncEveryBytes } : {}),
  });
  cp.attach(dict.cachefile, dict);
  for (let i = 0; i < COUNT; i++) {
    const p = await ct.put(dict.cachefile, () => dict.allocateBlocknum(), make(i), NODE);
    nodes.push(p.blocknum);
    ct.unpin(p, { dirty: true });
  }
  await cp.checkpoint();
  await client;
  await cp.shutdown();
  await log.close();
  const file = await readFile(join(dir, 'd.tokudb'));
  return { file, ct, dict, nodes };
}

describe('checkpoint writes through frame workers', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tokusim-offload-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const fill = (i: number): Uint8Array => new Uint8Array(NODE).fill(i + 1);
  const refill = (_v: Uint8Array, i: number): Uint8Array => new Uint8Array(NODE).fill(100 + i);

  it('Scenario: a checkpoint on frame workers leaves the dictionary file byte for byte as the main-thread path does', async () => {
    const off = fastNodeStorage({ frameWorkers: 0 });
    const on = fastNodeStorage({ frameWorkers: 2 });
    const a = await run(join(root, 'main'), off, privateCodec, fill, refill);
    const b = await run(join(root, 'workers'), on, privateCodec, fill, refill);
    expect(on.fast.frameWorkersRunning).toBeGreaterThan(0);
    await on.close();
    expect(on.fast.frameWorkersRunning).toBe(0);
    // The header slot holds a time of last modification from a virtual clock: equal too.
    expect(b.file.length).toBe(a.file.length);
    expect(b.file.equals(a.file)).toBe(true);
    // And the checkpoint is sharp: every node as it was at begin.
    const img = await readCheckpointedImage(on, join(root, 'workers', 'd.tokudb'), { deserialize: (x: Uint8Array) => x.slice() });
    expect(img.blocks.size).toBe(COUNT);
    [...img.blocks.values()].forEach((v, i) => expect(v).toEqual(fill(i)));
    expect(b.ct.stats.bytesWrittenForCheckpoint).toBe(a.ct.stats.bytesWrittenForCheckpoint);
  });

  it('Scenario: when a clone shares bytes with its PAIR, the write copies them and the PAIR keeps its value', async () => {
    const storage = fastNodeStorage({ frameWorkers: 1 });
    // The client write-pins each pending node (so it clones it, sharing the bytes) and keeps
    // its value; afterwards the PAIRs' bytes must still be whole, not handed to a worker.
    const r = await run<Shared>(join(root, 'shared'), storage, sharingCodec, (i) => ({ bytes: fill(i) }), (v) => v);
    for (let i = 0; i < COUNT; i++) {
      const p = await r.ct.getAndPin(r.dict.cachefile, r.nodes[i]!, { mode: 'read' });
      expect(p.value.bytes.byteLength).toBe(NODE);
      expect(p.value.bytes).toEqual(fill(i));
      r.ct.unpin(p, { dirty: false });
    }
    const img = await readCheckpointedImage(storage, join(root, 'shared', 'd.tokudb'), { deserialize: (x: Uint8Array) => x.slice() });
    [...img.blocks.values()].forEach((v, i) => expect(v).toEqual(fill(i)));
    await storage.close();
  });

  it('Scenario: background fsyncs during the block writes leave the same file, and the checkpoint stays sharp', async () => {
    const plain = fastNodeStorage({ frameWorkers: 1 });
    const syncing = fastNodeStorage({ frameWorkers: 1 });
    const a = await run(join(root, 'plain'), plain, privateCodec, fill, refill, 0);
    const b = await run(join(root, 'syncing'), syncing, privateCodec, fill, refill, 2 * NODE);
    expect(a.dict.file.backgroundSyncs).toBe(0);
    expect(b.dict.file.backgroundSyncs).toBeGreaterThan(0);
    expect(b.file.equals(a.file)).toBe(true);
    const img = await readCheckpointedImage(syncing, join(root, 'syncing', 'd.tokudb'), { deserialize: (x: Uint8Array) => x.slice() });
    [...img.blocks.values()].forEach((v, i) => expect(v).toEqual(fill(i)));
    await plain.close();
    await syncing.close();
  });
});
