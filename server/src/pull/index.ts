// The pull entry points: pullModel (MODEL URI -> a verified pipeline in dir, or verified in place) and resolveModel
// (MODEL -> the local ONNX pipeline folder serve loads, pulled into and diffusers sources converted into cacheDir).
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { convertLogged } from '../convert/command.js';
import { type ConvertDtype, isDiffusersPipeline } from '../convert/convert-pipeline.js';
import { pullArchive } from './archive.js';
import { statfsFreeBytes, type PullContext, type PullResult } from './context.js';
import { pullHf } from './hf.js';
import { verifyPipelineDir } from './pipeline.js';
import { Progress } from './progress.js';
import { DEFAULT_RETRY } from './retry.js';
import { readToken } from './token.js';
import { cacheKey, DEFAULT_PVC_ROOT, parseModelSource } from './uri.js';

export { isModelUri } from './uri.js';
export { PullError } from './errors.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface PullOptions {
  logger: Logger;
  signal?: AbortSignal;
  /** --token-file; otherwise HF_TOKEN, then HF_TOKEN_FILE. */
  tokenFile?: string;
  concurrency?: number;
  /** The precision a diffusers repository is converted to (default fp32); ONNX exports are used as they are. */
  dtype?: ConvertDtype;
  env?: NodeJS.ProcessEnv;
  /** Overrides for tests: retry pacing, free-space probe. */
  context?: Partial<Pick<PullContext, 'retry' | 'freeBytes'>>;
}

/**
 * The environment a pull reads: HF_ENDPOINT (a mirror or test hub), HF_TOKEN / HF_TOKEN_FILE, HF_HUB_OFFLINE=1,
 * and HYPERGEN_PVC_ROOT (where pvc://CLAIM/path claims are mounted, default /models).
 */
async function contextFrom(options: PullOptions): Promise<PullContext> {
  const env = options.env ?? process.env;
  return {
    hub: { endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ''), token: await readToken(options.tokenFile, env) },
    logger: options.logger,
    progress: new Progress(options.logger, process.stderr.isTTY ? process.stderr : undefined),
    retry: options.context?.retry ?? DEFAULT_RETRY,
    concurrency: options.concurrency ?? 4,
    offline: ['1', 'true', 'yes', 'on'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase()),
    signal: options.signal,
    freeBytes: options.context?.freeBytes ?? statfsFreeBytes,
  };
}

/**
 * `hypergen pull`: hf:// and https:// archives are downloaded into dir (a complete copy is kept, not fetched
 * again; a diffusers-format hf:// repository is downloaded next to dir and converted into it for options.dtype);
 * pvc:// and plain ONNX folders are verified where they are and dir is not used; diffusers folders are converted into dir.
 */
export async function pullModel(model: string, dir: string, options: PullOptions): Promise<PullResult> {
  const env = options.env ?? process.env;
  const source = parseModelSource(model, env.HYPERGEN_PVC_ROOT || DEFAULT_PVC_ROOT);
  switch (source.kind) {
    case 'hf':
      return pullHf(source, resolve(dir), await contextFrom(options), options.dtype);
    case 'archive':
      return pullArchive(source, resolve(dir), await contextFrom(options));
    default:
      if (isDiffusersPipeline(source.path)) {
        // A diffusers folder (local or on a claim) is converted into dir; nothing when the conversion there is current.
        const report = convertLogged(source.path, resolve(dir), options.dtype ?? 'fp32', options.logger);
        return { dir: report.out, downloaded: false, converted: report.converted };
      }
      await verifyPipelineDir(source.path, model);
      options.logger.info({ model, dir: source.path }, 'pipeline verified in place; nothing downloaded');
      return { dir: resolve(source.path), downloaded: false };
  }
}

/** Where a local diffusers folder is converted to: one folder per source path and dtype under cacheDir/converted. */
export function convertedDir(cacheDir: string, sourceDir: string, dtype: ConvertDtype): string {
  const id = createHash('sha256').update(resolve(sourceDir)).digest('hex').slice(0, 12);
  return join(resolve(cacheDir), 'converted', `${basename(resolve(sourceDir))}-${id}-${dtype}`);
}

/**
 * The local pipeline folder for MODEL; model URIs are pulled into their own folder under cacheDir first. A local
 * diffusers pipeline (safetensors, no ONNX) or a diffusers hf:// repository is converted once into cacheDir
 * (`convertDtype`, default fp32); later starts find the conversion current and convert nothing.
 */
export async function resolveModel(
  model: string,
  options: { cacheDir: string; logger: Logger; signal?: AbortSignal; convertDtype?: ConvertDtype },
): Promise<string> {
  const source = parseModelSource(model, process.env.HYPERGEN_PVC_ROOT || DEFAULT_PVC_ROOT);
  if ((source.kind === 'path' || source.kind === 'pvc') && isDiffusersPipeline(source.path)) {
    const dtype = options.convertDtype ?? 'fp32';
    return convertLogged(source.path, convertedDir(options.cacheDir, source.path, dtype), dtype, options.logger).out;
  }
  const dir = source.kind === 'hf' || source.kind === 'archive' ? join(resolve(options.cacheDir), cacheKey(source)) : '';
  return (await pullModel(model, dir, { ...options, dtype: options.convertDtype })).dir;
}
