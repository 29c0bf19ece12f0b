/**
 * Cooperative slicing of the checkpoint's large synchronous steps: on a storage with a yield
 * hook, node framing (copy + x1764) and cloning (codec.cloneSteps) run in bounded slices with
 * a yield between them. The bytes must be those of the unsliced form, the clone must still be
 * the value at the moment its pending bit was resolved, and without a hook nothing changes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import {
  CheckpointableDictionary,
  frameBlock,
  NODE_SLICE_BYTES,
  readCheckpointedImage,
  unframeBlock,
  type NodeCodec,
} from '../../src/checkpoint/checkpointable-dictionary.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { LogWriter } from '../../src/log/writer.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { PLAIN_CAPABILITIES, type StorageCapabilities } from '../../src/storage/storage.js';
import { fastBlockSinks, frameBlockSteps } from '../../src/fast/block-sinks.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

/** SimStorage with a yield hook (a microtask), counting the yields. */
class YieldingSimStorage extends SimStorage {
  yields = 0;
  private readonly countedYield = (): Promise<void> => {
    this.yields++;
    return Promise.resolve();
  };
  override readonly capabilities: StorageCapabilities = {
    ...PLAIN_CAPABILITIES,
    yieldNow: this.countedYield,
    blockSinks: fastBlockSinks({ yieldNow: this.countedYield, framedWrites: false }),
  };
}

const NODE = 3 * NODE_SLICE_BYTES + 100;

function bytesCodec(counters: { sliced: number; plain: number }): NodeCodec<Uint8Array> {
  return {
    serialize: (v) => v,
    deserialize: (b) => b.slice(),
    clone: (v) => {
      counters.plain++;
      return v.slice();
    },
    *cloneSteps(v) {
      counters.sliced++;
      const c = new Uint8Array(v.length);
      for (let off = 0; off < v.length; off += 4096) {
        if (off > 0) yield;
        c.set(v.subarray(off, off + 4096), off);
      }
      return c;
    },
    sizeOf: (v) => v.length,
  };
}

async function run(storage: SimStorage): Promise<{ clones: { sliced: number; plain: number }; images: Map<bigint, Uint8Array>; expected: Map<bigint, number> }> {
  const clock = new VirtualClock();
  await storage.mkdir('log');
  await storage.mkdir('data');
  const ct = new Cachetable();
  ct.checkpointWriteWindow = 3;
  const log = await LogWriter.open({ storage, dir: 'log' });
  const clones = { sliced: 0, plain: 0 };
  const nodes: bigint[] = [];
  let client: Promise<void> | null = null;
  let dict: CheckpointableDictionary<Uint8Array> | null = null;
  const cp = new Checkpointer({
    cachetable: ct,
    clock,
    logger: log,
    periodSeconds: 0,
    hooks: {
      // While the checkpoint clones and frames, a client rewrites every node (fill 200 + i).
      afterBegin: () => {
        client = (async () => {
          for (let i = 0; i < nodes.length; i++) {
            const p = await ct.getAndPin(dict!.cachefile, nodes[i]!, { mode: 'write' });
            p.value.fill(200 + i);
            ct.unpin(p, { dirty: true });
          }
        })();
      },
    },
  });
  dict = await CheckpointableDictionary.create<Uint8Array>({
    cachetable: ct,
    storage,
    path: 'data/s.tokudb',
    filenum: 1,
    codec: bytesCodec(clones),
    header: newFtHeader({ now: 1n }),
  });
  cp.attach(dict.cachefile, dict);
  const expected = new Map<bigint, number>();
  for (let i = 0; i < 12; i++) {
    const p = await ct.put(dict.cachefile, () => dict.allocateBlocknum(), new Uint8Array(NODE).fill(i + 1), NODE);
    nodes.push(p.blocknum);
    expected.set(p.blocknum, i + 1);
    ct.unpin(p, { dirty: true });
  }
  await cp.checkpoint();
  expect(client).not.toBeNull();
  await client;
  await cp.shutdown();
  await log.close();
  const img = await readCheckpointedImage(storage, 'data/s.tokudb', { deserialize: (b: Uint8Array) => b.slice() });
  return { clones, images: img.blocks, expected };
}

describe('sliced checkpoint work', () => {
  // Property: for any payload and slice size, frameBlockSteps returns exactly the bytes of
  // frameBlock(payload, { padTo512: true }), after one yield per slice boundary.
  it('Scenario: sliced framing gives the unsliced bytes for any payload and slice size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 8, max: 3000 }), (payload, slice) => {
        const steps = frameBlockSteps(payload, slice);
        let yields = 0;
        let r = steps.next();
        while (r.done !== true) {
          yields++;
          r = steps.next();
        }
        expect(r.value).toEqual(frameBlock(payload, { padTo512: true }));
        expect(yields).toBe(Math.max(0, Math.ceil(payload.length / slice) - 1));
        expect(unframeBlock(r.value, { file: 'x', offset: 0 })).toEqual(payload);
      }),
      { numRuns: 200 },
    );
  });

  it('Scenario: a slice size below one x1764 word is refused', () => {
    expect(() => frameBlockSteps(new Uint8Array(10), 4).next()).toThrow(/too small/);
  });

  // Scenario: on a storage that yields, a client rewrites every node during the checkpoint;
  // the checkpoint clones with cloneSteps and frames in slices (it yields), and what it wrote
  // is still every node's value at begin.
  it('Scenario: with a yield hook, clones and frames are sliced and the checkpoint stays sharp', async () => {
    const storage = new YieldingSimStorage({ seed: 3, ioJitter: 20 });
    expect(storage.capabilities.yieldNow).toBeTypeOf('function');
    const yieldsBefore = storage.yields;
    const { clones, images, expected } = await run(storage);
    expect(clones.sliced).toBeGreaterThan(0);
    expect(clones.plain).toBe(0);
    // At least the slice boundaries of framing 12 nodes of 3+ slices each.
    expect(storage.yields - yieldsBefore).toBeGreaterThanOrEqual(12 * 3);
    expect(images.size).toBe(expected.size);
    for (const [b, fill] of expected) expect(images.get(b)).toEqual(new Uint8Array(NODE).fill(fill));
  });

  // Scenario: the same run on plain SimStorage (no hook) uses the ordinary clone and never
  // slices, and writes the same images.
  it('Scenario: without a yield hook the ordinary clone and unsliced framing run', async () => {
    const storage = new SimStorage({ seed: 3, ioJitter: 20 });
    expect(storage.capabilities.yieldNow).toBeNull();
    const { clones, images, expected } = await run(storage);
    expect(clones.sliced).toBe(0);
    expect(clones.plain).toBeGreaterThan(0);
    for (const [b, fill] of expected) expect(images.get(b)).toEqual(new Uint8Array(NODE).fill(fill));
  });
});
