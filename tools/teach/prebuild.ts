/**
 * Build step after tsc: bundle the teaching page's script once into dist/tools/teach/, so the
 * installed package writes `tokusim teach --html` pages without esbuild. Run by `npm run build`
 * and `make build`; it writes only that one file of the build output.
 */
import { writeFileSync } from 'node:fs';
import { bundleFromSources, PREBUILT_SCRIPT } from './bundle.js';

writeFileSync(PREBUILT_SCRIPT, await bundleFromSources());
