/**
 * The npm package as a user gets it: `npm pack` on a copy of the sources with no dist/ (as in
 * a fresh clone, so prepack must build), one `npm install` of the tarball into a new project,
 * then the two programs through npx and a TypeScript consumer type-checked and run against the
 * installed declarations. The registry must be reachable for the dependencies (the npm cache
 * makes repeated runs cheap).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const OWN_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const FIXTURE_LOG = join(ROOT, 'fixtures', 'perconaft', 'S1_basic', 'logs', 'log000000000000.tokulog29');
const FIXTURE_PRINT = join(ROOT, 'fixtures', 'perconaft', 'S1_basic', 'logprint', 'log000000000000.tokulog29.txt');
const INSTALL_TIMEOUT_MS = 600_000;

function run(cmd: string, args: string[], cwd: string, input?: Buffer): SpawnSyncReturns<Buffer> {
  const r = spawnSync(cmd, args, { cwd, input, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<Buffer>, what: string): string {
  expect(r.status, `${what} failed:\n${r.stderr.toString()}\n${r.stdout.toString()}`).toBe(0);
  return r.stdout.toString();
}

/** A TypeScript consumer: typed TokusimLevel, Env with `await using`, and what must not type-check. */
const CONSUMER = `
import { Env, TokusimError, TokusimLevel, type TokusimLevelOptions } from 'tokusim';
import pkg from 'tokusim/package.json' with { type: 'json' };

const dir = process.argv[2]!;
const opts: TokusimLevelOptions<string, { n: number }> = { valueEncoding: 'json', durability: 'none' };
const db = new TokusimLevel<string, { n: number }>(dir + '/level', opts);
await db.put('a', { n: 1 });
const got: { n: number } | undefined = await db.get('a');
// @ts-expect-error the value type is {n: number}: a string is refused
await db.put('b', 'not an object');
// @ts-expect-error the key type is string
await db.put(7, { n: 2 });
await db.close();

{
  await using env = await Env.open(dir + '/env', { durability: 'none', checkpointPeriodMs: 0 });
  const d = await env.createDictionary('t');
  const txn = env.begin();
  await txn.put(d, new TextEncoder().encode('k'), new TextEncoder().encode('v'));
  await txn.commit();
  // @ts-expect-error internal members are stripped from the published declarations
  void env.logWriter;
}
const e: unknown = new Error('x');
if (e instanceof TokusimError) console.log(e.code);
console.log(JSON.stringify({ n: got?.n, version: pkg.version }));
`;

/** Importing a helper the root export leaves out must not type-check. */
const NO_HELPERS = `
// @ts-expect-error test helpers are not part of the public API
import { useX1764Wasm } from 'tokusim';
// @ts-expect-error nor the setters the entry calls itself at import
import { useNodeHostByDefault } from 'tokusim';
// @ts-expect-error nor the default NodeStorage setup hook
import { setDefaultNodeStorageSetup } from 'tokusim';
void useX1764Wasm;
void useNodeHostByDefault;
void setDefaultNodeStorageSetup;
`;

describe('the npm package', () => {
  let work = '';
  let tarball = '';
  let consumer = '';

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tokusim-pack-'));
    // A clone-like copy of the sources: no dist/, the repository's node_modules for the build.
    const src = join(work, 'src-copy');
    mkdirSync(src);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'LICENSE', 'README.md', 'src', 'tools']) {
      cpSync(join(ROOT, f), join(src, f), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
    const packed = ok(run('npm', ['pack', '--json', '--pack-destination', work], src), 'npm pack');
    const info = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string }>;
    tarball = join(work, info[0]!.filename);

    // The host project has its own name and version, which tokusim must not report as its own.
    consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'host-project', version: '9.9.9', private: true, type: 'module' }));
    ok(run('npm', ['install', '--prefer-offline', '--no-save', tarball], consumer), 'npm install of the tarball');
  }, INSTALL_TIMEOUT_MS);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  // Scenario: the tarball holds the compiled library and CLI, README and LICENSE, and nothing a user cannot run (bench programs, demo, source maps, tests).
  it('Scenario: the installed package ships what a user needs and nothing else', () => {
    const base = join(consumer, 'node_modules', 'tokusim');
    const files: string[] = [];
    const walk = (d: string, rel: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const r = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) walk(join(d, e.name), r);
        else files.push(r);
      }
    };
    walk(base, '');
    expect(files).toContain('LICENSE');
    expect(readFileSync(join(base, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/tools/tokusim.js');
    expect(files).toContain('dist/tools/tdb-logprint.js');
    expect(files).toContain('dist/src/core.js');
    expect(files).toContain('dist/tools/teach/page.bundle.js');
    expect(files).not.toContain('dist/tools/teach/prebuild.js');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    // The manifest a registry and a user's tools read: keywords, license, both programs, the
    // ./package.json export, the Node range. (There is no public repository or issue tracker
    // to name in `repository` and `bugs`.)
    const manifest = JSON.parse(readFileSync(join(base, 'package.json'), 'utf8')) as { keywords?: string[]; license?: string; bin?: Record<string, string>; exports?: Record<string, unknown>; engines?: { node?: string } };
    expect(manifest.keywords).toEqual(expect.arrayContaining(['tokudb', 'perconaft', 'tokulog']));
    expect(manifest.license).toBe('Apache-2.0');
    expect(Object.keys(manifest.bin ?? {}).sort()).toEqual(['tdb-logprint', 'tokusim']);
    expect(manifest.exports?.['./package.json']).toBe('./package.json');
    expect(manifest.engines?.node).toBe('>=20.19');
    // Every package a shipped module imports statically is a dependency (a development
    // dependency is reached only through a guarded dynamic import: esbuild, in a clone).
    const deps = new Set(Object.keys((JSON.parse(readFileSync(join(base, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies));
    const undeclared: string[] = [];
    for (const f of files.filter((x) => x.endsWith('.js'))) {
      for (const m of readFileSync(join(base, f), 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!deps.has(name)) undeclared.push(`${f}: ${spec}`);
      }
    }
    expect(undeclared).toEqual([]);
    expect(files.filter((f) => f.includes('/bench/') || f.endsWith('demo.js') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  // Scenario: `npx tokusim --version` inside a host project prints tokusim's version, not the host's 9.9.9.
  it('Scenario: npx tokusim --version prints its own version', () => {
    const out = ok(run('npx', ['--no-install', 'tokusim', '--version'], consumer), 'npx tokusim --version');
    expect(out.trim()).toBe(OWN_VERSION);
  });

  // Scenario: the installed package (no esbuild, no dev dependencies) writes the teaching page from its prebuilt bundle.
  it('Scenario: npx tokusim teach --html writes the self-contained page without esbuild', () => {
    const page = join(consumer, 'teach.html');
    ok(run('npx', ['--no-install', 'tokusim', 'teach', '--html', page], consumer), 'npx tokusim teach --html');
    const html = readFileSync(page, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<script>');
    expect(html.length).toBeGreaterThan(50_000);
  });

  // Scenario: the browser-clean core is importable as tokusim/core and runs a SimStorage environment.
  it('Scenario: import tokusim/core from the installed package', () => {
    const script = "import('tokusim/core').then(async (m) => { const env = await m.Env.open('/e', { storage: new m.SimStorage() }); const d = await env.createDictionary('t'); await env.put(d, new Uint8Array([1]), new Uint8Array([2])); console.log((await env.get(d, new Uint8Array([1])))[0]); await env.close(); })";
    const out = ok(run(process.execPath, ['--input-type=module', '-e', script], consumer), 'node importing tokusim/core');
    expect(out.trim()).toBe('2');
  });

  // Scenario: the installed tdb-logprint prints a PerconaFT log exactly as tokuft_logprint did.
  it('Scenario: npx tdb-logprint prints a reference log byte for byte', () => {
    const out = run('npx', ['--no-install', 'tdb-logprint'], consumer, readFileSync(FIXTURE_LOG));
    expect(out.status, out.stderr.toString()).toBe(0);
    expect(out.stdout.equals(readFileSync(FIXTURE_PRINT))).toBe(true);
  });

  // Scenario: a strict TypeScript consumer type-checks against the published declarations (typed TokusimLevel, Env with await using, no internals, no helpers) and runs.
  it('Scenario: a TypeScript consumer type-checks and runs against the installed package', () => {
    writeFileSync(join(consumer, 'main.ts'), CONSUMER);
    writeFileSync(join(consumer, 'no-helpers.ts'), NO_HELPERS);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'esnext.disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          resolveJsonModule: true,
          outDir: 'out',
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['main.ts', 'no-helpers.ts'],
      }),
    );
    ok(run(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer), 'tsc on the consumer');
    const data = join(consumer, 'data');
    mkdirSync(data);
    const out = ok(run(process.execPath, [join(consumer, 'out', 'main.js'), data], consumer), 'the consumer');
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ n: 1, version: OWN_VERSION });
  });
});
