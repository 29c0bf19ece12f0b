import { describe, expect, it } from 'vitest';
import { dec, dumpDictionary, enc, logRecords, simHarness } from './helpers.js';
import fc from 'fast-check';
import { FILENUM_NONE } from '../../src/engine/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { readCheckpointedImage } from '../../src/checkpoint/checkpointable-dictionary.js';


const records = logRecords;

function harness(durability: 'sync' | 'periodic' | 'none' = 'sync', seed = 3) {
  return simHarness(durability, seed, 'rn');
}

const dump = dumpDictionary;

const files = async (s: SimStorage) => (await s.list('/env')).filter((f) => f.endsWith('.tokudb') && !f.startsWith('tokudb.')).sort();

describe('engine: frename', () => {
  // Scenario: renaming an open dictionary logs frename with NUL-terminated inames and its filenum, renames the file, and maps the new name to the new iname.
  it('Scenario: committed rename of an open dictionary', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('old');
    await env.put(d, enc('k'), enc('v'));
    const oldIname = d.iname;
    await env.renameDictionary('old', 'new');
    expect(d.iname).not.toBe(oldIname);
    expect(d.iname.startsWith('new_')).toBe(true);
    expect(await files(h.storage)).toEqual([d.iname]);
    const fr = (await records(h.storage)).filter((r) => r.type === 'frename');
    expect(fr).toHaveLength(1);
    const r = fr[0]!;
    if (r.type !== 'frename') throw new Error('unreachable');
    expect([...r.old_iname]).toEqual([...enc(oldIname), 0]);
    expect([...r.new_iname]).toEqual([...enc(d.iname), 0]);
    expect(r.old_filenum).toBe(d.filenum);
    expect(await env.listDictionaries()).toEqual(['new']);
    await expect(env.openDictionary('old')).rejects.toThrow(/no dictionary named old/);
    expect(await dump(env, 'new')).toEqual({ k: 'v' });
    // The checkpoint's fassociate names the new iname.
    await env.checkpoint();
    const fa = (await records(h.storage)).filter((x) => x.type === 'fassociate' && x.filenum === d.filenum);
    expect(dec((fa.at(-1) as { iname: Uint8Array }).iname)).toBe(d.iname);
    await env.close();
    const env2 = await h.open();
    expect(env2.recoveryReport).toBeNull();
    expect(await dump(env2, 'new')).toEqual({ k: 'v' });
    await env2.close();
  });

  // Scenario: a dictionary whose handles are all closed is renamed with old_filenum = FILENUM_NONE.
  it('Scenario: rename of a dictionary that is not open logs FILENUM_NONE', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('a');
    await env.put(d, enc('x'), enc('1'));
    await env.closeDictionary(d);
    await env.renameDictionary('a', 'b');
    const r = (await records(h.storage)).find((x) => x.type === 'frename');
    expect(r?.type === 'frename' && r.old_filenum).toBe(FILENUM_NONE);
    expect(await dump(env, 'b')).toEqual({ x: '1' });
    await env.close();
  });

  // Scenario: an aborted rename renames the file back and restores the old name.
  it('Scenario: abort of a rename renames the file back', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('old');
    await env.put(d, enc('k'), enc('v'));
    const oldIname = d.iname;
    const t = env.begin();
    await env.renameDictionary('old', 'new', t);
    expect(await files(h.storage)).toEqual([d.iname]);
    await t.abort();
    expect(d.iname).toBe(oldIname);
    expect(d.name).toBe('old');
    expect(await files(h.storage)).toEqual([oldIname]);
    expect(await env.listDictionaries()).toEqual(['old']);
    expect(await dump(env, 'old')).toEqual({ k: 'v' });
    await env.put(d, enc('k2'), enc('v2'));
    await env.close();
    const env2 = await h.open();
    expect(await dump(env2, 'old')).toEqual({ k: 'v', k2: 'v2' });
    await env2.close();
  });

  // Scenario: crashes around a rename: a committed rename survives (the file is found under its new iname even though the checkpoint's fassociate named the old one); an uncommitted one is undone by recovery.
  it.each([
    ['committed, checkpoint before the rename', true, true],
    ['committed, no checkpoint after create', true, false],
    ['uncommitted, checkpoint before the rename', false, true],
    ['uncommitted, no checkpoint after create', false, false],
  ])('Scenario: crash after a rename (%s)', async (_name, commit, checkpointFirst) => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('old');
    await env.put(d, enc('k'), enc('v'));
    const oldIname = d.iname;
    if (checkpointFirst) await env.checkpoint();
    const t = env.begin();
    await env.renameDictionary('old', 'new', t);
    const newIname = d.iname;
    if (commit) await t.commit();
    await env.put(d, enc('after'), enc('1'));
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(env2.recoveryReport).not.toBeNull();
    if (commit) {
      expect(await env2.listDictionaries()).toEqual(['new']);
      expect(await files(h.storage)).toEqual([newIname]);
      expect(await dump(env2, 'new')).toEqual({ k: 'v', after: '1' });
    } else {
      expect(await env2.listDictionaries()).toEqual(['old']);
      expect(await files(h.storage)).toEqual([oldIname]);
      expect(await dump(env2, 'old')).toEqual({ k: 'v', after: '1' });
    }
    await env2.close();
    const env3 = await h.open();
    expect(env3.recoveryReport).toBeNull();
    expect(await dump(env3, commit ? 'new' : 'old')).toEqual({ k: 'v', after: '1' });
    await env3.close();
  });

  // Property: after a crash at any storage seed (unsynced writes kept, dropped or torn), a rename that
  // committed before the crash is fully visible (name, file, rows) and one that did not is fully absent.
  it('Scenario: crash with random fates of unsynced writes keeps a rename all-or-nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.boolean(), fc.boolean(), async (seed, commit, cp) => {
        const h = harness('none', seed);
        const env = await h.open();
        const d = await env.createDictionary('old');
        await env.put(d, enc('k'), enc('v'));
        if (cp) await env.checkpoint();
        const t = env.begin();
        await env.renameDictionary('old', 'new', t);
        if (commit) await t.commit();
        env.abandon();
        h.storage.crash({ mode: 'faults', seed });
        const env2 = await h.open();
        const names = await env2.listDictionaries();
        // 'none' durability: the commit itself may be lost, but never half of it.
        expect(names.length).toBe(1);
        if (!commit) expect(names).toEqual(['old']);
        const name = names[0]!;
        const dd = await env2.openDictionary(name);
        expect(dd.iname.startsWith(`${name}_`)).toBe(true);
        expect(await files(h.storage)).toEqual([dd.iname]);
        const rows = await dump(env2, name);
        if (cp) expect(rows).toEqual({ k: 'v' });
        else expect([{}, { k: 'v' }]).toContainEqual(rows);
        await env2.close();
      }),
      { numRuns: 25 },
    );
  });
});

describe('engine: closeDictionary (ft_close)', () => {
  // Scenario: the last handle's close logs fclose (iname without NUL) and writes the dirty header with checkpoint_lsn = the fclose LSN, after fsyncing the log to it.
  it('Scenario: closing the last handle of a dirty dictionary', async () => {
    const h = harness('none');
    const env = await h.open();
    const d = await env.createDictionary('t');
    const d2 = await env.openDictionary('t');
    expect(d2).toBe(d);
    await env.put(d, enc('a'), enc('1'));
    await env.closeDictionary(d);
    expect((await records(h.storage)).some((r) => r.type === 'fclose')).toBe(false);
    await env.closeDictionary(d2);
    expect(d.closed).toBe(true);
    const recs = await records(h.storage);
    const fc1 = recs.filter((r) => r.type === 'fclose');
    expect(fc1).toHaveLength(1);
    const r = fc1[0]!;
    if (r.type !== 'fclose') throw new Error('unreachable');
    expect(dec(r.iname)).toBe(d.iname);
    expect(r.filenum).toBe(d.filenum);
    expect(env.status().log!.syncedLsn).toBeGreaterThanOrEqual(r.lsn);
    const img = await readCheckpointedImage(h.storage, `/env/${d.iname}`, { deserialize: (b: Uint8Array) => b });
    expect(img.header.checkpointLsn).toBe(r.lsn);
    await expect(env.put(d, enc('b'), enc('2'))).rejects.toThrow(/closed/);
    // Reopening gets a fresh handle (new filenum, fopen logged) with the data.
    const d3 = await env.openDictionary('t');
    expect(d3.filenum).not.toBe(d.filenum);
    expect(dec(await env.get(d3, enc('a')))).toBe('1');
    await env.close();
  });

  // Scenario: a clean dictionary (nothing changed since its checkpoint) closes without a header write.
  it('Scenario: closing a clean dictionary logs fclose but writes no header', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    await env.checkpoint();
    const before = await readCheckpointedImage(h.storage, `/env/${d.iname}`, { deserialize: (b: Uint8Array) => b });
    await env.closeDictionary(d);
    const after = await readCheckpointedImage(h.storage, `/env/${d.iname}`, { deserialize: (b: Uint8Array) => b });
    expect(after.header.checkpointCount).toBe(before.header.checkpointCount);
    expect(after.header.checkpointLsn).toBe(before.header.checkpointLsn);
    // fclose of a clean dictionary is not fsynced by itself; after the environment closes
    // the log holds exactly one fclose for this filenum.
    await env.close();
    expect((await records(h.storage)).filter((r) => r.type === 'fclose' && r.filenum === d.filenum)).toHaveLength(1);
  });

  // Scenario: the last handle closes while a live txn has writes to it: the close waits for that txn to end, and its rows are not lost.
  it('Scenario: close with a live writer is deferred to the end of the txn', async () => {
    const h = harness('none');
    const env = await h.open();
    const d = await env.createDictionary('t');
    const t = env.begin();
    await t.put(d, enc('a'), enc('1'));
    await env.closeDictionary(d);
    expect(d.closed).toBe(false);
    await t.commit();
    expect(d.closed).toBe(true);
    // durability 'none': only the close made the commit durable (log fsync + header).
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(await dump(env2, 't')).toEqual({ a: '1' });
    await env2.close();
  });
});
