/**
 * The version of this tokusim package, read from its own package.json. yargs' default
 * `.version()` looks for package.json above its own node_modules folder, which in an installed
 * copy is the host project's, so `tokusim --version` would print the host's version.
 *
 * Invariant: the package.json returned is tokusim's (name "tokusim"), found by walking up from
 * this module's own location, never from the working directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The `version` field of tokusim's own package.json ("unknown" if it cannot be found). */
export function packageVersion(): string {
  let dir = import.meta.dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tokusim' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}
