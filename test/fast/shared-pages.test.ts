/**
 * The shared page arena: 4 KiB pages of one shared WebAssembly.Memory, reference counted by
 * their holders. A page must come out zeroed with one holder, go back to the free list only
 * when its last holder lets go, be reused before the memory grows, and stay readable through
 * views made before a growth; a full arena answers null (its callers fall back), and misuse
 * is an error, never a page handed out twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import { SHARED_PAGE_BYTES, SharedPageArena, sharedPages } from '../../src/fast/shared-pages.js';

const PAGES_PER_64K = 65536 / SHARED_PAGE_BYTES;

describe('shared page arena', () => {
  it('Scenario: a page comes out zeroed with one holder; the last release frees it and the next alloc reuses it, zeroed', () => {
    const a = new SharedPageArena(65536);
    const p = a.alloc()!;
    expect(p.view.length).toBe(SHARED_PAGE_BYTES);
    expect(p.view.every((b) => b === 0)).toBe(true);
    expect(a.count(p.page)).toBe(1);
    expect(a.pageOf(p.view)).toBe(p.page);
    expect(a.owns(p.view.buffer)).toBe(true);
    p.view.fill(0xab);
    a.retain(p.page);
    a.release(p.page);
    expect(a.count(p.page)).toBe(1);
    expect(a.pagesHeld).toBe(1);
    a.release(p.page);
    expect(a.count(p.page)).toBe(0);
    expect(a.pagesHeld).toBe(0);
    const q = a.alloc()!;
    expect(q.page).toBe(p.page);
    expect(q.view.every((b) => b === 0)).toBe(true);
    expect(a.pagesUsed).toBe(1);
  });

  it('Scenario: a full arena answers null and changes nothing; a freed page makes room again', () => {
    const a = new SharedPageArena(65536);
    const pages = Array.from({ length: PAGES_PER_64K }, () => a.alloc());
    expect(pages.every((p) => p !== null)).toBe(true);
    expect(new Set(pages.map((p) => p!.page)).size).toBe(PAGES_PER_64K);
    expect(a.alloc()).toBeNull();
    expect(a.pagesHeld).toBe(PAGES_PER_64K);
    a.release(pages[7]!.page);
    expect(a.alloc()!.page).toBe(pages[7]!.page);
  });

  it('Scenario: the memory grows on demand, and views made before a growth still read and write the same bytes', () => {
    const a = new SharedPageArena(64 * 1024 * 1024);
    const first = a.alloc()!;
    first.view[0] = 42;
    // More than one 16 MiB growth step.
    const n = (20 * 1024 * 1024) / SHARED_PAGE_BYTES;
    let last = first;
    for (let i = 0; i < n; i++) last = a.alloc()!;
    expect(last.page).toBe(n);
    expect(a.memory.buffer.byteLength).toBeGreaterThanOrEqual((n + 1) * SHARED_PAGE_BYTES);
    expect(a.owns(first.view.buffer)).toBe(true);
    expect(a.owns(last.view.buffer)).toBe(true);
    expect(new Uint8Array(a.memory.buffer)[0]).toBe(42);
    first.view[1] = 7;
    expect(new Uint8Array(a.memory.buffer)[1]).toBe(7);
    expect(a.pageOf(new Uint8Array(new SharedArrayBuffer(8)))).toBe(-1);
    expect(a.owns(new ArrayBuffer(8))).toBe(false);
  });

  it('Scenario: releasing or retaining a page nobody holds is an internal error, not a second free', () => {
    const a = new SharedPageArena(65536);
    const p = a.alloc()!;
    a.release(p.page);
    expect(() => a.release(p.page)).toThrow(/not held/);
    expect(() => a.retain(p.page)).toThrow(/not held/);
    expect(() => a.release(99)).toThrow(/not held/);
    // The free list holds the page once: two allocs give two different pages.
    const x = a.alloc()!;
    const y = a.alloc()!;
    expect(x.page).not.toBe(y.page);
  });

  it('Scenario: a bad arena size is a bad-argument error naming the allowed sizes', () => {
    for (const bad of [0, 1000, 65536 + 1, 65536 * 65536, -65536, 1.5]) {
      let err: unknown;
      try {
        new SharedPageArena(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('bad-argument');
      expect((err as TokusimError).message).toContain(String(bad));
    }
  });

  it('Scenario: the process arena exists where WebAssembly has shared memory, and is the same object each time', () => {
    const a = sharedPages();
    expect(a).not.toBeNull();
    expect(sharedPages()).toBe(a);
  });

  // Property: against a model (page -> holders), any sequence of allocs, retains and releases
  // keeps counts equal, never hands out a held page, and hands out zeroed pages.
  it('alloc/retain/release agree with a model of holders', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('alloc', 'retain', 'release'), fc.nat(1000)), { maxLength: 300 }), (ops) => {
        const a = new SharedPageArena(4 * 65536);
        const model = new Map<number, number>();
        const views = new Map<number, Uint8Array>();
        for (const [op, k] of ops) {
          const held = [...model.keys()];
          if (op === 'alloc') {
            const p = a.alloc();
            if (p === null) {
              expect(model.size).toBe(4 * PAGES_PER_64K);
              continue;
            }
            expect(model.has(p.page)).toBe(false);
            expect(p.view.every((b) => b === 0)).toBe(true);
            p.view.fill((p.page % 255) + 1);
            model.set(p.page, 1);
            views.set(p.page, p.view);
          } else if (held.length > 0) {
            const page = held[k % held.length]!;
            if (op === 'retain') {
              a.retain(page);
              model.set(page, model.get(page)! + 1);
            } else {
              a.release(page);
              const n = model.get(page)! - 1;
              if (n === 0) {
                model.delete(page);
                views.delete(page);
              } else model.set(page, n);
            }
          }
          expect(a.pagesHeld).toBe(model.size);
        }
        for (const [page, n] of model) {
          expect(a.count(page)).toBe(n);
          // A held page's bytes are its own: nobody else was handed it meanwhile.
          expect(views.get(page)!.every((b) => b === (page % 255) + 1)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
