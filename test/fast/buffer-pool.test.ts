import { fastNodeStorage } from './helpers.js';
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferPool, blockBuffers } from '../../src/fast/buffer-pool.js';
import { FramedPayload } from '../../src/fast/frame-workers.js';
import { frameBlock } from '../../src/checkpoint/checkpointable-dictionary.js';

describe('BufferPool', () => {
  it('Scenario: a given-back buffer is handed out again for a length of the same 4 KiB class, at offset 0', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(5000);
    expect(a.length).toBe(5000);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(8192);
    a.fill(7);
    pool.give(a.buffer as ArrayBuffer);
    expect(pool.bytesHeld).toBe(8192);
    const b = pool.take(8000);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.reused).toBe(1);
    expect(pool.bytesHeld).toBe(0);
    // A different class gets a fresh buffer.
    const c = pool.take(9000);
    expect(c.buffer).not.toBe(a.buffer);
    expect(c.buffer.byteLength).toBe(12288);
  });

  it('Scenario: the pool never holds more than its cap; foreign-sized buffers are dropped', () => {
    const pool = new BufferPool(3 * 4096);
    for (let i = 0; i < 5; i++) pool.give(new ArrayBuffer(4096));
    expect(pool.bytesHeld).toBe(3 * 4096);
    pool.give(new ArrayBuffer(1000)); // not a class size
    expect(pool.bytesHeld).toBe(3 * 4096);
    pool.clear();
    expect(pool.bytesHeld).toBe(0);
    expect(() => pool.take(-1)).toThrow(/take of -1 bytes/);
  });

  it('Scenario: a framed write through a frame worker gives its payload buffer back to blockBuffers, and the bytes on disk are the frame', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tokusim-pool-'));
    const storage = fastNodeStorage({ frameWorkers: 1 });
    try {
      blockBuffers.clear();
      const f = await storage.open(join(root, 'f'), 'create');
      const payload = blockBuffers.take(100_000);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 0xff;
      const expected = frameBlock(payload.slice(), { padTo512: true });
      const buf = payload.buffer;
      await f.pwrite(new FramedPayload(payload), 0);
      expect(buf.byteLength).toBe(0); // detached: it went to the worker
      expect(blockBuffers.bytesHeld).toBe(Math.ceil(100_000 / 4096) * 4096);
      const again = blockBuffers.take(100_000);
      expect(again.length).toBe(100_000);
      await f.close();
      expect(new Uint8Array(await readFile(join(root, 'f')))).toEqual(expected);
    } finally {
      await storage.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
