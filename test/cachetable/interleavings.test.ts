import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import type { CachetableEvent } from '../../src/cachetable/events.js';
import type { Cachefile, Pair } from '../../src/cachetable/pair.js';
import { makeFile, runCheckpoint, type Disk, type Val } from './helpers.js';

/** nonblocking: the client tries tryGetAndPin first and falls back to getAndPin when it would wait. */
type ClientOp = { kind: 'read' | 'write'; file: number; block: number; nonblocking: boolean };

const clientOp: fc.Arbitrary<ClientOp> = fc.record({
  kind: fc.constantFrom<'read' | 'write'>('read', 'write', 'write'),
  nonblocking: fc.boolean(),
  file: fc.integer({ min: 0, max: 1 }),
  block: fc.integer({ min: 1, max: 4 }),
});

describe('cachetable under random interleavings (§10.2)', () => {
  // Property: for any interleaving of clients (read pins, write pins that modify in two steps),
  // a checkpoint driver and a memory-limited evictor: every pending bit is cleared exactly once
  // per checkpoint; a dirty pending PAIR is written for the checkpoint exactly once with the
  // content it had when its bit was cleared, a clean one never; no client reads a torn or stale
  // value; the evictor only takes unpinned PAIRs without a clone and loses no data; nothing
  // deadlocks.
  const coverage = { evicted: 0, clientClones: 0, evictorResolved: 0, cpWrites: 0, nonblockingPins: 0 };
  it('Scenario: clients, checkpoints and the evictor interleave without breaking the checkpoint image', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.array(clientOp, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.tuple(fc.boolean(), fc.boolean()),
        fc.constantFrom(Infinity, 60, 30),
        async (s, clients, checkpoints, cloneable, memoryLimit) => {
          const events: CachetableEvent[] = [];
          let cp = 0;
          const ct = new Cachetable({ memoryLimit });
          const yieldPoint = (label: string): Promise<void> => s.schedule(Promise.resolve(), label);
          const files: Array<{ cf: Cachefile<Val>; disk: Disk }> = [];
          for (let i = 0; i < 2; i++) files.push(await makeFile(ct, `f${i}`, { cloneable: cloneable[i]!, yieldPoint, stamp: () => cp }));
          const byName = new Map(files.map((f) => [f.cf.name, f.cf]));
          const truth = new Map<string, number>(); // latest version per PAIR, set under the write pin
          const pins = new Map<Pair<Val>, number>(); // client pins per PAIR object
          const current = new Map<string, Pair<Val>>(); // last PAIR object seen per key
          const resolved: Array<{ cp: number; key: string; dirty: boolean; version: number }> = [];
          const marks: Array<{ cp: number; key: string }> = [];
          const violations: string[] = [];
          const key = (cf: string, b: bigint) => `${cf}:${b}`;

          ct.setListener((e) => {
            events.push(e);
            if (e.type === 'pending-set') marks.push({ cp, key: key(e.cachefile, e.blocknum) });
            if (e.type === 'pending-cleared') {
              const p = ct.peek(byName.get(e.cachefile)!, e.blocknum)!;
              resolved.push({ cp, key: key(e.cachefile, e.blocknum), dirty: e.dirty, version: p.value.a });
            }
            if (e.type === 'pair-evicted') {
              const k = key(e.cachefile, e.blocknum);
              const p = current.get(k);
              if (p !== undefined && (pins.get(p) ?? 0) > 0) violations.push(`evicted pinned ${k}`);
              if (p !== undefined && p.clone !== null) violations.push(`evicted ${k} with a clone`);
              const f = files.find((x) => x.cf.name === e.cachefile)!;
              if (f.disk.blocks.get(e.blocknum)!.a !== (truth.get(k) ?? 0)) violations.push(`eviction of ${k} lost data`);
            }
          });

          let version = 0;
          const done: boolean[] = [];
          const client = async (id: number, ops: ClientOp[]): Promise<void> => {
            for (const op of ops) {
              await s.schedule(Promise.resolve(), `client ${id} ${op.kind} f${op.file}:${op.block}`);
              const cf = files[op.file]!.cf;
              const b = BigInt(op.block);
              const k = key(cf.name, b);
              const tried = op.nonblocking ? ct.tryGetAndPin(cf, b, { mode: op.kind }) : undefined;
              if (tried !== undefined) coverage.nonblockingPins++;
              const p = tried ?? (await ct.getAndPin(cf, b, { mode: op.kind }));
              expect(p.removed).toBe(false);
              current.set(k, p);
              pins.set(p, (pins.get(p) ?? 0) + 1);
              // Neither torn nor stale.
              expect(p.value.a).toBe(p.value.b);
              expect(p.value.a).toBe(truth.get(k) ?? 0);
              if (op.kind === 'write') {
                const v = ++version;
                p.value.a = v;
                await s.schedule(Promise.resolve(), `client ${id} modifies ${k}`);
                p.value.b = v;
                truth.set(k, v);
              } else {
                await s.schedule(Promise.resolve(), `client ${id} reads ${k}`);
              }
              pins.set(p, pins.get(p)! - 1);
              ct.unpin(p, { dirty: op.kind === 'write' });
            }
            done[id] = true;
          };
          const driver = async (): Promise<void> => {
            for (let i = 0; i < checkpoints; i++) {
              await s.schedule(Promise.resolve(), `checkpoint ${i + 1} begins`);
              cp++;
              await runCheckpoint(
                ct,
                () => s.schedule(Promise.resolve(), `checkpoint ${cp} drains`),
                files.map((f) => f.disk),
                () => {
                  // I10: the checkpoint image of every marked PAIR is its content at resolution.
                  for (const r of resolved.filter((x) => x.cp === cp)) {
                    const [name, b] = r.key.split(':') as [string, string];
                    const disk = files.find((f) => f.cf.name === name)!.disk;
                    expect(disk.inprogress.get(BigInt(b))?.a, `image of ${r.key} in checkpoint ${cp}`).toBe(r.version);
                  }
                },
              );
              expect(ct.pendingPairs()).toEqual([]);
              ct.checkInvariants();
            }
            done[clients.length] = true;
          };
          const all = Promise.all([...clients.map((ops, i) => client(i, ops)), driver()]);
          await s.waitIdle();
          // Nothing deadlocked: every actor finished.
          expect(done.filter(Boolean).length).toBe(clients.length + 1);
          await all;
          await ct.evict().catch(() => 0);
          await s.waitIdle();
          ct.checkInvariants();
          expect(violations).toEqual([]);

          // Every mark is resolved exactly once in its checkpoint (I4).
          const count = (xs: Array<{ cp: number; key: string }>) => {
            const m = new Map<string, number>();
            for (const x of xs) m.set(`${x.cp}/${x.key}`, (m.get(`${x.cp}/${x.key}`) ?? 0) + 1);
            return m;
          };
          const marked = count(marks);
          const cleared = count(resolved);
          expect([...cleared.entries()].sort()).toEqual([...marked.entries()].sort());

          // The checkpoint image of each PAIR is its content when its bit was cleared (I8, I10).
          const cpWrites = events.filter((e) => e.type === 'pair-written' && e.forCheckpoint);
          const allWrites = files.flatMap((f) => f.disk.writes.filter((w) => w.forCheckpoint));
          expect(allWrites.length).toBe(cpWrites.length);
          for (const r of resolved) {
            const ws = allWrites.filter((w) => key(w.cf, w.blocknum) === r.key && w.stamp === r.cp);
            if (r.dirty) expect(ws.map((w) => w.version)).toEqual([r.version]);
            else expect(ws).toEqual([]);
          }
          expect(ct.stats.pairsWrittenForCheckpoint).toBe(resolved.filter((r) => r.dirty).length);
          coverage.evicted += ct.stats.pairsEvicted;
          coverage.clientClones += events.filter((e) => e.type === 'pair-cloned' && e.by === 'client').length;
          coverage.evictorResolved += ct.stats.pendingResolved.evictor;
          coverage.cpWrites += ct.stats.pairsWrittenForCheckpoint;
        },
      ),
      // A fixed seed: the coverage check below must not depend on luck (with a random seed, some
      // batches of 120 runs never let the evictor resolve a pending PAIR). Set FC_SEED to explore.
      { numRuns: 120, seed: Number(process.env['FC_SEED'] ?? 20261206) },
    );
    // The runs must actually reach the interesting paths, or the property proves little.
    expect(coverage.evicted).toBeGreaterThan(0);
    expect(coverage.clientClones).toBeGreaterThan(0);
    expect(coverage.evictorResolved).toBeGreaterThan(0);
    expect(coverage.cpWrites).toBeGreaterThan(0);
    expect(coverage.nonblockingPins).toBeGreaterThan(0);
  });
});

