// hf://org/name[@rev]: a revision with a complete Optimum ONNX export is pulled as it is; a diffusers-format one is
// handed to pullDiffusers (download what conversion needs, convert). Complete local copies are reused.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MARKER_FILE as CONVERT_MARKER } from '../convert/convert-pipeline.js';
import type { ConvertDtype } from '../convert/convert-pipeline.js';
import type { AttentionForm } from '../convert/graph.js';
import { isIntact, readMarker, removeMarker, writeMarker, type CompletionMarker } from './cache.js';
import type { PullContext, PullResult } from './context.js';
import { convertSource, isDiffusersListing, pullDiffusers, sourceDirFor } from './diffusers.js';
import { PullError } from './errors.js';
import { describeHf, downloadInto, fetchFile, filesUnder, type HfRun, type HfSource } from './hf-files.js';
import { getRevision, type RevisionInfo } from './hub.js';
import { isNeededFile, missingFiles, neededComponents, notAPipeline, parseModelIndex, verifyPipelineDir } from './pipeline.js';
import { isRetryable, withRetries } from './retry.js';

/** dir's marker when it records this source and its files are all there. */
async function completeCopy(dir: string, id: string): Promise<CompletionMarker | undefined> {
  const marker = await readMarker(dir);
  return marker?.source === id && (await isIntact(dir, marker)) ? marker : undefined;
}

/**
 * Pulls a Hub revision into dir: lists it, checks it is a pipeline before fetching anything large, then either
 * downloads the ONNX export's needed files (parallel, resumable, verified) and writes the marker, or, for a diffusers
 * repository, downloads what conversion needs next to dir and converts into dir (`dtype`).
 */
export async function pullHf(source: HfSource, dir: string, ctx: PullContext, dtype: ConvertDtype = 'fp32', attention: AttentionForm = 'fused'): Promise<PullResult> {
  const { hub, logger } = ctx;
  const where = describeHf(source);
  // The endpoint is part of the identity: a mirror's copy is not the Hub's.
  const id = `${hub.endpoint}/${source.repo}@${source.revision}${source.subfolder ? `:${source.subfolder}` : ''}`;
  await mkdir(dir, { recursive: true });
  const sourceDir = sourceDirFor(dir);
  const onnx = await completeCopy(dir, id);
  // A diffusers download is complete for this dtype when its weights were chosen for it (offline: whatever is there).
  const diffusers = await completeCopy(sourceDir, id).then((m) => (m?.variant === dtype || ctx.offline ? m : undefined));
  const cacheHit = (why: string): PullResult => {
    logger.info({ model: where, dir, commit: onnx!.commit, why }, 'model already complete; nothing downloaded');
    return { dir, commit: onnx!.commit, downloaded: false };
  };
  const converted = (why: string): PullResult => {
    logger.info({ model: where, dir, commit: diffusers!.commit, why }, 'diffusers weights already complete; nothing downloaded');
    return convertSource(sourceDir, dir, dtype, attention, { uri: where, commit: diffusers!.commit }, logger, false);
  };
  const pinned = (m: CompletionMarker | undefined) => m && (ctx.offline || m.commit === source.revision);
  if (pinned(onnx)) return cacheHit(ctx.offline ? 'HF_HUB_OFFLINE' : 'pinned commit');
  if (pinned(diffusers)) return converted(ctx.offline ? 'HF_HUB_OFFLINE' : 'pinned commit');
  if (ctx.offline) throw new PullError(`HF_HUB_OFFLINE is set and ${dir} holds no complete copy of ${where}`);

  let info: RevisionInfo;
  try {
    info = await getRevisionWithRetries(source, ctx);
  } catch (error) {
    if ((onnx || diffusers) && isRetryable(error)) {
      logger.warn({ model: where, err: (error as Error).message }, 'the Hub is unreachable; using the complete local copy');
      return onnx ? cacheHit('hub unreachable') : converted('hub unreachable');
    }
    throw error;
  }
  if (onnx?.commit === info.commit) return cacheHit('same commit');
  if (diffusers?.commit === info.commit) return converted('same commit');

  const remote = new Map(filesUnder(info, source.subfolder).map((f) => [f.path, f]));
  const index = remote.get('model_index.json');
  if (!index) throw notAPipeline(where, missingFiles(new Set(remote.keys()), undefined));
  const run: HfRun = { source, where, id, ctx, info, remote };
  if (isDiffusersListing(remote)) return pullDiffusers(run, dir, dtype, attention);
  logger.info({ model: where, commit: info.commit, dir, files: remote.size }, 'pulling model');

  // A conversion (and its source) from an earlier diffusers revision is replaced by the export.
  if (existsSync(join(dir, CONVERT_MARKER))) await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir, { recursive: true }));
  await rm(sourceDir, { recursive: true, force: true });
  const previous = await readMarker(dir).then((m) => (m?.source === id ? m : undefined));
  await removeMarker(dir);

  // model_index.json says which components the rest of the listing must provide.
  await fetchFile(run, index, dir, ctx.signal);
  const modelIndex = parseModelIndex(await readFile(join(dir, 'model_index.json'), 'utf8'), where);
  const components = neededComponents(modelIndex);
  const selected = [...remote.values()].filter((f) => isNeededFile(f.path, components));
  const missing = missingFiles(new Set(selected.map((f) => f.path)), modelIndex);
  if (missing.length > 0) throw notAPipeline(where, missing);

  const { bytes } = await downloadInto(run, dir, { selected, fetched: new Set([index.path]), previous });
  await verifyPipelineDir(dir, where);
  await writeMarker(dir, { source: id, commit: info.commit, files: selected.map(({ path, size, sha256, gitOid }) => ({ path, size, sha256, gitOid })) });
  logger.info({ model: where, commit: info.commit, dir, files: selected.length, bytes }, 'model pulled');
  return { dir, commit: info.commit, downloaded: true };
}

function getRevisionWithRetries(source: HfSource, ctx: PullContext): Promise<RevisionInfo> {
  return withRetries(`list ${describeHf(source)}`, ctx.retry, ctx.logger, ctx.signal, () => getRevision(ctx.hub, source.repo, source.revision, ctx.signal));
}
