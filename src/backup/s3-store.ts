/**
 * A backup repository in S3-compatible object storage (node only: @aws-sdk/client-s3), behind
 * the same RepoStore interface as LocalStore. URL `s3://bucket/prefix`; the endpoint comes
 * from the caller (CLI: --s3-endpoint or TOKUSIM_S3_ENDPOINT), addressing is path-style, and
 * checksums are computed and validated only when an operation requires them (many
 * S3-compatible servers reject the SDK's default CRC headers).
 *
 * Invariants:
 *  - put and putAtomic are one PutObject each: S3 makes an object visible whole or not at
 *    all, and durable when the PUT returns, so sync() has nothing left to do.
 *  - A transient failure (HTTP 429/500/502/503/504, throttling, a reset or refused
 *    connection, a timeout) is retried with exponential backoff and deterministic jitter, at
 *    most `attempts` tries in all; any other failure, or the last transient one, is one
 *    TokusimError of kind 'remote' naming the operation, the object and the cause.
 *  - The SDK's own retries are off (maxAttempts 1), so the policy above is the only one.
 *  - conditional.putIf is a PutObject with `If-None-Match: *` or `If-Match: <ETag>` (S3's
 *    conditional writes): the server checks the condition atomically with the write, and a
 *    412 or 409 answer means it did not hold. A server that ignores those headers (s3rver
 *    3.7.1 does) makes it a plain put; one that refuses them as not implemented (501) is
 *    answered once with plain puts from then on. Either way the lease's read-back remains.
 *  - conditional.deleteIf reads the object, and deletes it only if its ETag is the one given,
 *    with `If-Match: <ETag>` on the DeleteObject (a 412/409/404 answer means it did not hold).
 *    A server that ignores the header has still had the read check; one that answers 501 gets
 *    a plain DELETE, as putIf does.
 */
import {
  DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { TokusimError } from '../base/errors.js';
import type { ConditionalWrites, RepoStore } from './store.js';

/** Bucket and key prefix of an `s3://bucket/prefix` URL. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

export function isS3Url(s: string): boolean {
  return s.startsWith('s3://');
}

/** Parse `s3://bucket[/prefix]`; the prefix has no leading or trailing slash. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (m === null || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) {
    throw new TokusimError('bad-argument', `not an S3 repository URL: ${url} (s3://bucket/prefix, bucket 3-63 lower-case letters, digits, dots or hyphens)`, { actual: url });
  }
  return { bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, '') };
}

/** How transient failures are retried. */
export interface RetryPolicy {
  /** Tries in all, the first included (default 6). */
  attempts: number;
  /** Backoff before retry i (from 0) is up to baseMs * 2^i, capped at maxMs (defaults 100, 5000). */
  baseMs: number;
  maxMs: number;
  /** Seed of the jitter (default 1): the same seed waits the same times. */
  seed: number;
  /** How to wait (tests pass one that records and returns at once). */
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 6,
  baseMs: 100,
  maxMs: 5000,
  seed: 1,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export interface S3StoreOptions extends S3Location {
  /** A client made by the caller (tests wrap one to inject faults); else one from endpoint/region. */
  client?: S3Client;
  /** e.g. http://127.0.0.1:4568; default: the SDK's (AWS). */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  retry?: Partial<RetryPolicy>;
  /** Told about each retry (the CLI counts them). */
  onRetry?: (r: { op: string; key: string; attempt: number; waitMs: number; cause: string }) => void;
}

const NODE_WARNING_ENV = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * An S3 client with tokusim's settings. The SDK warns on stderr, once per process, that
 * later releases will need a newer Node; that is no concern of a tokusim user, so the
 * SDK's own switch for it is set while the client is built (that is when it checks) and
 * restored after.
 */
export function makeS3Client(o: { endpoint?: string; region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } }): S3Client {
  const config: S3ClientConfig = {
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    region: o.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
  };
  if (o.endpoint !== undefined) config.endpoint = o.endpoint;
  if (o.credentials !== undefined) config.credentials = o.credentials;
  const had = process.env[NODE_WARNING_ENV];
  process.env[NODE_WARNING_ENV] = 'true';
  try {
    return new S3Client(config);
  } finally {
    if (had === undefined) delete process.env[NODE_WARNING_ENV];
    else process.env[NODE_WARNING_ENV] = had;
  }
}

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_NAMES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'ThrottlingException', 'TooManyRequestsException']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Whether an error from the SDK is worth retrying. */
export function isTransient(err: unknown): boolean {
  const e = err as SdkError;
  if (typeof e !== 'object' || e === null) return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return true;
  if (e.name !== undefined && TRANSIENT_NAMES.has(e.name)) return true;
  return e.code !== undefined && TRANSIENT_CODES.has(e.code);
}

function describeCause(err: unknown): string {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  const what = [e?.code ?? e?.name, status !== undefined ? `HTTP ${status}` : undefined].filter((x) => x !== undefined).join(', ');
  return `${what}${what !== '' ? ': ' : ''}${(e?.message ?? String(err)).split('\n')[0]}`;
}

/** Whether a GET failed because the object does not exist (not the bucket). */
function isAbsent(err: unknown): boolean {
  const e = err as SdkError;
  return e.name === 'NoSuchKey' || (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
}

/** A repository under s3://bucket/prefix. */
export class S3Store implements RepoStore {
  readonly client: S3Client;
  private readonly retry: RetryPolicy;
  private rng: number;

  constructor(private readonly o: S3StoreOptions) {
    this.client = o.client ?? makeS3Client(o);
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.rng = this.retry.seed >>> 0 || 1;
  }

  get where(): string {
    return `s3://${this.o.bucket}${this.o.prefix === '' ? '' : `/${this.o.prefix}`}`;
  }

  private key(k: string): string {
    return this.o.prefix === '' ? k : `${this.o.prefix}/${k}`;
  }

  /** xorshift32: deterministic jitter. */
  private nextRandom(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x1_0000_0000;
  }

  /** Run one request with the retry policy. */
  private async call<T>(op: string, key: string, fn: () => Promise<T>, absent?: (err: unknown) => boolean): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (absent?.(err) === true) return undefined;
        if (!isTransient(err) || attempt >= this.retry.attempts) {
          const tries = attempt > 1 ? ` after ${attempt} tries` : '';
          throw new TokusimError('remote', `S3 ${op} of ${key} failed${tries}: ${describeCause(err)}`, { file: `${this.where}/${key}` });
        }
        const cap = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1));
        // Half fixed, half jitter: never a zero wait, and clients that failed together spread out.
        const waitMs = Math.round(cap / 2 + (cap / 2) * this.nextRandom());
        this.o.onRetry?.({ op, key, attempt, waitMs, cause: describeCause(err) });
        await this.retry.sleep(waitMs);
      }
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.call('PUT', key, () => this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), Body: data, ContentLength: data.length })));
  }

  putAtomic(key: string, data: Uint8Array): Promise<void> {
    return this.put(key, data);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.call(
      'GET',
      key,
      async () => {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
        if (r.Body === undefined) return new Uint8Array(0);
        return r.Body.transformToByteArray();
      },
      isAbsent,
    );
  }

  async list(dir: string): Promise<string[]> {
    const prefix = this.key(dir) + '/';
    const out = new Set<string>();
    let token: string | undefined;
    do {
      const r = await this.call('LIST', dir, () => this.client.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: prefix, Delimiter: '/', ...(token !== undefined ? { ContinuationToken: token } : {}) })));
      for (const c of r?.CommonPrefixes ?? []) if (c.Prefix !== undefined) out.add(c.Prefix.slice(prefix.length).replace(/\/$/, ''));
      for (const c of r?.Contents ?? []) if (c.Key !== undefined) out.add(c.Key.slice(prefix.length));
      token = r?.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...out].filter((n) => n !== '').sort();
  }

  /** Set once the server answered a conditional header with 501: later conditional puts are plain. */
  private noConditions = false;

  readonly conditional: ConditionalWrites = {
    atomicIfTag: true,
    getTagged: async (key) => {
      const r = await this.call(
        'GET',
        key,
        async () => {
          const o = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) }));
          return { bytes: o.Body === undefined ? new Uint8Array(0) : await o.Body.transformToByteArray(), tag: o.ETag ?? '' };
        },
        isAbsent,
      );
      return r;
    },
    putIf: async (key, data, cond) => {
      const header = this.noConditions ? {} : 'ifTag' in cond ? { IfMatch: cond.ifTag } : { IfNoneMatch: '*' };
      let failed = false;
      const r = await this.call(
        'PUT',
        key,
        () => this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), Body: data, ContentLength: data.length, ...header })),
        (err) => {
          const e = err as SdkError;
          const status = e.$metadata?.httpStatusCode;
          if (status === 412 || status === 409 || e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict') return (failed = true);
          return false;
        },
      ).catch(async (err: unknown) => {
        if (this.noConditions || !/NotImplemented|HTTP 501/.test((err as Error).message)) throw err;
        this.noConditions = true;
        return this.call('PUT', key, () => this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), Body: data, ContentLength: data.length })));
      });
      if (failed || r === undefined) return undefined;
      return r.ETag ?? '';
    },
    deleteIf: async (key, tag) => {
      // Read first: a server that ignores If-Match on DELETE still deletes only what was just seen to be ours.
      const have = await this.conditional.getTagged(key);
      if (have === undefined) return true;
      if (have.tag !== tag) return false;
      const plain = (): Promise<unknown> => this.call('DELETE', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) })));
      if (this.noConditions) {
        await plain();
        return true;
      }
      let failed = false;
      await this.call(
        'DELETE',
        key,
        () => this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(key), IfMatch: tag })),
        (err) => {
          const e = err as SdkError;
          const status = e.$metadata?.httpStatusCode;
          if (status === 412 || status === 409 || status === 404 || e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.name === 'NoSuchKey') return (failed = true);
          return false;
        },
      ).catch(async (err: unknown) => {
        if (!/NotImplemented|HTTP 501/.test((err as Error).message)) throw err;
        this.noConditions = true;
        return plain();
      });
      if (!failed) return true;
      // A DELETE whose answer was lost and whose retry found the object gone also lands here: gone is gone.
      return (await this.conditional.getTagged(key)) === undefined;
    },
  };

  async delete(key: string): Promise<void> {
    await this.call('DELETE', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(key) })));
  }

  async sync(): Promise<void> {
    // Every PUT that returned is durable.
  }

  /** Close the client's connections. */
  destroy(): void {
    if (this.o.client === undefined) this.client.destroy();
  }
}
