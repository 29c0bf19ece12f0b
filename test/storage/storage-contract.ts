/**
 * The Storage contract, written once and run against every implementation (NodeStorage on a
 * temp dir, SimStorage in memory). Anything the engine relies on belongs here.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TokusimError } from '../../src/base/errors.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { joinPath, type Storage } from '../../src/storage/storage.js';

export interface ContractFixture {
  storage: Storage;
  /** An existing, empty directory to work in. */
  root: string;
  cleanup(): Promise<void>;
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const text = (s: string) => new TextEncoder().encode(s);

/** Await p and return the io error code it rejects with (fails the test if it resolves). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('io');
    expect((err as TokusimError).where.file).toBeDefined();
    return ioErrorCode(err);
  }
  throw new Error('expected the operation to fail');
}

async function readAll(storage: Storage, path: string): Promise<Uint8Array> {
  const f = await storage.open(path, 'read');
  const buf = new Uint8Array(await f.size());
  const n = await f.pread(buf, 0);
  await f.close();
  expect(n).toBe(buf.length);
  return buf;
}

export function storageContract(name: string, make: () => Promise<ContractFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fx: ContractFixture;
    let s: Storage;
    let p: (rel: string) => string;
    beforeEach(async () => {
      fx = await make();
      s = fx.storage;
      p = (rel) => joinPath(fx.root, rel);
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('Scenario: bytes written are read back before any fsync, and size reports them', async () => {
      const f = await s.open(p('a'), 'create');
      await f.pwrite(text('hello world'), 0);
      await f.pwrite(text('W'), 6);
      expect(await f.size()).toBe(11);
      const buf = new Uint8Array(11);
      expect(await f.pread(buf, 0)).toBe(11);
      expect(new TextDecoder().decode(buf)).toBe('hello World');
      await f.close();
    });

    it('Scenario: a write past the end zero-fills the gap; reads stop at end of file', async () => {
      const f = await s.open(p('gap'), 'create');
      await f.pwrite(bytes(1, 2), 0);
      await f.pwrite(bytes(9), 6);
      expect(await f.size()).toBe(7);
      const buf = new Uint8Array(10).fill(0xee);
      expect(await f.pread(buf, 0)).toBe(7);
      expect([...buf]).toEqual([1, 2, 0, 0, 0, 0, 9, 0xee, 0xee, 0xee]);
      expect(await f.pread(new Uint8Array(4), 7)).toBe(0);
      expect(await f.pread(new Uint8Array(4), 100)).toBe(0);
      expect(await f.pread(new Uint8Array(4), 5)).toBe(2);
      await f.close();
    });

    it('Scenario: truncate shrinks a file and growing it again reads zeros, not old bytes', async () => {
      const f = await s.open(p('t'), 'create');
      await f.pwrite(bytes(1, 2, 3, 4, 5, 6), 0);
      await f.truncate(2);
      expect(await f.size()).toBe(2);
      await f.truncate(5);
      const buf = new Uint8Array(5);
      expect(await f.pread(buf, 0)).toBe(5);
      expect([...buf]).toEqual([1, 2, 0, 0, 0]);
      await f.close();
    });

    it('Scenario: open modes — read/readwrite need the file, create keeps content, create-exclusive refuses an existing file', async () => {
      expect(await codeOf(s.open(p('missing'), 'read'))).toBe('ENOENT');
      expect(await codeOf(s.open(p('missing'), 'readwrite'))).toBe('ENOENT');
      expect(await codeOf(s.open(p('nodir/x'), 'create'))).toBe('ENOENT');
      const f = await s.open(p('x'), 'create-exclusive');
      await f.pwrite(text('keep'), 0);
      await f.fsync();
      await f.close();
      expect(await codeOf(s.open(p('x'), 'create-exclusive'))).toBe('EEXIST');
      const again = await s.open(p('x'), 'create');
      expect(await again.size()).toBe(4);
      await again.close();
      expect(new TextDecoder().decode(await readAll(s, p('x')))).toBe('keep');
    });

    it('Scenario: a read-only handle refuses writes and truncates', async () => {
      const w = await s.open(p('ro'), 'create');
      await w.pwrite(bytes(7), 0);
      await w.close();
      const r = await s.open(p('ro'), 'read');
      expect(await codeOf(r.pwrite(bytes(1), 0))).toBe('EBADF');
      expect(await codeOf(r.truncate(0))).toBe('EBADF');
      await r.close();
      expect([...(await readAll(s, p('ro')))]).toEqual([7]);
    });

    it('Scenario: every operation on a closed handle fails with EBADF', async () => {
      const f = await s.open(p('c'), 'create');
      await f.close();
      expect(await codeOf(f.pread(new Uint8Array(1), 0))).toBe('EBADF');
      expect(await codeOf(f.pwrite(bytes(1), 0))).toBe('EBADF');
      expect(await codeOf(f.size())).toBe('EBADF');
      expect(await codeOf(f.truncate(0))).toBe('EBADF');
      expect(await codeOf(f.fsync())).toBe('EBADF');
      expect(await codeOf(f.close())).toBe('EBADF');
    });

    it('Scenario: list returns entry names sorted bytewise, including subdirectories; a missing dir is an error', async () => {
      for (const n of ['b', 'B', 'a10', 'a9', 'é']) await (await s.open(p(n), 'create')).close();
      await s.mkdir(p('sub/deeper'));
      await s.mkdir(p('sub'));
      expect(await s.list(fx.root)).toEqual(['B', 'a10', 'a9', 'b', 'sub', 'é']);
      expect(await s.list(p('sub'))).toEqual(['deeper']);
      expect(await s.list(p('sub/deeper'))).toEqual([]);
      expect(await codeOf(s.list(p('nope')))).toBe('ENOENT');
    });

    it('Scenario: exists tells files and directories from missing paths', async () => {
      await (await s.open(p('f'), 'create')).close();
      await s.mkdir(p('d'));
      expect(await s.exists(p('f'))).toBe(true);
      expect(await s.exists(p('d'))).toBe(true);
      expect(await s.exists(p('g'))).toBe(false);
      expect(await s.exists(p('d/g'))).toBe(false);
    });

    it('Scenario: rename moves content and replaces an existing target; renaming a missing file fails', async () => {
      const a = await s.open(p('a'), 'create');
      await a.pwrite(text('AAA'), 0);
      await a.close();
      const b = await s.open(p('b'), 'create');
      await b.pwrite(text('B'), 0);
      await b.close();
      await s.rename(p('a'), p('b'));
      expect(await s.list(fx.root)).toEqual(['b']);
      expect(new TextDecoder().decode(await readAll(s, p('b')))).toBe('AAA');
      expect(await codeOf(s.rename(p('a'), p('c')))).toBe('ENOENT');
      await s.mkdir(p('d'));
      await s.rename(p('b'), p('d/b2'));
      expect(await s.list(p('d'))).toEqual(['b2']);
      expect(new TextDecoder().decode(await readAll(s, p('d/b2')))).toBe('AAA');
    });

    it('Scenario: link gives a file a second name only when that name is free (EEXIST otherwise, nothing changed)', async () => {
      const a = await s.open(p('a'), 'create');
      await a.pwrite(text('AAA'), 0);
      await a.close();
      await s.link(p('a'), p('b'));
      expect(new TextDecoder().decode(await readAll(s, p('b')))).toBe('AAA');
      await s.unlink(p('a'));
      expect(new TextDecoder().decode(await readAll(s, p('b')))).toBe('AAA');
      const c = await s.open(p('c'), 'create');
      await c.pwrite(text('C'), 0);
      await c.close();
      expect(await codeOf(s.link(p('c'), p('b')))).toBe('EEXIST');
      expect(new TextDecoder().decode(await readAll(s, p('b')))).toBe('AAA');
      expect(await codeOf(s.link(p('missing'), p('d')))).toBe('ENOENT');
      expect(await s.list(fx.root)).toEqual(['b', 'c']);
    });

    it('Scenario: unlink removes the entry, a handle opened before still reads it, a missing file fails', async () => {
      const f = await s.open(p('u'), 'create');
      await f.pwrite(text('still here'), 0);
      await s.unlink(p('u'));
      expect(await s.exists(p('u'))).toBe(false);
      const buf = new Uint8Array(10);
      expect(await f.pread(buf, 0)).toBe(10);
      expect(new TextDecoder().decode(buf)).toBe('still here');
      await f.close();
      expect(await codeOf(s.unlink(p('u')))).toBe('ENOENT');
      expect(await codeOf(s.open(p('u'), 'read'))).toBe('ENOENT');
    });

    it('Scenario: directories are not files — open and unlink refuse them, fsyncDir needs an existing dir', async () => {
      await s.mkdir(p('dd'));
      expect(await codeOf(s.open(p('dd'), 'read'))).toBe('EISDIR');
      expect(await codeOf(s.unlink(p('dd')))).not.toBe('');
      await s.fsyncDir(p('dd'));
      await s.fsyncDir(fx.root);
      expect(await codeOf(s.fsyncDir(p('nope')))).toBe('ENOENT');
    });

    it('Scenario: fsync succeeds on read and write handles and does not change content', async () => {
      const f = await s.open(p('s'), 'create');
      await f.pwrite(text('sync me'), 0);
      await f.fsync();
      const r = await s.open(p('s'), 'read');
      await r.fsync();
      await r.close();
      await f.close();
      expect(new TextDecoder().decode(await readAll(s, p('s')))).toBe('sync me');
    });

    // Property: any sequence of pwrite/truncate leaves the file equal to a plain byte-array model.
    it('Property: a file matches a byte-array model after any sequence of writes and truncates', async () => {
      let n = 0;
      const op = fc.oneof(
        fc.record({ kind: fc.constant('w' as const), offset: fc.nat(300), data: fc.uint8Array({ maxLength: 64 }) }),
        fc.record({ kind: fc.constant('t' as const), size: fc.nat(320) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
          const f = await s.open(p(`model${n++}`), 'create-exclusive');
          let model = new Uint8Array(0);
          for (const o of ops) {
            if (o.kind === 'w') {
              if (o.data.length > 0) {
                const next = new Uint8Array(Math.max(model.length, o.offset + o.data.length));
                next.set(model);
                next.set(o.data, o.offset);
                model = next;
              }
              await f.pwrite(o.data, o.offset);
            } else {
              const next = new Uint8Array(o.size);
              next.set(model.subarray(0, o.size));
              model = next;
              await f.truncate(o.size);
            }
          }
          expect(await f.size()).toBe(model.length);
          const buf = new Uint8Array(model.length + 5);
          expect(await f.pread(buf, 0)).toBe(model.length);
          expect(buf.subarray(0, model.length)).toEqual(model);
          await f.close();
        }),
        { numRuns: 40, seed: 4242 },
      );
    });
  });
}
