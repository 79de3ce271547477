import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isIntact, readMarker, removeMarker, writeMarker, type CompletionMarker } from './cache.js';
import type { PullContext, PullResult } from './context.js';
import { downloadFile, INCOMPLETE_SUFFIX } from './download.js';
import { isDiskFull, PullError } from './errors.js';
import { checkResolveHeaders, describeHubError, getRevision, resolveUrl, type RemoteFile, type RevisionInfo } from './hub.js';
import { isNeededFile, missingFiles, neededComponents, notAPipeline, parseModelIndex, verifyPipelineDir } from './pipeline.js';
import { formatBytes } from './progress.js';
import { isRetryable, withRetries } from './retry.js';
import { isSafeRelativePath, type ModelSource } from './uri.js';

type HfSource = Extract<ModelSource, { kind: 'hf' }>;

export const describeHf = (s: HfSource) => `hf://${s.repo}@${s.revision}${s.subfolder ? `/${s.subfolder}` : ''}`;

/** Runs work over items, at most `concurrency` at a time; the first failure stops the rest and is rethrown. */
async function runPool<T>(items: readonly T[], concurrency: number, signal: AbortSignal | undefined, work: (item: T, signal: AbortSignal) => Promise<void>) {
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

/** Files of the listing under the subfolder, with paths relative to it. */
function filesUnder(info: RevisionInfo, subfolder: string): RemoteFile[] {
  const prefix = subfolder ? `${subfolder}/` : '';
  return info.files
    .filter((f) => f.path.startsWith(prefix))
    .map((f) => ({ ...f, path: f.path.slice(prefix.length) }))
    .filter((f) => isSafeRelativePath(f.path));
}

/** Files a previous complete pull of the same source verified, still on disk with the same content id and size. */
async function reusable(dir: string, previous: CompletionMarker | undefined, file: RemoteFile): Promise<boolean> {
  const old = previous?.files.find((f) => f.path === file.path);
  if (!old || old.size !== file.size || (old.sha256 ?? old.gitOid) !== (file.sha256 ?? file.gitOid)) return false;
  return stat(join(dir, file.path)).then((s) => s.size === file.size, () => false);
}

/**
 * Pulls the ONNX pipeline part of a Hub repository into dir: lists the revision, checks it is a pipeline before
 * fetching anything large, downloads the needed files in parallel (resumable, verified), then writes the marker.
 */
export async function pullHf(source: HfSource, dir: string, ctx: PullContext): Promise<PullResult> {
  const { hub, logger } = ctx;
  const where = describeHf(source);
  // The endpoint is part of the identity: a mirror's copy is not the Hub's.
  const id = `${hub.endpoint}/${source.repo}@${source.revision}${source.subfolder ? `:${source.subfolder}` : ''}`;
  await mkdir(dir, { recursive: true });
  const previous = await readMarker(dir).then((m) => (m?.source === id ? m : undefined));
  const cached = previous && (await isIntact(dir, previous)) ? previous : undefined;
  const cacheHit = (why: string): PullResult => {
    logger.info({ model: where, dir, commit: cached!.commit, why }, 'model already complete; nothing downloaded');
    return { dir, commit: cached!.commit, downloaded: false };
  };
  if (cached && (ctx.offline || cached.commit === source.revision)) return cacheHit(ctx.offline ? 'HF_HUB_OFFLINE' : 'pinned commit');
  if (ctx.offline) throw new PullError(`HF_HUB_OFFLINE is set and ${dir} holds no complete copy of ${where}`);

  let info: RevisionInfo;
  try {
    info = await getRevisionWithRetries(source, ctx);
  } catch (error) {
    if (cached && isRetryable(error)) {
      logger.warn({ model: where, err: (error as Error).message }, 'the Hub is unreachable; using the complete local copy');
      return cacheHit('hub unreachable');
    }
    throw error;
  }
  if (cached?.commit === info.commit) return cacheHit('same commit');

  const remote = new Map(filesUnder(info, source.subfolder).map((f) => [f.path, f]));
  const index = remote.get('model_index.json');
  if (!index) throw notAPipeline(where, missingFiles(new Set(remote.keys()), undefined));
  logger.info({ model: where, commit: info.commit, dir, files: remote.size }, 'pulling model');

  await removeMarker(dir);
  const fetchFile = (file: RemoteFile, signal?: AbortSignal) => {
    const repoPath = source.subfolder ? `${source.subfolder}/${file.path}` : file.path;
    const hubOrigin = new URL(hub.endpoint).origin;
    return downloadFile({
      url: resolveUrl(hub, source.repo, info.commit, repoPath),
      dest: join(dir, file.path),
      name: file.path,
      expected: file,
      token: hub.token,
      authOrigin: hubOrigin,
      signal,
      retry: ctx.retry,
      logger,
      inspect: (response, url) => {
        if (url.origin === hubOrigin && response.status < 400) checkResolveHeaders(response, file, info.commit, file.path);
      },
      describeStatus: (response) => describeHubError(response, hub, source.repo, source.revision, repoPath),
      onProgress: file === index ? undefined : (bytes) => ctx.progress.update(file.path, bytes),
    });
  };

  // model_index.json says which components the rest of the listing must provide.
  await fetchFile(index, ctx.signal);
  const modelIndex = parseModelIndex(await readFile(join(dir, 'model_index.json'), 'utf8'), where);
  const components = neededComponents(modelIndex);
  const selected = [...remote.values()].filter((f) => isNeededFile(f.path, components));
  const missing = missingFiles(new Set(selected.map((f) => f.path)), modelIndex);
  if (missing.length > 0) throw notAPipeline(where, missing);

  const keep = await Promise.all(selected.map((f) => f === index || reusable(dir, previous, f)));
  const todo = selected.filter((_, i) => !keep[i]);
  const totalBytes = todo.reduce((sum, f) => sum + f.size, 0);
  const partialBytes = await Promise.all(todo.map((f) => stat(join(dir, f.path + INCOMPLETE_SUFFIX)).then((s) => Math.min(s.size, f.size), () => 0)));
  const needed = totalBytes - partialBytes.reduce((a, b) => a + b, 0);
  const free = await ctx.freeBytes(dir);
  if (free < needed) {
    throw new PullError(`disk full: ${where} needs ${formatBytes(needed)} more in ${dir} and only ${formatBytes(free)} is free`);
  }

  ctx.progress.start(todo.length, totalBytes);
  try {
    // Largest first, so that the long transfers overlap the many small ones.
    await runPool([...todo].sort((a, b) => b.size - a.size), ctx.concurrency, ctx.signal, async (file, signal) => {
      await fetchFile(file, signal);
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
  const current = new Set(selected.map((f) => f.path));
  await Promise.all((previous?.files ?? []).filter((f) => !current.has(f.path)).map((f) => unlink(join(dir, f.path)).catch(() => undefined)));
  await verifyPipelineDir(dir, where);
  await writeMarker(dir, { source: id, commit: info.commit, files: selected.map(({ path, size, sha256, gitOid }) => ({ path, size, sha256, gitOid })) });
  logger.info({ model: where, commit: info.commit, dir, files: selected.length, bytes: totalBytes }, 'model pulled');
  return { dir, commit: info.commit, downloaded: true };
}

function getRevisionWithRetries(source: HfSource, ctx: PullContext): Promise<RevisionInfo> {
  return withRetries(`list ${describeHf(source)}`, ctx.retry, ctx.logger, ctx.signal, () => getRevision(ctx.hub, source.repo, source.revision, ctx.signal));
}
