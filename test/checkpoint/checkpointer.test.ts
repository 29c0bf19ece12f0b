import { describe, expect, it } from 'vitest';
import { readCheckpointedImage } from '../../src/checkpoint/checkpointable-dictionary.js';
import { CRASH_HOOK_NAMES, type CheckpointEvent } from '../../src/checkpoint/events.js';
import type { TxnProvider } from '../../src/checkpoint/txn-provider.js';
import { printLog } from '../../src/format/printer.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { logPaths, makeEnv, modify, putNodes, readLogRecords, valCodec, type Env, type Val } from './helpers.js';

function stillOpen(id: bigint) {
  return {
    xid: { parent: id, child: 0n },
    rollentry_raw_count: 0n,
    open_filenums: [1],
    force_fsync_on_commit: 0,
    num_rollback_nodes: 0n,
    num_rollentries: 0n,
    spilled_rollback_head: -1n,
    spilled_rollback_tail: -1n,
    current_rollback: -1n,
  };
}

/** The content of every cached node of dictionary i, as the test last set it. */
function snapshotOf(env: Env, i: number): Map<bigint, Val> {
  const m = new Map<bigint, Val>();
  for (const p of env.ct.pairs()) if (p.cachefile === env.dicts[i]!.cachefile) m.set(p.blocknum, { ...(p.value as Val) });
  return m;
}

describe('checkpointer', () => {
  // Scenario: two dictionaries and three live transactions (one read-only, one prepared).
  it('Scenario: the log of a checkpoint holds begin, one fassociate per file, one xstillopen per writing txn, and end with the right counts', async () => {
    const txns: TxnProvider = {
      lastXid: () => 42n,
      liveTxns: () => [
        { state: 'live', readOnly: false, fields: { ...stillOpen(40n), parentxid: { parent: 0n, child: 0n } } },
        { state: 'live', readOnly: true, fields: { ...stillOpen(41n), parentxid: { parent: 0n, child: 0n } } },
        { state: 'preparing', readOnly: false, fields: { ...stillOpen(42n), xa_xid: { formatID: 1, gtridLength: 1, bqualLength: 1, data: new Uint8Array([1, 2]) } } },
      ],
    };
    const env = await makeEnv({ dicts: 2, txns });
    await putNodes(env, env.dicts[0]!, 3);
    const r = await env.cp.checkpoint();
    const recs = readLogRecords(env.storage, await logPaths(env.storage));
    const types = recs.map((x) => x.type);
    expect(types).toEqual(['begin_checkpoint', 'fassociate', 'fassociate', 'xstillopen', 'xstillopenprepared', 'end_checkpoint']);
    const begin = recs[0] as LogRecord & { type: 'begin_checkpoint' };
    expect(begin.lsn).toBe(r.beginLsn);
    expect(begin.last_xid).toBe(42n);
    const end = recs[5] as LogRecord & { type: 'end_checkpoint' };
    expect(end.lsn_begin_checkpoint).toBe(r.beginLsn);
    expect(end.num_fassociate_entries).toBe(2);
    expect(end.num_xstillopen_entries).toBe(2);
    expect(end.lsn).toBe(r.endLsn);
    expect(recs.map((x) => x.lsn)).toEqual(recs.map((_, i) => r.beginLsn + BigInt(i)));
    const fa = recs.filter((x): x is LogRecord & { type: 'fassociate' } => x.type === 'fassociate');
    expect(fa.map((x) => x.filenum)).toEqual([1, 2]);
    for (const p of await logPaths(env.storage)) {
      const out = printLog(env.storage.fileBytes(p)!);
      expect(out.result.exitCode).toBe(0);
    }
    // end_checkpoint is durable when checkpoint() returns.
    expect(readLogRecords(env.storage, await logPaths(env.storage), true).at(-1)?.type).toBe('end_checkpoint');
  });

  // Scenario: four checkpoints, each after modifying every node.
  it('Scenario: header slots alternate 0, 4096, 0, 4096 and each reads back as the snapshot taken at begin', async () => {
    const env = await makeEnv();
    const d = env.dicts[0]!;
    const bs = await putNodes(env, d, 5);
    const slots: number[] = [];
    for (let round = 1; round <= 4; round++) {
      for (const b of bs) await modify(env, d, b, round * 10 + Number(b));
      const snap = snapshotOf(env, 0);
      const r = await env.cp.checkpoint();
      expect(r.headersWritten).toHaveLength(1);
      slots.push(r.headersWritten[0]!.slot);
      const img = await readCheckpointedImage(env.storage, d.name, valCodec);
      expect(img.header.checkpointCount).toBe(BigInt(round));
      expect(img.header.checkpointLsn).toBe(r.beginLsn);
      expect(img.blocks).toEqual(snap);
      d.file.blockTable.checkInvariants();
    }
    expect(slots).toEqual([0, 1, 0, 1]);
  });

  // Scenario: only the first dictionary changes after both were checkpointed once.
  it('Scenario: a clean dictionary is skipped and its file sees no write or fsync', async () => {
    const env = await makeEnv({ dicts: 2 });
    const [d0, d1] = env.dicts as [typeof env.dicts[0], typeof env.dicts[0]];
    const b0 = await putNodes(env, d0!, 2);
    await putNodes(env, d1!, 2);
    await env.cp.checkpoint();
    await modify(env, d0!, b0[0]!, 99);
    const touched: string[] = [];
    const off = env.storage.onIo((ev) => {
      if ((ev.op === 'pwrite' || ev.op === 'fsync' || ev.op === 'truncate') && ev.path.startsWith('data/')) touched.push(ev.path);
    });
    const r = await env.cp.checkpoint();
    off();
    expect(r.skipped).toEqual([d1!.name]);
    expect(r.headersWritten.map((h) => h.file)).toEqual([d0!.name]);
    expect(new Set(touched)).toEqual(new Set([d0!.name]));
    expect(d1!.header.checkpointCount).toBe(1n);
    expect(d0!.header.checkpointCount).toBe(2n);
  });

  // Scenario: a node rewritten by the second checkpoint frees its first-checkpoint block only at rotation.
  it('Scenario: BTT rotation frees exactly the blocks only the previous checkpoint used, after end_checkpoint', async () => {
    const env = await makeEnv();
    const d = env.dicts[0]!;
    const bs = await putNodes(env, d, 3);
    await env.cp.checkpoint();
    const before = d.file.blockTable.snapshot('checkpointed')!;
    const old = (b: bigint) => ({ offset: before.diskoffs[Number(b)]!, size: before.sizes[Number(b)]! });
    const oldBtt = { offset: before.diskoffs[1]!, size: before.sizes[1]! };
    await modify(env, d, bs[1]!, 7);
    const alloc = d.file.blockTable.allocator;
    let heldAtEnd = false;
    env.cp.hooks.afterEndCheckpoint = () => {
      heldAtEnd = alloc.hasBlock(old(bs[1]!).offset, old(bs[1]!).size);
    };
    await env.cp.checkpoint();
    expect(heldAtEnd).toBe(true);
    // The rewritten node's old block and the old BTT block are free; untouched nodes keep theirs.
    expect(alloc.hasBlock(old(bs[1]!).offset, old(bs[1]!).size)).toBe(false);
    expect(alloc.blockList().some((r) => r.offset === oldBtt.offset)).toBe(false);
    for (const b of [bs[0]!, bs[2]!]) expect(alloc.hasBlock(old(b).offset, old(b).size)).toBe(true);
    d.file.blockTable.checkInvariants();
  });

  for (const hook of CRASH_HOOK_NAMES) {
    // Scenario: power fails at the named hook of the second checkpoint.
    it(`Scenario: a crash at ${hook} leaves a readable dictionary equal to the last complete checkpoint's snapshot`, async () => {
      const storage = new SimStorage({ seed: 11 });
      const env = await makeEnv({ storage });
      const d = env.dicts[0]!;
      const bs = await putNodes(env, d, 6);
      await env.cp.checkpoint();
      const snap1 = snapshotOf(env, 0);
      for (const b of bs) await modify(env, d, b, 500 + Number(b));
      await putNodes(env, d, 2, 77);
      const snap2 = snapshotOf(env, 0);
      env.cp.hooks[hook] = () => {
        throw new Error(`crash at ${hook}`);
      };
      await expect(env.cp.checkpoint()).rejects.toThrow(`crash at ${hook}`);
      await expect(env.cp.checkpoint()).rejects.toThrow(/failed earlier/);
      storage.crash({ seed: 5, mode: 'faults' });
      // Recovery's view: the newest end_checkpoint in the durable log names the usable checkpoint.
      const recs = readLogRecords(storage, await logPaths(storage));
      const ends = recs.filter((x): x is LogRecord & { type: 'end_checkpoint' } => x.type === 'end_checkpoint');
      const complete = ends.at(-1)!.lsn_begin_checkpoint;
      const img = await readCheckpointedImage(storage, d.name, valCodec, { maxAcceptableLsn: complete });
      const endLogged = hook === 'afterEndCheckpoint' || hook === 'duringTrim';
      expect(ends).toHaveLength(endLogged ? 2 : 1);
      expect(img.blocks).toEqual(endLogged ? snap2 : snap1);
      expect(img.header.checkpointLsn).toBe(complete);
    });
  }

  // Scenario: a tiny lg_max makes every checkpoint roll the log over.
  it('Scenario: trimming deletes exactly the oldest files whose max LSN is below the begin LSN, never the current file', async () => {
    const env = await makeEnv({ lgMax: 200 });
    const d = env.dicts[0]!;
    const bs = await putNodes(env, d, 2);
    let deletedTotal = 0;
    for (let i = 0; i < 6; i++) {
      await modify(env, d, bs[0]!, i);
      let before: ReturnType<typeof env.log.logFiles> = [];
      env.cp.hooks.duringTrim = () => {
        before = env.log.logFiles();
      };
      const r = await env.cp.checkpoint();
      const expected: string[] = [];
      for (let k = 0; k < before.length - 1 && before[k]!.maxLsn < r.beginLsn; k++) expected.push(before[k]!.path);
      expect(r.trimmed).toEqual(expected);
      deletedTotal += r.trimmed.length;
      const after = env.log.logFiles();
      expect(after.length).toBeGreaterThanOrEqual(1);
      expect(after.at(-1)!.path).toBe(before.at(-1)!.path);
      // Everything from the begin record on is still there.
      const recs = readLogRecords(env.storage, await logPaths(env.storage));
      expect(recs.some((x) => x.lsn === r.beginLsn && x.type === 'begin_checkpoint')).toBe(true);
      for (const f of after.slice(0, -1)) expect(f.maxLsn).toBeGreaterThanOrEqual(r.beginLsn);
    }
    expect(deletedTotal).toBeGreaterThan(0);
  });

  // Scenario: the periodic thread on a virtual clock.
  it('Scenario: the periodic checkpointer fires every period on the virtual clock and stops at period 0', async () => {
    const env = await makeEnv({ periodSeconds: 60 });
    const d = env.dicts[0]!;
    await putNodes(env, d, 1);
    const footprints: bigint[] = [];
    env.cp.hooks.afterBegin = () => {
      footprints.push(env.cp.getStatus().CP_FOOTPRINT);
    };
    expect(env.cp.getPeriod()).toBe(60);
    await env.clock.advance(59_999);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(0n);
    await env.clock.advance(1);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(1n);
    await env.clock.advance(60_000);
    const s = env.cp.getStatus();
    expect(s.CP_CHECKPOINT_COUNT).toBe(2n);
    expect(s.CP_PERIOD).toBe(60n);
    expect(s.CP_FOOTPRINT).toBe(0n);
    expect(footprints).toEqual([40n, 40n]); // SCHEDULED_CHECKPOINT (0) * 1000 + 40
    expect(s.CP_TIME_LAST_CHECKPOINT_BEGIN).toBe(env.clock.nowMicros() / 1_000_000n);
    expect(s.CP_TIME_LAST_CHECKPOINT_BEGIN_COMPLETE).toBe(s.CP_TIME_LAST_CHECKPOINT_BEGIN);
    expect(s.CP_LAST_LSN).toBe(env.cp.lastCompletedCheckpointLsn);
    expect(s.CP_LAST_LSN).toBeGreaterThan(0n);
    expect(s.CP_CHECKPOINT_COUNT_FAIL).toBe(0n);
    env.cp.setPeriod(0);
    expect(env.cp.getStatus().CP_PERIOD).toBe(0n);
    await env.clock.advance(600_000);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(2n);
    // minicron measures start to start: the next run was due 5 s after the last start, long ago,
    // so it runs at once, then every 5 s.
    env.cp.setPeriod(5);
    await env.clock.advance(0);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(3n);
    await env.clock.advance(4_999);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(3n);
    await env.clock.advance(1);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(4n);
    await env.cp.shutdown();
    await env.clock.advance(60_000);
    expect(env.cp.getStatus().CP_CHECKPOINT_COUNT).toBe(4n);
  });

  // Scenario: clients call the lock API while the checkpoint holds the MO and CS locks; a second checkpoint waits.
  it('Scenario: waiters and client-wait counters count what the spec says, and checkpoints never overlap', async () => {
    const env = await makeEnv();
    await putNodes(env, env.dicts[0]!, 2);
    const locks = env.cp.locks;
    const clientDone: string[] = [];
    let moCall: Promise<() => void> | undefined;
    env.cp.txns = {
      lastXid: () => 0n,
      liveTxns: () => {
        // Called under the MO write lock: a client arriving now waits on MO.
        moCall ??= locks.multiOperationClientLock().then((release) => {
          clientDone.push('mo');
          release();
          return release;
        });
        return [];
      },
    };
    let csCall: Promise<() => void> | undefined;
    let inside = 0;
    let maxInside = 0;
    const events: CheckpointEvent[] = [];
    env.cp.setListener((e) => events.push(e));
    env.cp.hooks.afterBegin = async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      csCall ??= locks.checkpointSafeClientLock().then((release) => {
        clientDone.push('cs');
        release();
        return release;
      });
      await env.clock.sleep(10).catch(() => undefined);
      inside--;
    };
    const a = env.cp.checkpoint();
    const b = env.cp.checkpoint();
    await env.clock.runUntilIdle();
    await Promise.all([a, b]);
    await moCall;
    await csCall;
    const s = env.cp.getStatus();
    expect(maxInside).toBe(1);
    expect(s.CP_CHECKPOINT_COUNT).toBe(2n);
    expect(s.CP_WAITERS_MAX).toBe(1n);
    expect(s.CP_WAITERS_NOW).toBe(0n);
    // Only the MO client arrived while lockedMo; the CS client's MO step ran after both checkpoints.
    expect(s.CP_CLIENT_WAIT_ON_MO).toBe(1n);
    expect(s.CP_CLIENT_WAIT_ON_CS).toBe(1n);
    expect(clientDone).toEqual(['mo', 'cs']);
    const stages = events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage);
    expect(stages.slice(0, 8)).toEqual(['waiting-for-locks', 'waiting-for-locks', 'begin', 'pending-pairs', 'headers', 'end-log', 'rotate', 'trim']);
    const rep = env.cp.stageReport();
    expect(rep.stage).toBe('idle');
    expect(rep.lastDurationMs).not.toBeNull();
  });
});
