// downloadFile: url -> dest through dest.incomplete, resumed with Range, retried on transient failures, checked against
// the expected size and sha256 / git blob id, then renamed: dest only ever exists complete and verified.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import { isDiskFull, PullError } from './errors.js';
import { httpGet, redact, statusError, type RequestOptions } from './http.js';
import { describeError, withRetries, type RetryPolicy } from './retry.js';

/** What a file must be; sha256 for LFS files, the git blob id (sha1 of "blob SIZE\0" + content) for the others. */
export interface Expected {
  size?: number;
  sha256?: string;
  gitOid?: string;
}

export interface DownloadOptions extends Omit<RequestOptions, 'headers'> {
  url: string;
  dest: string;
  /** The file's name in messages. */
  name: string;
  expected: Expected;
  retry: RetryPolicy;
  logger: Logger;
  /** Maps a 4xx/5xx answer to an error that says what it means. */
  describeStatus?: (response: Response) => string;
  /** Called with the number of bytes of this file on disk so far (it may go down when a transfer restarts). */
  onProgress?: (bytes: number) => void;
}

/** A transfer that ended early; the next try resumes from what was written. */
export class ShortTransferError extends Error {}

export class ChecksumError extends PullError {}

export const INCOMPLETE_SUFFIX = '.incomplete';

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

function newHash(expected: Expected): Hash | undefined {
  if (expected.sha256) return createHash('sha256');
  if (expected.gitOid && expected.size !== undefined) return createHash('sha1').update(`blob ${expected.size}\0`);
  return undefined;
}

function announcedTotal(response: Response): number | undefined {
  const header = response.status === 206 ? /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1] : response.headers.get('content-length');
  return header ? Number(header) : undefined;
}

async function hashFile(hash: Hash, path: string, length?: number): Promise<void> {
  for await (const chunk of createReadStream(path, length === undefined ? {} : { end: length - 1 })) hash.update(chunk as Buffer);
}

/** One try: continues DEST.incomplete with a Range request when it holds bytes, hashing as it writes. */
async function transfer(options: DownloadOptions, partial: string): Promise<{ hash?: Hash; resumedFrom: number }> {
  const { expected } = options;
  let start = await sizeOf(partial);
  if (expected.size !== undefined && start > expected.size) {
    await truncate(partial, 0);
    start = 0;
  }
  const hash = newHash(expected);
  if (expected.size !== undefined && start === expected.size) {
    if (hash) await hashFile(hash, partial);
    return { hash, resumedFrom: start };
  }
  const { response } = await httpGet(options.url, { ...options, headers: start > 0 ? { range: `bytes=${start}-` } : {} });
  if (response.status === 416) {
    // What we hold does not fit the remote file: start over.
    await response.body?.cancel();
    await truncate(partial, 0);
    throw new ShortTransferError(`${options.name}: range not satisfiable; restarting`);
  }
  if (response.status !== 200 && response.status !== 206) {
    throw await statusError(response, options.describeStatus?.(response) ?? `${options.name}: GET ${redact(options.url)} answered HTTP ${response.status}`);
  }
  if (response.status === 206) {
    const from = Number(/^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1]);
    if (from !== start) {
      await response.body?.cancel();
      await truncate(partial, 0);
      throw new ShortTransferError(`${options.name}: asked for bytes from ${start}, got ${response.headers.get('content-range')}; restarting`);
    }
  } else {
    start = 0; // the server ignored Range
  }
  if (!response.body) throw new ShortTransferError(`${options.name}: empty response body`);
  if (start > 0) {
    options.logger.info({ file: options.name, fromByte: start }, 'resuming download');
    if (hash) await hashFile(hash, partial, start);
  }
  // Without a known size, the length the server announced is what a complete transfer delivers.
  const total = expected.size ?? announcedTotal(response);
  let written = start;
  options.onProgress?.(written);
  // Not stream.pipeline: on a dropped connection it would destroy the file stream and lose buffered bytes, and
  // the next try resumes from what is on disk. Ending the file stream in `finally` flushes them.
  const out = createWriteStream(partial, { flags: start > 0 ? 'a' : 'w' });
  const reader = (response.body as WebReadableStream<Uint8Array>).getReader();
  // Node 20's fetch can leave a body read pending for ever when its request is aborted mid-body (seen when a sibling
  // download fails): cancelling the reader ends the read.
  const stop = () => void reader.cancel(options.signal?.reason).catch(() => undefined);
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    if (options.signal?.aborted) stop();
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      hash?.update(chunk);
      written += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      options.onProgress?.(written);
    }
    options.signal?.throwIfAborted();
  } finally {
    options.signal?.removeEventListener('abort', stop);
    out.end();
    await finished(out);
  }
  if (total !== undefined && written !== total) {
    throw new ShortTransferError(`${options.name}: got ${written} of ${total} bytes`);
  }
  return { hash, resumedFrom: start };
}

/**
 * Downloads url to dest through dest.incomplete: resumable (Range), retried on transient failures, checked against
 * the expected size and digest, then renamed into place, so dest only ever exists complete and verified.
 */
export async function downloadFile(options: DownloadOptions): Promise<void> {
  const partial = options.dest + INCOMPLETE_SUFFIX;
  await mkdir(dirname(options.dest), { recursive: true });
  const { expected } = options;
  let restartedAfterMismatch = false;
  for (;;) {
    const { hash, resumedFrom } = await withRetries(`download ${options.name}`, options.retry, options.logger, options.signal, () => transfer(options, partial)).catch(
      (error: unknown) => {
        // Network failures that outlived the retries get the file's name; disk errors keep their code for the caller.
        if (error instanceof PullError || isDiskFull(error) || options.signal?.aborted) throw error;
        throw new PullError(`${options.name}: download failed after ${options.retry.attempts} tries: ${describeError(error)}`, { cause: error });
      },
    );
    const actual = hash?.digest('hex');
    const wanted = expected.sha256 ?? expected.gitOid;
    if (actual === undefined || actual === wanted) break;
    await unlink(partial).catch(() => undefined);
    // Bytes kept from an earlier run may belong to another version of the file: one fresh try before giving up.
    if (resumedFrom > 0 && !restartedAfterMismatch) {
      restartedAfterMismatch = true;
      options.logger.warn({ file: options.name }, 'checksum mismatch after resuming; downloading the whole file again');
      continue;
    }
    const algorithm = expected.sha256 ? 'sha256' : 'git blob sha1';
    throw new ChecksumError(`${options.name}: checksum mismatch (expected ${algorithm} ${wanted}, got ${actual}); the download was discarded`);
  }
  await rename(partial, options.dest);
}
