import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokusimError } from '../../src/base/errors.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

describe('NodeStorage', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tokusim-node-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('Scenario: what tokusim writes and fsyncs is what the real file system holds', async () => {
    const s = new NodeStorage();
    const f = await s.open(join(root, 'log000000000000.tokulog29'), 'create-exclusive');
    await f.pwrite(new TextEncoder().encode('tokulogx'), 0);
    await f.fsync();
    await f.close();
    await s.fsyncDir(root);
    expect(await readFile(join(root, 'log000000000000.tokulog29'), 'utf8')).toBe('tokulogx');
  });

  it('Scenario: both file sync modes (fdatasync default, full fsync) sync a grown file and refuse on a closed handle', async () => {
    for (const fileSync of ['datasync', 'fsync'] as const) {
      const s = new NodeStorage({ fileSync });
      const path = join(root, `sync-${fileSync}`);
      const f = await s.open(path, 'create-exclusive');
      await f.pwrite(new Uint8Array(10_000).fill(7), 0);
      await f.fsync();
      expect(await f.size()).toBe(10_000);
      await f.close();
      await expect(f.fsync()).rejects.toThrow(/EBADF/);
      expect((await readFile(path)).length).toBe(10_000);
    }
  });

  it('Scenario: a file written by another program is read exactly', async () => {
    await writeFile(join(root, 'ext'), Buffer.from([0, 1, 2, 250, 255]));
    const s = new NodeStorage();
    const f = await s.open(join(root, 'ext'), 'read');
    const buf = new Uint8Array(8);
    expect(await f.pread(buf, 0)).toBe(5);
    expect([...buf.subarray(0, 5)]).toEqual([0, 1, 2, 250, 255]);
    await f.close();
  });

  it('Scenario: an OS failure becomes an io TokusimError naming the path and the OS error code', async () => {
    const s = new NodeStorage();
    const missing = join(root, 'no', 'such', 'file');
    const err = await s.open(missing, 'read').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    const te = err as TokusimError;
    expect(te.kind).toBe('io');
    expect(te.where.file).toBe(missing);
    expect(te.where.actual).toBe('ENOENT');
    expect(te.message).toContain(missing);
    expect(te.message).toContain('ENOENT');
    // One line that says each thing once: the path, the operation, the code, the OS's words.
    expect(te.message).toBe(`${missing}: open(read) failed: ENOENT (no such file or directory)`);
    const listed = await s.list(join(root, 'no-such-dir')).then(
      () => undefined,
      (e: unknown) => e as TokusimError,
    );
    expect(listed?.message).toBe(`${join(root, 'no-such-dir')}: list failed: ENOENT (no such file or directory)`);
  });

  it('Scenario: negative offsets are refused before reaching the OS', async () => {
    const s = new NodeStorage();
    const f = await s.open(join(root, 'neg'), 'create');
    await expect(f.pwrite(new Uint8Array(1), -1)).rejects.toMatchObject({ kind: 'io', where: { actual: 'EINVAL' } });
    await expect(f.pread(new Uint8Array(1), -5)).rejects.toMatchObject({ kind: 'io', where: { actual: 'EINVAL' } });
    await f.close();
  });
});
