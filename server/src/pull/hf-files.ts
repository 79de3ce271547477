// Files of one listed Hub revision into a local folder: resumable verified downloads in parallel, reuse of what an
// earlier complete pull verified, the free-space check before the transfer, ranged reads of file heads, stale files.
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompletionMarker } from './cache.js';
import type { PullContext } from './context.js';
import { downloadFile, INCOMPLETE_SUFFIX } from './download.js';
import { isDiskFull, PullError } from './errors.js';
import { httpGet, statusError } from './http.js';
import { checkResolveHeaders, describeHubError, resolveUrl, type RemoteFile, type RevisionInfo } from './hub.js';
import { formatBytes } from './progress.js';
import { withRetries } from './retry.js';
import { isSafeRelativePath, type ModelSource } from './uri.js';

export type HfSource = Extract<ModelSource, { kind: 'hf' }>;

export const describeHf = (s: HfSource) => `hf://${s.repo}@${s.revision}${s.subfolder ? `/${s.subfolder}` : ''}`;

/** One listed revision being pulled: what it is, its files (paths relative to the subfolder) and how to fetch them. */
export interface HfRun {
  readonly source: HfSource;
  /** hf://repo@revision[/subfolder], for messages. */
  readonly where: string;
  /** The marker's source id (endpoint, repo, revision, subfolder). */
  readonly id: string;
  readonly ctx: PullContext;
  readonly info: RevisionInfo;
  readonly remote: ReadonlyMap<string, RemoteFile>;
}

/** Files of the listing under the subfolder, with paths relative to it. */
export function filesUnder(info: RevisionInfo, subfolder: string): RemoteFile[] {
  const prefix = subfolder ? `${subfolder}/` : '';
  return info.files
    .filter((f) => f.path.startsWith(prefix))
    .map((f) => ({ ...f, path: f.path.slice(prefix.length) }))
    .filter((f) => isSafeRelativePath(f.path));
}

const repoPath = (run: HfRun, file: RemoteFile) => (run.source.subfolder ? `${run.source.subfolder}/${file.path}` : file.path);

/** Downloads one listed file to root/path (resumable, checked against the listing's size and digest). */
export function fetchFile(run: HfRun, file: RemoteFile, root: string, signal?: AbortSignal, onProgress?: (bytes: number) => void): Promise<void> {
  const { hub, logger } = run.ctx;
  const hubOrigin = new URL(hub.endpoint).origin;
  const path = repoPath(run, file);
  return downloadFile({
    url: resolveUrl(hub, run.source.repo, run.info.commit, path),
    dest: join(root, file.path),
    name: file.path,
    expected: file,
    token: hub.token,
    authOrigin: hubOrigin,
    signal,
    retry: run.ctx.retry,
    logger,
    inspect: (response, url) => {
      if (url.origin === hubOrigin && response.status < 400) checkResolveHeaders(response, file, run.info.commit, file.path);
    },
    describeStatus: (response) => describeHubError(response, hub, run.source.repo, run.source.revision, path),
    onProgress,
  });
}

/** Bytes start..end (inclusive) of a listed file, through the same resolve URL and redirects as a download. */
export function readRange(run: HfRun, file: RemoteFile, start: number, end: number): Promise<Buffer> {
  const { hub, logger } = run.ctx;
  const path = repoPath(run, file);
  return withRetries(`read ${file.path}`, run.ctx.retry, logger, run.ctx.signal, async () => {
    const { response } = await httpGet(resolveUrl(hub, run.source.repo, run.info.commit, path), {
      headers: { range: `bytes=${start}-${end}` },
      token: hub.token,
      authOrigin: new URL(hub.endpoint).origin,
      signal: run.ctx.signal,
    });
    if (response.status !== 200 && response.status !== 206) {
      throw await statusError(response, describeHubError(response, hub, run.source.repo, run.source.revision, path));
    }
    // A server that ignores Range sends the whole file from byte 0: keep the part asked for and stop reading.
    const skip = response.status === 200 ? start : 0;
    const wanted = end - start + 1;
    const chunks: Buffer[] = [];
    let have = 0;
    const reader = response.body!.getReader();
    while (have < skip + wanted) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      have += value.length;
    }
    await reader.cancel().catch(() => undefined);
    return Buffer.concat(chunks).subarray(skip, skip + wanted);
  });
}

/** Runs work over items, at most `concurrency` at a time; the first failure stops the rest and is rethrown. */
export async function runPool<T>(items: readonly T[], concurrency: number, signal: AbortSignal | undefined, work: (item: T, signal: AbortSignal) => Promise<void>) {
  const controller = new AbortController();
  const forward = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', forward, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  signal?.removeEventListener('abort', forward);
  if (failure) throw failure.error;
}

/** Files a previous complete pull of the same source verified, still on disk with the same content id and size. */
export async function reusable(dir: string, previous: CompletionMarker | undefined, file: RemoteFile): Promise<boolean> {
  const old = previous?.files.find((f) => f.path === file.path);
  if (!old || old.size !== file.size || (old.sha256 ?? old.gitOid) !== (file.sha256 ?? file.gitOid)) return false;
  return stat(join(dir, file.path)).then((s) => s.size === file.size, () => false);
}

export interface DownloadPlan {
  /** Every file the folder must hold when done. */
  readonly selected: readonly RemoteFile[];
  /** Those already fetched by this run (small files read before deciding). */
  readonly fetched: ReadonlySet<string>;
  /** The previous marker of this source in dir, whose files may be reused. */
  readonly previous?: CompletionMarker;
  /** Bytes needed on dir's file system beyond the downloads (a conversion's output), with what they are for. */
  readonly extra?: { bytes: number; what: string };
}

/**
 * Brings dir to hold exactly plan.selected: checks free space first, downloads what is neither fetched nor reusable
 * (largest first, with progress), then removes files the previous pull had and this one does not. The marker is the
 * caller's to write once it has verified the result.
 */
export async function downloadInto(run: HfRun, dir: string, plan: DownloadPlan): Promise<{ files: number; bytes: number }> {
  const { ctx, where } = run;
  const keep = await Promise.all(plan.selected.map((f) => plan.fetched.has(f.path) || reusable(dir, plan.previous, f)));
  const todo = plan.selected.filter((_, i) => !keep[i]);
  const totalBytes = todo.reduce((sum, f) => sum + f.size, 0);
  const partialBytes = await Promise.all(todo.map((f) => stat(join(dir, f.path + INCOMPLETE_SUFFIX)).then((s) => Math.min(s.size, f.size), () => 0)));
  const extra = plan.extra?.bytes ?? 0;
  const needed = totalBytes - partialBytes.reduce((a, b) => a + b, 0) + extra;
  const free = await ctx.freeBytes(dir);
  if (free < needed) {
    const why = plan.extra ? ` (${formatBytes(needed - extra)} to download, ${formatBytes(extra)} for ${plan.extra.what})` : '';
    throw new PullError(`disk full: ${where} needs ${formatBytes(needed)} more in ${dir}${why} and only ${formatBytes(free)} is free`);
  }
  ctx.progress.start(todo.length, totalBytes);
  try {
    // Largest first, so that the long transfers overlap the many small ones.
    await runPool([...todo].sort((a, b) => b.size - a.size), ctx.concurrency, ctx.signal, async (file, signal) => {
      await fetchFile(run, file, dir, signal, (bytes) => ctx.progress.update(file.path, bytes));
      ctx.progress.fileDone(file.path, file.size);
    });
  } catch (error) {
    if (isDiskFull(error)) {
      throw new PullError(`disk full while writing into ${dir}: ${where} needs ${formatBytes(needed)} more than was there at the start (${formatBytes(totalBytes)} in ${todo.length} files); free space or use a larger volume`);
    }
    throw error;
  } finally {
    ctx.progress.finish();
  }
  // Files an earlier revision had and this one does not.
  const current = new Set(plan.selected.map((f) => f.path));
  await Promise.all((plan.previous?.files ?? []).filter((f) => !current.has(f.path)).map((f) => unlink(join(dir, f.path)).catch(() => undefined)));
  return { files: todo.length, bytes: totalBytes };
}
