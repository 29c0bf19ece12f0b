/**
 * Solo commits in `sync` mode on NodeStorage: a commit whose transaction is the only one live
 * writes its log buffer on the calling thread (LogWriter.fsync's solo option); commits that
 * overlap another live transaction use the group-commit path. Either way every commit is
 * durable and reads back after reopening. Where a solo write goes by default is measured
 * (LogWriter's SoloWayChooser), so the scenario that counts on-thread writes asks for them.
 */
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ioError } from '../../src/storage/io-error.js';
import type { OpenMode, OpenOptions, StorageFile } from '../../src/storage/storage.js';
import { tempDir } from '../log/helpers.js';
import { enc } from './helpers.js';

const dec = new TextDecoder();

describe('engine: solo commits', () => {
  it('Scenario: sequential autocommit puts are solo; a commit while another transaction is live is not; all survive reopen', async () => {
    const tmp = tempDir('tokusim-solo-');
    try {
      const env = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't', logGroupCommit: { soloWrites: 'on-thread' } });
      const d = await env.createDictionary('t');
      const solo0 = env.status().log!.stats.writesOnThisThread;
      for (let i = 0; i < 10; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
      const solo1 = env.status().log!.stats.writesOnThisThread;
      expect(solo1 - solo0).toBe(10);
      // Two explicit transactions live at once: neither commit may skip the group.
      const a = env.begin();
      const b = env.begin();
      await a.put(d, enc('a'), enc('A'));
      await b.put(d, enc('b'), enc('B'));
      await a.commit();
      expect(env.status().log!.stats.writesOnThisThread).toBe(solo1);
      // b is now alone: its commit is solo.
      await b.commit();
      expect(env.status().log!.stats.writesOnThisThread).toBe(solo1 + 1);
      await env.close();

      const again = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't' });
      const d2 = await again.openDictionary('t');
      for (let i = 0; i < 10; i++) expect(dec.decode((await again.get(d2, enc(`k${i}`)))!)).toBe(`v${i}`);
      expect(dec.decode((await again.get(d2, enc('a')))!)).toBe('A');
      expect(dec.decode((await again.get(d2, enc('b')))!)).toBe('B');
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('Scenario: by default (adaptive) the same sequential puts are all solo writes, some of them on this thread, and all survive reopen', async () => {
    const tmp = tempDir('tokusim-solo-adaptive-');
    try {
      const env = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't' });
      const d = await env.createDictionary('t');
      const s0 = env.status().log!.stats;
      for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
      const s1 = env.status().log!.stats;
      expect(s1.soloWrites - s0.soloWrites).toBe(20);
      // Each period of 128 solo writes starts with 8 on the thread and 8 off it; the rest go
      // the way measured faster. The writer counts solo writes from its open, so the ways of
      // these 20 are known but for the measured part.
      const positions = Array.from({ length: 20 }, (_, i) => (s0.soloWrites + i) % 128);
      const surelyOn = positions.filter((p) => p < 8).length;
      const surelyOff = positions.filter((p) => p >= 8 && p < 16).length;
      const onThread = s1.writesOnThisThread - s0.writesOnThisThread;
      expect(onThread).toBeGreaterThanOrEqual(surelyOn);
      expect(onThread).toBeLessThanOrEqual(20 - surelyOff);
      await env.close();
      const again = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't' });
      const d2 = await again.openDictionary('t');
      for (let i = 0; i < 20; i++) expect(dec.decode((await again.get(d2, enc(`k${i}`)))!)).toBe(`v${i}`);
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('Scenario: a solo commit whose on-thread log write fails is failed, never visible, and the environment fails with the write\'s error', async () => {
    /** NodeStorage whose log files' on-thread writes fail with EIO once `failing` is set. */
    class FailingLogWrites extends NodeStorage {
      failing = false;
      override async open(path: string, mode: OpenMode, opts?: OpenOptions): Promise<StorageFile> {
        const f = await super.open(path, mode, opts);
        if (!path.endsWith('.tokulog29')) return f;
        const write = f.pwriteSync.bind(f);
        f.pwriteSync = (data: Uint8Array, offset: number): void => {
          if (this.failing) throw ioError('pwrite', path, 'EIO', 'injected');
          write(data, offset);
        };
        return f;
      }
    }
    const tmp = tempDir('tokusim-solo-fail-');
    try {
      const storage = new FailingLogWrites();
      const env = await Env.open(tmp.dir, { storage, durability: 'sync', checkpointPeriodMs: 0, owner: 't', logGroupCommit: { soloWrites: 'on-thread' } });
      const d = await env.createDictionary('t');
      await env.put(d, enc('ok'), enc('1'));
      storage.failing = true;
      const t = env.begin();
      await t.put(d, enc('lost'), enc('2'));
      await expect(t.commit()).rejects.toThrow(/environment failed at log write: .*EIO/);
      expect(t.state).toBe('failed');
      await expect(env.put(d, enc('after'), enc('3'))).rejects.toThrow(/environment failed at log write/);
      await expect(env.get(d, enc('lost'))).rejects.toThrow(/environment failed at log write/);
      env.abandon();
      storage.failing = false;
      const again = await Env.open(tmp.dir, { storage: new NodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 't' });
      const d2 = await again.openDictionary('t');
      expect(dec.decode((await again.get(d2, enc('ok')))!)).toBe('1');
      // The failed write never reached the file.
      expect(await again.get(d2, enc('lost'))).toBeUndefined();
      expect(await again.get(d2, enc('after'))).toBeUndefined();
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });
});
