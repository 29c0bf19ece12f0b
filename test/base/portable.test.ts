import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { allocUninitialized, compareBytes, compareUtf8, fromHex, latin1String, nextMacrotask, toHex } from '../../src/base/portable.js';

const g = globalThis as { Buffer?: unknown; setImmediate?: unknown };
const savedBuffer = g.Buffer;
const savedImmediate = g.setImmediate;

/** Run fn as a browser would: no Buffer, no setImmediate. */
async function withoutNodeGlobals<T>(fn: () => T | Promise<T>): Promise<T> {
  delete g.Buffer;
  delete g.setImmediate;
  try {
    return await fn();
  } finally {
    g.Buffer = savedBuffer;
    g.setImmediate = savedImmediate;
  }
}

afterEach(() => {
  g.Buffer = savedBuffer;
  g.setImmediate = savedImmediate;
});

describe('portable host services give the same answers with and without Node globals', () => {
  it('latin1String maps every byte to the same code point (no windows-1252 remapping)', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const expected = Array.from(all, (b) => String.fromCharCode(b)).join('');
    expect(latin1String(all)).toBe(expected);
    expect(await withoutNodeGlobals(() => latin1String(all))).toBe(expected);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 20000 }), fc.nat(), fc.nat(), async (b, x, y) => {
        const start = b.length === 0 ? 0 : x % b.length;
        const end = start + (b.length === 0 ? 0 : y % (b.length - start + 1));
        const node = latin1String(b, start, end);
        expect(await withoutNodeGlobals(() => latin1String(b, start, end))).toBe(node);
        expect(node.length).toBe(end - start);
      }),
      { numRuns: 60 },
    );
  });

  it('hex round-trips and matches Node', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => {
        const node = toHex(b);
        expect(node).toBe(Buffer.from(b).toString('hex'));
        expect(await withoutNodeGlobals(() => toHex(b))).toBe(node);
        expect(fromHex(node)).toEqual(b);
      }),
      { numRuns: 100 },
    );
  });

  it('compareBytes and compareUtf8 order as Buffer.compare does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        expect(Math.sign(compareBytes(a, b))).toBe(Buffer.compare(a, b));
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      }),
    );
  });

  it('allocUninitialized gives a byte array of the asked size either way', async () => {
    expect(allocUninitialized(17).length).toBe(17);
    const b = await withoutNodeGlobals(() => allocUninitialized(9));
    expect(b).toBeInstanceOf(Uint8Array);
    expect(b.length).toBe(9);
  });

  it('nextMacrotask runs after pending promise continuations, with and without setImmediate', async () => {
    for (const hide of [false, true]) {
      const order: string[] = [];
      const run = async (): Promise<void> => {
        void Promise.resolve().then(() => order.push('microtask'));
        await nextMacrotask();
        order.push('macrotask');
      };
      if (hide) await withoutNodeGlobals(run);
      else await run();
      expect(order).toEqual(['microtask', 'macrotask']);
    }
  });
});
