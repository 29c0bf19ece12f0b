/**
 * An s3rver (S3-compatible test server, devDependency) on 127.0.0.1 with a free port and one
 * bucket, for the backup tests and benchmark; its objects live in a temporary directory that
 * stop() removes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { makeS3Client } from '../../src/backup/s3-store.js';
import type { S3Client } from '@aws-sdk/client-s3';

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  stop(): Promise<void>;
}

export async function startLocalS3(bucket = 'tokusim-backups'): Promise<LocalS3> {
  const directory = mkdtempSync(join(tmpdir(), 'tokusim-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = makeS3Client({ endpoint, credentials: S3RVER_CREDENTIALS });
  return {
    endpoint,
    bucket,
    client,
    stop: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
