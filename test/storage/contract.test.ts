import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { storageContract } from './storage-contract.js';

storageContract('NodeStorage on a temp dir', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tokusim-storage-'));
  return { storage: new NodeStorage(), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});

storageContract('SimStorage (relative root)', async () => {
  const storage = new SimStorage({ seed: 7 });
  await storage.mkdir('env');
  return {
    storage,
    root: 'env',
    cleanup: async () => {
      storage.checkInvariants();
    },
  };
});

storageContract('SimStorage (absolute root)', async () => {
  const storage = new SimStorage({ seed: 8 });
  await storage.mkdir('/var/db');
  return {
    storage,
    root: '/var/db',
    cleanup: async () => {
      storage.checkInvariants();
    },
  };
});
