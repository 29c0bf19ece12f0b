/**
 * Builds the explorable page: bundles src/teach/page/app.ts (the real engine, through the
 * browser-clean core) with esbuild for the browser and inlines the script and the stylesheet
 * into one HTML file that opens from file:// with no server. Nothing is stubbed or shimmed: the
 * build fails if anything the page imports reaches a node:* module.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAGE_CSS } from '../../src/teach/page/style.js';


const here = dirname(fileURLToPath(import.meta.url));
const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? 'ts' : 'js';

/** The page's entry module (the source in a clone, the compiled file under dist/). */
function pageEntry(): string {
  return join(here, '..', '..', 'src', 'teach', 'page', `app.${ext}`);
}

/**
 * Where the build keeps the page's bundled script (written by tools/teach/prebuild.ts after tsc,
 * shipped in the package), so that an installed tokusim writes the page without esbuild.
 */
export const PREBUILT_SCRIPT = join(here, 'page.bundle.js');

/**
 * The bundled script of the page (minified): the prebuilt one when running the compiled tools
 * (dist/), otherwise bundled now from the sources with esbuild.
 */
export async function bundleTeachScript(): Promise<string> {
  if (ext === 'js' && existsSync(PREBUILT_SCRIPT)) return readFileSync(PREBUILT_SCRIPT, 'utf8');
  return bundleFromSources();
}

/** Bundle the page's script from the sources with esbuild (a development dependency). */
export async function bundleFromSources(): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('building the page needs esbuild (a development dependency): run it from a clone of tokusim after npm ci');
  }
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
    plugins: [
      {
        name: 'tokusim-no-node-modules',
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: `${args.importer} imports ${args.path}, which the browser does not have: the page may import only the core (src/core.ts)` }] }));
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
