import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCheckpointedImage } from '../../src/checkpoint/checkpointable-dictionary.js';
import { makeEnv, putNodes, valCodec } from './helpers.js';

interface Op {
  dict: number;
  node: number;
  mode: 'read' | 'write';
}
const opArb: fc.Arbitrary<Op> = fc.record({
  dict: fc.integer({ min: 0, max: 1 }),
  node: fc.integer({ min: 0, max: 2 }),
  mode: fc.constantFrom<'read' | 'write'>('read', 'write', 'write'),
});

describe('checkpointer sharpness', () => {
  // Property: under any interleaving of pin-modify-unpin clients with checkpoints, each
  // checkpoint writes every PAIR's content as of the moment its pending bit was resolved, writes
  // each PAIR dirty at resolution exactly once and each clean one never, no client reads a torn
  // or stale value, nothing deadlocks, and the dictionary file read back equals those images.
  it('Scenario: clients and the checkpointer interleave and every checkpoint image is sharp', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.tuple(fc.boolean(), fc.boolean()),
        async (s, clients, checkpoints, cloneable) => {
          const env = await makeEnv({ dicts: 2, cloneable: true });
          // The second dictionary may take the no-clone path: reopen it with the other codec.
          const dicts = env.dicts;
          const nodes: bigint[][] = [];
          for (const d of dicts) nodes.push(await putNodes(env, d, 3, 0));
          await env.cp.checkpoint();
          for (let i = 0; i < 2; i++) if (!cloneable[i]) (dicts[i]!.cachefile.callbacks as { clone?: unknown }).clone = undefined;

          let cp = 0;
          const key = (file: string, b: bigint) => `${file}:${b}`;
          const truth = new Map<string, number>();
          const resolved: Array<{ cp: number; key: string; dirty: boolean; version: number }> = [];
          const written: Array<{ cp: number; key: string }> = [];
          env.ct.setListener((e) => {
            if (e.type === 'pending-cleared') {
              const d = dicts.find((x) => x.name === e.cachefile)!;
              const p = env.ct.peek(d.cachefile, e.blocknum)!;
              resolved.push({ cp, key: key(e.cachefile, e.blocknum), dirty: e.dirty, version: p.value.a });
            }
            if (e.type === 'pair-written' && e.forCheckpoint) written.push({ cp, key: key(e.cachefile, e.blocknum) });
          });
          env.cp.hooks.afterBegin = () => s.schedule(Promise.resolve(), `checkpoint ${cp} after begin`);
          env.cp.hooks.afterPendingPairsWritten = () => s.schedule(Promise.resolve(), `checkpoint ${cp} drained`);

          let version = 0;
          let finished = 0;
          const client = async (id: number, ops: Op[]): Promise<void> => {
            for (const op of ops) {
              await s.schedule(Promise.resolve(), `client ${id} ${op.mode} d${op.dict}:${op.node}`);
              const d = dicts[op.dict]!;
              const b = nodes[op.dict]![op.node]!;
              const k = key(d.name, b);
              const p = await env.ct.getAndPin(d.cachefile, b, { mode: op.mode });
              expect(p.value.a, `torn read of ${k}`).toBe(p.value.b);
              expect(p.value.a, `stale read of ${k}`).toBe(truth.get(k) ?? 0);
              if (op.mode === 'write') {
                const v = ++version;
                p.value.a = v;
                await s.schedule(Promise.resolve(), `client ${id} modifies ${k}`);
                p.value.b = v;
                truth.set(k, v);
              }
              env.ct.unpin(p, { dirty: op.mode === 'write' });
            }
            finished++;
          };
          const images: Array<Map<string, number>> = [];
          const driver = async (): Promise<void> => {
            for (let i = 0; i < checkpoints; i++) {
              await s.schedule(Promise.resolve(), `checkpoint ${i + 1} starts`);
              cp = i + 1;
              await env.cp.checkpoint();
              const img = new Map<string, number>();
              for (const d of dicts) {
                const r = await readCheckpointedImage(env.storage, d.name, valCodec);
                for (const [b, v] of r.blocks) {
                  expect(v.a).toBe(v.b);
                  img.set(key(d.name, b), v.a);
                }
              }
              images.push(img);
              env.ct.checkInvariants();
            }
            finished++;
          };
          const all = Promise.all([...clients.map((ops, i) => client(i, ops)), driver()]);
          // Storage I/O completes outside the scheduler, so let macrotasks run between rounds; a
          // deadlock shows up as no progress with nothing left to schedule.
          for (let round = 0; round < 2000 && finished < clients.length + 1; round++) {
            await s.waitIdle();
            await new Promise((r) => setImmediate(r));
          }
          expect(finished, 'every client and the checkpointer finished (no deadlock)').toBe(clients.length + 1);
          await all;

          for (let c = 1; c <= checkpoints; c++) {
            const res = resolved.filter((r) => r.cp === c);
            // Every node is marked and resolved exactly once per checkpoint.
            expect(res.map((r) => r.key).sort()).toEqual([...new Set(res.map((r) => r.key))].sort());
            expect(res).toHaveLength(6);
            const img = images[c - 1]!;
            for (const r of res) {
              const n = written.filter((w) => w.cp === c && w.key === r.key).length;
              expect(n, `writes of ${r.key} in checkpoint ${c}`).toBe(r.dirty ? 1 : 0);
              expect(img.get(r.key), `image of ${r.key} in checkpoint ${c}`).toBe(r.version);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
