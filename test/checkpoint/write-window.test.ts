/**
 * The checkpoint thread's write window (Cachetable.checkpointWriteWindow): several pending
 * PAIRs may be on their way to disk at once, but checkpoint_pending_pairs (and so the BTT and
 * header writes after it) must wait for every one of them.
 */
import { describe, expect, it } from 'vitest';
import { SimStorage } from '../../src/storage/sim-storage.js';
import type { OpenMode, StorageFile } from '../../src/storage/storage.js';
import { makeEnv, modify, putNodes, readLogRecords, logPaths, valCodec, type Env } from './helpers.js';
import { readCheckpointedImage } from '../../src/checkpoint/checkpointable-dictionary.js';

/** Header slots live below 8192; node blocks and the BTT at or above it. */
const FIRST_BLOCK_OFFSET = 8192;

interface FileTrace {
  inFlightBlocks: number;
  maxInFlightBlocks: number;
  blockWritesDone: number;
  /** For each header pwrite: block writes still in flight and block writes done when it started. */
  headerStarts: Array<{ inFlight: number; done: number }>;
}

/** SimStorage that traces the pwrites of the dictionary files. */
class TracingStorage extends SimStorage {
  readonly traces = new Map<string, FileTrace>();

  override async open(path: string, mode: OpenMode): Promise<StorageFile> {
    const f = await super.open(path, mode);
    if (!path.endsWith('.tokudb')) return f;
    const t: FileTrace = this.traces.get(path) ?? { inFlightBlocks: 0, maxInFlightBlocks: 0, blockWritesDone: 0, headerStarts: [] };
    this.traces.set(path, t);
    const pwrite = f.pwrite.bind(f);
    f.pwrite = async (data: Uint8Array, offset: number): Promise<void> => {
      if (offset < FIRST_BLOCK_OFFSET) {
        t.headerStarts.push({ inFlight: t.inFlightBlocks, done: t.blockWritesDone });
        return pwrite(data, offset);
      }
      t.inFlightBlocks++;
      t.maxInFlightBlocks = Math.max(t.maxInFlightBlocks, t.inFlightBlocks);
      try {
        await pwrite(data, offset);
      } finally {
        t.inFlightBlocks--;
        t.blockWritesDone++;
      }
    };
    return f;
  }
}

describe('checkpoint write window', () => {
  for (const cloneable of [true, false]) {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      // Scenario: 40 dirty PAIRs, a window of 4 and a disk that completes calls out of order;
      // while a client keeps modifying PAIRs, the checkpoint's header pwrite starts only once
      // no block write is in flight and every dirty PAIR (plus the BTT) has been written.
      it(`Scenario: the header is written only after every windowed pair write finished (${cloneable ? 'clone' : 'no clone'}, seed ${seed})`, async () => {
        const storage = new TracingStorage({ seed, ioJitter: 40 });
        let atHook: { inFlight: number; done: number } | null = null;
        let env: Env | null = null;
        let nodes: bigint[] = [];
        let client: Promise<void> | null = null;
        env = await makeEnv({
          storage,
          cloneable,
          hooks: {
            // Once the pending bits are on, a client modifies PAIRs while the checkpoint
            // writes them (its pins wait for no-clone writes in the window).
            afterBegin: () => {
              const e = env!;
              client = (async () => {
                for (let i = 0; i < 20; i++) await modify(e, e.dicts[0]!, nodes[(i * 7) % nodes.length]!, 100 + i);
              })();
            },
            afterPendingPairsWritten: () => {
              const t = storage.traces.get('data/d0.tokudb')!;
              atHook = { inFlight: t.inFlightBlocks, done: t.blockWritesDone };
            },
          },
        });
        env.ct.checkpointWriteWindow = 4;
        const d = env.dicts[0]!;
        nodes = await putNodes(env, d, 40, 1);
        const trace = storage.traces.get('data/d0.tokudb')!;
        const doneBefore = trace.blockWritesDone;
        const headersBefore = trace.headerStarts.length;

        await env.cp.checkpoint();
        expect(client).not.toBeNull();
        await client;

        expect(atHook).not.toBeNull();
        expect(atHook!.inFlight).toBe(0);
        expect(atHook!.done - doneBefore).toBe(40);
        const headers = trace.headerStarts.slice(headersBefore);
        expect(headers).toHaveLength(1);
        expect(headers[0]!.inFlight).toBe(0);
        // 40 node blocks and the BTT precede the header.
        expect(headers[0]!.done - doneBefore).toBe(41);
        expect(trace.maxInFlightBlocks).toBeGreaterThan(1);
        // The window bounds the checkpoint thread's writes; clients that resolved a pending bit
        // themselves may each have one clone write of their own in flight on top.
        expect(trace.maxInFlightBlocks).toBeLessThanOrEqual(4 + env.ct.stats.pendingResolved.client);
        expect(env.ct.stats.pairsWrittenForCheckpoint).toBe(40);
        expect(readLogRecords(storage, await logPaths(storage)).filter((r) => r.type === 'end_checkpoint')).toHaveLength(1);

        // The checkpointed images are the values at begin (all 1), whatever the client did after.
        const img = await readCheckpointedImage(storage, d.name, valCodec);
        expect([...img.blocks.keys()].sort()).toEqual([...nodes].sort());
        for (const v of img.blocks.values()) expect(v).toEqual({ a: 1, b: 1 });
        await env.cp.shutdown();
      });
    }
  }

  // Scenario: the window is also bounded in bytes: with a byte bound below one PAIR's size
  // the checkpoint writes one PAIR at a time (one write may always run); without it, several.
  for (const [windowBytes, wantMax] of [[1, 1], [Number.MAX_SAFE_INTEGER, 16]] as const) {
    it(`Scenario: a byte bound of ${windowBytes === 1 ? 'one byte' : 'none'} allows at most ${wantMax} windowed write(s) at once`, async () => {
      const storage = new TracingStorage({ seed: 9, ioJitter: 40 });
      const env = await makeEnv({ storage, cloneable: true });
      env.ct.checkpointWriteWindow = 16;
      env.ct.checkpointWriteWindowBytes = windowBytes;
      await putNodes(env, env.dicts[0]!, 40, 1);
      const trace = storage.traces.get('data/d0.tokudb')!;
      trace.maxInFlightBlocks = 0;
      await env.cp.checkpoint();
      expect(env.ct.stats.pairsWrittenForCheckpoint).toBe(40);
      if (wantMax === 1) expect(trace.maxInFlightBlocks).toBe(1);
      else {
        expect(trace.maxInFlightBlocks).toBeGreaterThan(4);
        expect(trace.maxInFlightBlocks).toBeLessThanOrEqual(wantMax);
      }
      await env.cp.shutdown();
    });
  }
});
