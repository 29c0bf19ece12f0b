/**
 * Framed block writes off the main thread: NodeStorage's frame workers checksum a node payload
 * and write [length][payload][x1764][padding] at an offset. The bytes must be exactly those of
 * the main-thread frameBlock path, failures must be io TokusimErrors naming the path, and the
 * pool must stop on close and never hold the process open while idle.
 */
import { fastNodeStorage } from './helpers.js';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { frameBlock, unframeBlock } from '../../src/checkpoint/checkpointable-dictionary.js';
import { TokusimError } from '../../src/base/errors.js';
import { FramedPayload, FrameWorkerPool } from '../../src/fast/frame-workers.js';
import { acceptsFramedPayload } from '../../src/fast/install.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { SHARED_PAGE_BYTES, SharedPageArena, setSharedPages, sharedPages } from '../../src/fast/shared-pages.js';

function payloadOf(length: number, seed: number): Uint8Array {
  const p = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    p[i] = x >>> 24;
  }
  return p;
}

/**
 * A file written through frame workers beside one written with the main thread's frameBlock.
 * writeBoth writes a payload's frame to both (the framed file through `framedPayload`),
 * expects the two files to be byte for byte equal, and returns the framed file's bytes.
 */
async function framedBesidePlain(storage: NodeStorage, root: string, name: string) {
  const framedPath = join(root, name);
  const plainPath = join(root, `${name}-plain`);
  const framed = await storage.open(framedPath, 'create');
  const plain = await storage.open(plainPath, 'create');
  return {
    storage,
    framed,
    async writeBoth(payload: Uint8Array, framedPayload: FramedPayload, offset: number): Promise<Buffer> {
      await plain.pwrite(frameBlock(payload, { padTo512: true }), offset);
      await framed.pwrite(framedPayload, offset);
      const a = await readFile(framedPath);
      const b = await readFile(plainPath);
      expect(a.equals(b)).toBe(true);
      return a;
    },
    async close(): Promise<void> {
      await framed.close();
      await plain.close();
      await storage.close();
    },
  };
}

describe('frame workers', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tokusim-frames-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const mode of ['worker', 'worker-sync', 'libuv'] as const) {
    // Property: for any payload and 512-aligned offset, a framed write leaves on disk exactly
    // the bytes a plain pwrite of frameBlock(payload, padTo512) leaves, in either mode.
    it(`Scenario: framed writes (mode ${mode}) leave the same bytes as the main-thread frame`, async () => {
      const files = await framedBesidePlain(fastNodeStorage({ frameWorkers: 2, frameWriteMode: mode }), root, `framed-${mode}`);
      expect(acceptsFramedPayload(files.storage)).toBe(true);
      try {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 40 }), fc.integer(), async (len, sector, seed) => {
            const offset = sector * 512;
            const payload = payloadOf(len, seed);
            const a = await files.writeBoth(payload, new FramedPayload(payloadOf(len, seed)), offset);
            const end = offset + Math.ceil((len + 8) / 512) * 512;
            expect([...unframeBlock(new Uint8Array(a.subarray(offset, end)), { file: 'framed', offset })]).toEqual([...payload]);
          }),
          { numRuns: 40 },
        );
      } finally {
        await files.close();
      }
    });
  }

  for (const mode of ['worker', 'worker-sync', 'libuv'] as const) {
    // Property: a payload given as views on SharedArrayBuffers (any split, parts of several
    // buffers at any offsets) is written exactly as frameBlock of their concatenation, and the
    // shared bytes are left as they were.
    it(`Scenario: framed writes of shared parts (mode ${mode}) leave the same bytes as the main-thread frame of their concatenation`, async () => {
      const files = await framedBesidePlain(fastNodeStorage({ frameWorkers: 2, frameWriteMode: mode }), root, `shared-${mode}`);
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 20 }), fc.integer(), async (lens, sector, seed) => {
            const offset = sector * 512;
            const total = lens.reduce((a, b) => a + b, 0);
            const payload = payloadOf(total, seed);
            // Two shared buffers; part i lies in buffer i % 2 after a gap of i bytes.
            const sabs = [new SharedArrayBuffer(total + 64), new SharedArrayBuffer(total + 64)];
            const parts: Uint8Array[] = [];
            let at = 0;
            const used = [0, 0];
            lens.forEach((n, i) => {
              const k = i % 2;
              const view = new Uint8Array(sabs[k]!, used[k]! + (i % 5), n);
              view.set(payload.subarray(at, at + n));
              used[k] = used[k]! + (i % 5) + n;
              parts.push(view);
              at += n;
            });
            const before = sabs.map((b) => new Uint8Array(b).slice());
            await files.writeBoth(payload, FramedPayload.ofSharedParts(parts), offset);
            sabs.forEach((sab, k) => expect(new Uint8Array(sab)).toEqual(before[k]));
          }),
          { numRuns: 30 },
        );
      } finally {
        await files.close();
      }
    });
  }

  for (const mode of ['worker', 'worker-sync', 'libuv'] as const) {
    // Property: a payload of pages of the shared page arena (folded in place by the worker),
    // alone or mixed with plain shared buffers, back to back or scattered, is written exactly
    // as frameBlock of the concatenation; a worker that was sent one arena is sent the next
    // one when the process's arena changes.
    it(`Scenario: framed writes of arena pages (mode ${mode}) leave the same bytes as the main-thread frame`, async () => {
      const before = sharedPages();
      const files = await framedBesidePlain(fastNodeStorage({ frameWorkers: 1, frameWriteMode: mode }), root, `arena-${mode}`);
      try {
        for (const round of [0, 1]) {
          const arena = new SharedPageArena(32 * 65536);
          setSharedPages(arena);
          await fc.assert(
            fc.asyncProperty(
              fc.array(fc.tuple(fc.integer({ min: 0, max: SHARED_PAGE_BYTES }), fc.constantFrom('next', 'gap', 'sab')), { minLength: 1, maxLength: 10 }),
              fc.integer({ min: 0, max: 20 }),
              fc.integer(),
              async (shape, sector, seed) => {
                const parts: Uint8Array[] = [];
                for (const [n, where] of shape) {
                  if (where === 'sab') parts.push(new Uint8Array(new SharedArrayBuffer(n + 3), 3, n));
                  else {
                    if (where === 'gap') arena.alloc();
                    const page = arena.alloc();
                    if (page === null) return; // arena used up: this run says nothing
                    parts.push(page.view.subarray(0, n));
                  }
                }
                const total = parts.reduce((a, p) => a + p.length, 0);
                const payload = payloadOf(total, seed + round);
                let at = 0;
                for (const p of parts) {
                  p.set(payload.subarray(at, at + p.length));
                  at += p.length;
                }
                const offset = sector * 512;
                await files.writeBoth(payload, FramedPayload.ofSharedParts(parts), offset);
              },
            ),
            { numRuns: 25 },
          );
        }
      } finally {
        setSharedPages(before);
        await files.close();
      }
    });
  }

  it('Scenario: the pool keeps to one worker while its caller is busy, and spreads writes over all of them while it is idle', async () => {
    // The caller's load comes from a probe the test sets (the default probe reads the event
    // loop's utilization, which depends on the machine's timing and is not asserted on here).
    let callerBusy = true;
    const pool = new FrameWorkerPool(2, 'worker-sync', undefined, () => callerBusy);
    const fd = openSync(join(root, 'spread'), 'w');
    const block = 16 * 1024;
    const writeMany = (from: number): Promise<void[]> =>
      Promise.all(Array.from({ length: 8 }, (_, i) => pool.write(fd, 'spread', new FramedPayload(payloadOf(block - 8, from + i)), (from + i) * block)));
    try {
      // Busy: every write goes to the one worker.
      await writeMany(0);
      expect(pool.running).toBe(1);
      expect(pool.spread).toEqual({ all: 0, one: 8 });
      // Idle: the next writes start the second worker.
      callerBusy = false;
      await writeMany(8);
      expect(pool.running).toBe(2);
      expect(pool.spread.all).toBe(8);
      const all = await readFile(join(root, 'spread'));
      for (let i = 0; i < 16; i++) {
        const got = unframeBlock(new Uint8Array(all.subarray(i * block, (i + 1) * block)), { file: 'spread', offset: i * block });
        expect(got).toEqual(payloadOf(block - 8, i));
      }
    } finally {
      closeSync(fd);
      await pool.close();
    }
  });

  it('Scenario: shared parts must all be views on SharedArrayBuffers', () => {
    expect(() => FramedPayload.ofSharedParts([new Uint8Array(new SharedArrayBuffer(8)), new Uint8Array(8)])).toThrow(/SharedArrayBuffer/);
  });

  it('Scenario: many framed writes in flight at once land at their own offsets', async () => {
    const storage = fastNodeStorage({ frameWorkers: 2 });
    const f = await storage.open(join(root, 'many'), 'create');
    const block = 64 * 1024;
    const writes = Array.from({ length: 24 }, (_, i) => f.pwrite(new FramedPayload(payloadOf(block - 8, i)), i * block));
    await Promise.all(writes);
    await f.close();
    await storage.close();
    const all = await readFile(join(root, 'many'));
    for (let i = 0; i < 24; i++) {
      const got = unframeBlock(new Uint8Array(all.subarray(i * block, (i + 1) * block)), { file: 'many', offset: i * block });
      expect([...got.subarray(0, 16)]).toEqual([...payloadOf(block - 8, i).subarray(0, 16)]);
    }
  });

  it('Scenario: the payload handed to a framed write is taken (its buffer detached), so nobody can change it mid-write', async () => {
    const storage = fastNodeStorage();
    const f = await storage.open(join(root, 'taken'), 'create');
    const payload = payloadOf(4096, 3);
    const w = f.pwrite(new FramedPayload(payload), 0);
    expect(payload.byteLength).toBe(0);
    await w;
    await f.close();
    await storage.close();
  });

  it('Scenario: an OS error in a worker surfaces as an io TokusimError naming the path', async () => {
    const storage = fastNodeStorage();
    const path = join(root, 'huge');
    const f = await storage.open(path, 'create');
    // Far past any file system's largest file: the worker's pwritev fails (EFBIG or EINVAL).
    const err = await f.pwrite(new FramedPayload(payloadOf(1000, 1)), 2 ** 52).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('io');
    expect((err as TokusimError).where.file).toBe(path);
    expect(['EFBIG', 'EINVAL', 'EOVERFLOW']).toContain((err as TokusimError).where.actual);
    // The storage keeps working after the failure.
    await f.pwrite(new FramedPayload(payloadOf(1000, 1)), 0);
    await f.close();
    await storage.close();
  });

  for (const mode of ['worker', 'worker-sync', 'libuv'] as const) {
    it(`Scenario: a write on a bad descriptor (mode ${mode}) is an io error EBADF naming the path, not a hang`, async () => {
      const pool = new FrameWorkerPool(1, mode);
      const err = await pool.write(1_000_000, 'nowhere', new FramedPayload(payloadOf(600, 2)), 0).then(
        () => null,
        (e: unknown) => e,
      );
      await pool.close();
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('io');
      expect((err as TokusimError).where.file).toBe('nowhere');
      expect((err as TokusimError).where.actual).toBe('EBADF');
    });
  }

  it('Scenario: closing the pool fails the writes still queued with io errors instead of leaving them hanging', async () => {
    const pool = new FrameWorkerPool(1);
    const f = await fastNodeStorage({ frameWorkers: 0 }).open(join(root, 'closing'), 'create');
    const fd = (f as unknown as { handle: { fd: number } }).handle.fd;
    const writes = Array.from({ length: 8 }, (_, i) =>
      pool.write(fd, 'closing', new FramedPayload(payloadOf(1 << 20, i)), i * ((1 << 20) + 512)).then(
        () => 'ok',
        (e: unknown) => (e instanceof TokusimError && e.kind === 'io' && e.where.file === 'closing' ? 'io' : `other: ${String(e)}`),
      ),
    );
    await pool.close();
    const outcomes = await Promise.all(writes);
    for (const o of outcomes) expect(['ok', 'io']).toContain(o);
    expect(pool.running).toBe(0);
    await f.close();
  });

  it('Scenario: frame workers run at background priority (nice 10 by default, as configured) on Linux', async () => {
    const nicesOfThreads = (): number[] =>
      readdirSync('/proc/self/task').map((tid) => getPriority(Number(tid)));
    for (const [opts, want] of [[{}, 10], [{ frameWorkerNice: 17 }, 17]] as const) {
      const storage = fastNodeStorage({ frameWorkers: 1, ...opts });
      const f = await storage.open(join(root, `nice-${want}`), 'create');
      await f.pwrite(new FramedPayload(payloadOf(5000, 3)), 0);
      // Exactly one thread of this process has the workers' nice value: the frame worker.
      expect(nicesOfThreads().filter((n) => n === want)).toHaveLength(1);
      await f.close();
      await storage.close();
    }
    expect(() => new FrameWorkerPool(1, 'worker', 20)).toThrow(/nice value 20/);
  });

  it('Scenario: the pool starts on the first framed write, stops on close, and holds no ref while idle', async () => {
    const storage = fastNodeStorage({ frameWorkers: 1 });
    expect(storage.fast.frameWorkersRunning).toBe(0);
    const f = await storage.open(join(root, 'pool'), 'create');
    await f.pwrite(new FramedPayload(payloadOf(5000, 9)), 0);
    expect(storage.fast.frameWorkersRunning).toBe(1);
    // Idle: the worker is unref'd, so it does not count among the handles keeping node alive.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort')).toEqual([]);
    await storage.close();
    expect(storage.fast.frameWorkersRunning).toBe(0);
    // A later framed write starts a fresh pool.
    await f.pwrite(new FramedPayload(payloadOf(5000, 9)), 4096 * 2);
    expect(storage.fast.frameWorkersRunning).toBe(1);
    await f.close();
    await storage.close();
  });

  it('Scenario: a storage without frame workers does not accept framed payloads and refuses one with an io error', async () => {
    const storage = fastNodeStorage({ frameWorkers: 0 });
    const f = await storage.open(join(root, 'off'), 'create');
    expect(acceptsFramedPayload(storage)).toBe(false);
    await expect(f.pwrite(new FramedPayload(payloadOf(100, 1)), 0)).rejects.toMatchObject({ kind: 'io', where: { file: join(root, 'off') } });
    await f.close();
  });

  it('Scenario: a framed payload written as plain bytes by a storage that does not know it fails to unframe, never reads as a value', async () => {
    const sim = new SimStorage({ seed: 1 });
    const f = await sim.open('x', 'create');
    expect(acceptsFramedPayload(sim)).toBe(false);
    const fp = new FramedPayload(payloadOf(700, 4));
    await f.pwrite(fp, 0);
    const back = new Uint8Array(fp.length);
    await f.pread(back, 0);
    expect(() => unframeBlock(back, { file: 'x', offset: 0 })).toThrow(expect.objectContaining({ kind: 'bad-length' }));
  });
});
