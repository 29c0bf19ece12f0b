/**
 * The core entry (src/core.ts, `tokusim/core`) runs in a browser: esbuild bundles it for
 * `platform: 'browser'` with nothing external (a node:* import, or any module esbuild cannot
 * resolve for a browser, fails the build), and a scenario bundled from it (open an environment
 * on a SimStorage, commit rows, crash at a checkpoint hook, crash the disk, recover) runs in a
 * context without Node globals: a node:vm context holding only the standard JS globals plus the
 * few Web APIs the core uses, and, where /usr/bin/chromium exists, headless Chromium.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import vm from 'node:vm';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';

/** The scenario, run from the bundle: only what the core entry exports. Returns JSON text. */
const SCENARIO = `
import { Env, SimStorage, TokusimError, VirtualClock } from ${JSON.stringify(join(ROOT, 'src', 'core.ts'))};

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

export async function run() {
  const out = {};
  try {
    await Env.open('/no-storage');
    out.noStorage = 'opened';
  } catch (e) {
    out.noStorage = { tokusimError: e instanceof TokusimError, kind: e.kind, message: e.message };
  }
  const storage = new SimStorage({ seed: 5 });
  const clock = new VirtualClock();
  const open = (o = {}) => Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'browser', ...o });
  let armed = false;
  const hooks = { afterPendingPairsWritten: () => { if (armed) throw new Error('simulated crash after the pending pairs were written'); } };
  const env = await open({ checkpointHooks: hooks });
  const d = await env.createDictionary('t');
  for (let i = 0; i < 30; i++) await env.put(d, enc('k' + i), enc('v' + i));
  await env.checkpoint();
  for (let i = 30; i < 50; i++) await env.put(d, enc('k' + i), enc('w' + i));
  await env.del(d, enc('k0'));
  armed = true;
  try {
    await env.checkpoint();
    out.checkpoint = 'completed';
  } catch (e) {
    out.checkpoint = e.message;
  }
  env.abandon();
  storage.crash({ mode: 'drop-all' });
  const env2 = await open();
  out.recovered = env2.recoveryReport !== null;
  const d2 = await env2.openDictionary('t');
  const rows = {};
  for (const e of await env2.begin().range(d2)) rows[dec(e.key)] = dec(e.value);
  out.rows = rows;
  await env2.close();
  return JSON.stringify(out);
}
`;

/** What the scenario must find: every committed row, k0 deleted, the later rows' new values. */
function expectedRows(): Record<string, string> {
  const rows: Record<string, string> = {};
  for (let i = 1; i < 30; i++) rows[`k${i}`] = `v${i}`;
  for (let i = 30; i < 50; i++) rows[`k${i}`] = `w${i}`;
  return rows;
}

function checkResult(json: string): void {
  const out = JSON.parse(json) as { noStorage: unknown; checkpoint: string; recovered: boolean; rows: Record<string, string> };
  expect(out.noStorage).toEqual({
    tokusimError: true,
    kind: 'bad-argument',
    message: expect.stringContaining('no storage given and this build has no file system: pass options.storage'),
  });
  expect(out.checkpoint).toContain('simulated crash after the pending pairs were written');
  expect(out.recovered).toBe(true);
  expect(out.rows).toEqual(expectedRows());
}

describe('the core entry in a browser', () => {
  let scenario = '';

  beforeAll(async () => {
    const r = await build({ stdin: { contents: SCENARIO, resolveDir: ROOT, loader: 'js' }, bundle: true, platform: 'browser', format: 'iife', globalName: 'tokusimScenario', write: false, logLevel: 'silent' });
    scenario = r.outputFiles[0]!.text;
  }, 60_000);

  // Property: nothing reached from src/core.ts needs Node: the browser bundle builds with no
  // externals, and none of its inputs is a node:* module or a file of the Node side.
  it('src/core.ts bundles for the browser (esm, nothing external) without a Node module', async () => {
    const r = await build({ entryPoints: [join(ROOT, 'src', 'core.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    expect(r.errors).toEqual([]);
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs).toContain('src/engine/env.ts');
    expect(inputs).toContain('src/storage/sim-storage.ts');
    expect(inputs.filter((f) => f.startsWith('node:') || /^src\/(node|fast)\/|node-storage|host-process|node-codecs/.test(f))).toEqual([]);
    // Nothing was left external: the bundle imports nothing at load or later.
    const text = r.outputFiles[0]!.text;
    expect(text.match(/^\s*import\s[^;]*?from\s*["'][^"']+["']/gm) ?? []).toEqual([]);
    expect(text.match(/\bimport\(\s*["'][^"']+["']\s*\)/g) ?? []).toEqual([]);
  }, 60_000);

  // The check above can fail: the Node entry pulls node:* modules, and the same build refuses it.
  it('the same browser build of the Node entry (src/index.ts) fails on its node:* imports', async () => {
    const failed = await build({ entryPoints: [join(ROOT, 'src', 'index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }).then(
      () => [],
      (err: { errors: Array<{ text: string }> }) => err.errors.map((e) => e.text),
    );
    expect(failed.some((t) => /node:/.test(t))).toBe(true);
  }, 60_000);

  // Scenario: a page without Node opens an environment on a SimStorage, commits rows, crashes
  // inside a checkpoint and in the disk, and finds every committed row after recovery.
  it('Scenario: the bundle runs checkpoint, crash at a hook and recovery in a context without Node globals', async () => {
    // The context is its own realm: a TextEncoder from this one would hand out this realm's
    // Uint8Arrays, which fail the core's instanceof checks there, so it copies into the context's.
    const context = vm.createContext({ TextDecoder });
    const ContextUint8Array = vm.runInContext('Uint8Array', context) as Uint8ArrayConstructor;
    class ContextTextEncoder {
      readonly encoding = 'utf-8';
      encode(s?: string): Uint8Array {
        return ContextUint8Array.from(new TextEncoder().encode(s));
      }
    }
    Object.assign(context, {
      TextEncoder: ContextTextEncoder,
      MessageChannel,
      performance,
      queueMicrotask,
      setTimeout: (fn: () => void, ms?: number) => setTimeout(fn, ms),
      clearTimeout: (t: ReturnType<typeof setTimeout>) => clearTimeout(t),
    });
    expect(vm.runInContext('[typeof process, typeof Buffer, typeof require, typeof setImmediate, typeof global].join()', context)).toBe('undefined,undefined,undefined,undefined,undefined');
    vm.runInContext(scenario, context);
    const json = await (vm.runInContext('tokusimScenario.run()', context) as Promise<string>);
    checkResult(json);
  }, 120_000);

  if (existsSync(CHROMIUM)) {
    // Scenario: the same bundle in headless Chromium (a real browser's globals and event loop).
    it('Scenario: the bundle runs the same scenario in headless Chromium', async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        await page.addScriptTag({ content: scenario });
        const json = await page.evaluate(() => (globalThis as unknown as { tokusimScenario: { run(): Promise<string> } }).tokusimScenario.run());
        checkResult(json);
      } finally {
        await browser.close();
      }
    }, 120_000);
  }
});
