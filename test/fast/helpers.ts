import { installFastPaths, type FastPathOptions, type FastPaths } from '../../src/fast/install.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

/** A NodeStorage with the fast paths installed (as the Node entry installs them), and what was installed. */
export function fastNodeStorage(opts: FastPathOptions = {}): NodeStorage & { readonly fast: FastPaths } {
  const storage = new NodeStorage();
  return Object.assign(storage, { fast: installFastPaths(storage, opts) });
}
