/**
 * Builds the explorable page: bundles src/teach/page/app.ts (the real engine included) with
 * esbuild for the browser and inlines the script and the stylesheet into one HTML file that
 * opens from file:// with no server.
 *
 * The engine core still reaches a few Node-only modules (the real-disk storage, the frame
 * worker pool, the host-process probe of the environment lock) through imports that the
 * simulated disk never uses at run time. Until the browser-clean core entry exists, those
 * modules, and only those, are replaced in the bundle by the stubs in NODE_ONLY_STUBS, and
 * BROWSER_SHIMS supplies the two Node globals the core calls (Buffer for a few byte helpers,
 * setImmediate for a yield). Nothing else is stubbed; the build fails if any other module
 * imports node:*.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAGE_CSS } from '../../src/teach/page/style.js';

/** Module (by file name) -> the source that replaces it in the browser bundle. */
export const NODE_ONLY_STUBS: Readonly<Record<string, string>> = {
  'node-storage': `
    export function cooperativeYield() { return undefined; }
    export class NodeStorage { constructor() { throw new Error('NodeStorage (the real disk) is not available in the browser'); } }
  `,
  'frame-workers': `
    export const FRAMED_WRITES = Symbol('tokusim.framedWrites');
    export function acceptsFramedPayload() { return false; }
    export function allShared() { return false; }
    export class FramedPayload extends Uint8Array {
      constructor() { throw new Error('frame workers are not available in the browser'); }
      static ofSharedParts() { throw new Error('frame workers are not available in the browser'); }
    }
  `,
  'host-process': `
    export function currentProcess() { return { host: 'browser', pid: 1 }; }
    export function processState() { return 'unknown'; }
  `,
};

/** Minimal Buffer and setImmediate for the browser, covering only what the core calls. */
export const BROWSER_SHIMS = `
(() => {
  const g = globalThis;
  if (typeof g.setImmediate !== 'function') {
    const ch = new MessageChannel(); const q = [];
    ch.port1.onmessage = () => { const f = q.shift(); if (f) f(); };
    g.setImmediate = (fn, ...args) => { q.push(() => fn(...args)); ch.port2.postMessage(0); return 0; };
  }
  if (typeof g.Buffer !== 'function') {
    const te = new TextEncoder(), td = new TextDecoder();
    class Buffer extends Uint8Array {
      static from(x, a, b) {
        if (typeof x === 'string') {
          if (a === 'hex') { const out = new Buffer(x.length >> 1); for (let i = 0; i < out.length; i++) out[i] = parseInt(x.substr(i * 2, 2), 16); return out; }
          if (a === 'latin1') { const out = new Buffer(x.length); for (let i = 0; i < x.length; i++) out[i] = x.charCodeAt(i) & 255; return out; }
          const u = te.encode(x); return new Buffer(u.buffer, u.byteOffset, u.byteLength);
        }
        if (x instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && x instanceof SharedArrayBuffer)) return new Buffer(x, a ?? 0, b ?? x.byteLength - (a ?? 0));
        const out = new Buffer(x.length); out.set(x); return out;
      }
      static allocUnsafeSlow(n) { return new Buffer(n); }
      static alloc(n) { return new Buffer(n); }
      static compare(a, b) { const n = Math.min(a.length, b.length); for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; return a.length === b.length ? 0 : a.length < b.length ? -1 : 1; }
      toString(enc) {
        if (enc === 'hex') { let s = ''; for (const v of this) s += v.toString(16).padStart(2, '0'); return s; }
        if (enc === 'latin1' || enc === 'binary') { let s = ''; for (let i = 0; i < this.length; i += 8192) s += String.fromCharCode(...this.subarray(i, i + 8192)); return s; }
        return td.decode(this);
      }
    }
    g.Buffer = Buffer;
  }
})();
`;

const here = dirname(fileURLToPath(import.meta.url));
const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? 'ts' : 'js';

/** The page's entry module (the source in a clone, the compiled file under dist/). */
function pageEntry(): string {
  return join(here, '..', '..', 'src', 'teach', 'page', `app.${ext}`);
}

/** The bundled script of the page (minified). */
export async function bundleTeachScript(): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('building the page needs esbuild (a development dependency): run it from a clone of tokusim after npm ci');
  }
  const names = Object.keys(NODE_ONLY_STUBS);
  const result = await esbuild.build({
    entryPoints: [pageEntry()],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: BROWSER_SHIMS },
    plugins: [
      {
        name: 'tokusim-node-only-stubs',
        setup(b) {
          b.onResolve({ filter: new RegExp(`/(${names.join('|')})\\.js$`) }, (args) => ({ path: /\/([a-z-]+)\.js$/.exec(args.path)![1]!, namespace: 'node-only-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'node-only-stub' }, (args) => ({ contents: NODE_ONLY_STUBS[args.path]!, loader: 'js' }));
          b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `${args.importer} imports ${args.path}, which the browser does not have (add the module to NODE_ONLY_STUBS only if the simulated disk never runs it)` }] }));
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}

/** The whole page: one HTML file with the script and the stylesheet inline. */
export async function buildTeachPage(): Promise<string> {
  const js = await bundleTeachScript();
  // A script may not contain "</script" literally; the bundle's strings are escaped to be safe.
  const safe = js.replace(/<\/(script)/gi, '<\\/$1');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tokusim teach: the sharp checkpoint</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<div id="app"><p>Loading the simulator…</p></div>
<script>${safe}</script>
</body>
</html>
`;
}
