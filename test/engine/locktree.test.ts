import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LockConflictError, LockManager, type LockMode } from '../../src/engine/locktree.js';
import { VirtualClock } from '../../src/storage/clock.js';

const K = (s: string) => new TextEncoder().encode(s);
const txn = (root: bigint, id = root) => ({ rootTxnId: root, txnId: id });

describe('row lock manager', () => {
  // Property: over random acquire/release sequences, a request succeeds exactly when no OTHER root
  // transaction holds a write lock on the row, nor (for a write request) a read lock; the manager's
  // own invariants hold after every step, and releaseAll frees exactly the owner's locks.
  it('Scenario: random lock traffic from three transactions agrees with a compatibility model', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('acquire' as const),
        owner: fc.constantFrom(1n, 2n, 3n),
        dict: fc.constantFrom(1, 2),
        key: fc.constantFrom('a', 'b', ''),
        mode: fc.constantFrom<LockMode>('read', 'write'),
      }),
      fc.record({ kind: fc.constant('release' as const), owner: fc.constantFrom(1n, 2n, 3n) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60, size: 'max' }), (steps) => {
        const lm = new LockManager();
        // model: row -> owner -> strongest mode held
        const model = new Map<string, Map<bigint, LockMode>>();
        for (const s of steps) {
          if (s.kind === 'release') {
            let n = 0;
            for (const holders of model.values()) if (holders.delete(s.owner)) n++;
            expect(lm.releaseAll(s.owner)).toBe(n);
          } else {
            const row = `${s.dict}/${s.key}`;
            const holders = model.get(row) ?? new Map<bigint, LockMode>();
            const others = [...holders].filter(([o]) => o !== s.owner);
            const ok = others.every(([, m]) => m === 'read' && s.mode === 'read');
            let threw: unknown = null;
            try {
              lm.tryAcquire(txn(s.owner), s.dict, K(s.key), s.mode);
            } catch (e) {
              threw = e;
            }
            expect(threw === null).toBe(ok);
            if (threw !== null) {
              expect(threw).toBeInstanceOf(LockConflictError);
              expect(others.map(([o]) => o)).toContain((threw as LockConflictError).holderTxnId);
            } else if (holders.get(s.owner) !== 'write') {
              holders.set(s.owner, s.mode);
            }
            model.set(row, holders);
          }
          lm.checkInvariants();
          for (const owner of [1n, 2n, 3n]) {
            const held = lm.locksHeldBy(owner).map((h) => `${h.dictionary}/${new TextDecoder().decode(h.key)}:${h.mode}`).sort();
            const want = [...model].filter(([, h]) => h.has(owner)).map(([row, h]) => `${row}:${h.get(owner)}`).sort();
            expect(held).toEqual(want);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('Scenario: a child transaction shares its root\'s locks; another root is refused with a clear message', () => {
    const lm = new LockManager();
    lm.tryAcquire(txn(10n), 'users', K('alice'), 'write');
    // Child 11 of root 10 writes and reads the same row freely.
    lm.tryAcquire(txn(10n, 11n), 'users', K('alice'), 'write');
    lm.tryAcquire(txn(10n, 12n), 'users', K('alice'), 'read');
    try {
      lm.tryAcquire(txn(20n, 21n), 'users', Uint8Array.of(0x61, 0x6c, 0x00, 0xff), 'write');
      lm.tryAcquire(txn(20n, 21n), 'users', K('alice'), 'read');
      expect.unreachable();
    } catch (e) {
      const err = e as LockConflictError;
      expect(err).toBeInstanceOf(LockConflictError);
      expect(err.reason).toBe('conflict');
      expect(err.message).toContain('dictionary users');
      expect(err.message).toContain('key "alice"');
      expect(err.message).toContain('write-locked by txn 10');
      expect(err.message).toContain('txn 21 (root 20) wants a read lock');
    }
    expect(lm.holdersOf('users', Uint8Array.of(0x61, 0x6c, 0x00, 0xff)).writer).toBe(20n);
    expect(lm.releaseAll(10n)).toBe(1);
    lm.tryAcquire(txn(20n), 'users', K('alice'), 'write');
    lm.checkInvariants();
  });

  it('Scenario: non-printable key bytes are escaped in the conflict message', () => {
    const lm = new LockManager();
    lm.tryAcquire(txn(1n), 7, Uint8Array.of(0x00, 0x41, 0xff), 'write');
    expect(() => lm.tryAcquire(txn(2n), 7, Uint8Array.of(0x00, 0x41, 0xff), 'write')).toThrow('key "\\x00A\\xff"');
  });

  it('Scenario: readers share a row; a read lock upgrades to write only for a lone reader', () => {
    const lm = new LockManager();
    lm.tryAcquire(txn(1n), 'd', K('k'), 'read');
    lm.tryAcquire(txn(2n), 'd', K('k'), 'read');
    expect(() => lm.tryAcquire(txn(1n), 'd', K('k'), 'write')).toThrow(/read-locked by txn 2/);
    lm.releaseAll(2n);
    lm.tryAcquire(txn(1n), 'd', K('k'), 'write');
    expect(lm.holdersOf('d', K('k'))).toEqual({ writer: 1n, readers: [] });
    lm.releaseAll(1n);
    expect(lm.size).toBe(0);
  });

  it('Scenario: a bounded wait is granted when the holder commits, and times out otherwise', async () => {
    const clock = new VirtualClock();
    const lm = new LockManager({ clock });
    lm.tryAcquire(txn(1n), 'd', K('k'), 'write');
    const granted = lm.acquire(txn(2n), 'd', K('k'), 'write', { waitMs: 100 });
    expect(lm.waiting).toBe(1);
    lm.checkInvariants();
    await clock.advance(50);
    lm.releaseAll(1n);
    await granted;
    expect(lm.holdersOf('d', K('k')).writer).toBe(2n);
    expect(clock.pendingTimers()).toBe(0);

    const late = lm.acquire(txn(3n), 'd', K('k'), 'read', { waitMs: 100 });
    const outcome = late.then(
      () => 'granted',
      (e: LockConflictError) => e.reason,
    );
    await clock.advance(100);
    expect(await outcome).toBe('timeout');
    expect(lm.waiting).toBe(0);
    lm.checkInvariants();
  });

  it('Scenario: two transactions waiting for each other get a deadlock error instead of a hang', async () => {
    const clock = new VirtualClock();
    const lm = new LockManager({ clock, waitMs: 1000 });
    lm.tryAcquire(txn(1n), 'd', K('a'), 'write');
    lm.tryAcquire(txn(2n), 'd', K('b'), 'write');
    const first = lm.acquire(txn(1n), 'd', K('b'), 'write');
    await expect(lm.acquire(txn(2n), 'd', K('a'), 'write')).rejects.toMatchObject({ reason: 'deadlock' });
    // Transaction 2 gives up (aborts): 1 gets its lock.
    lm.releaseAll(2n);
    await first;
    expect(lm.holdersOf('d', K('b')).writer).toBe(1n);
    lm.checkInvariants();
  });

  it('Scenario: without a wait, a conflict fails immediately (acquire never blocks)', async () => {
    const lm = new LockManager();
    lm.tryAcquire(txn(1n), 'd', K('a'), 'write');
    await expect(lm.acquire(txn(2n), 'd', K('a'), 'read')).rejects.toMatchObject({ reason: 'conflict', holderTxnId: 1n });
    expect(lm.waiting).toBe(0);
  });
});
