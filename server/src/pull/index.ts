// The pull entry points: pullModel (MODEL URI -> a verified pipeline in dir, or verified in place) and resolveModel
// (MODEL -> the local ONNX pipeline folder serve loads, pulled into and diffusers sources converted into cacheDir,
// ONNX exports with unfused UNet/VAE attention rewritten into cacheDir).
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { convertLogged, fuseExportLogged } from '../convert/command.js';
import { type ConvertDtype, isDiffusersPipeline } from '../convert/convert-pipeline.js';
import { hasFusedMarker, isOnnxExport } from '../convert/fuse-export.js';
import type { AttentionForm } from '../convert/graph.js';
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
  /** How that conversion writes attention (default fused). */
  attention?: AttentionForm;
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
      return pullHf(source, resolve(dir), await contextFrom(options), options.dtype, options.attention);
    case 'archive':
      return pullArchive(source, resolve(dir), await contextFrom(options));
    default:
      if (isDiffusersPipeline(source.path)) {
        // A diffusers folder (local or on a claim) is converted into dir; nothing when the conversion there is current.
        const report = convertLogged(source.path, resolve(dir), options.dtype ?? 'fp32', options.logger, options.attention ?? 'fused');
        return { dir: report.out, downloaded: false, converted: report.converted };
      }
      await verifyPipelineDir(source.path, model);
      options.logger.info({ model, dir: source.path }, 'pipeline verified in place; nothing downloaded');
      return { dir: resolve(source.path), downloaded: false };
  }
}

/** cacheDir/converted/NAME-ID-WHAT: one folder per source path (ID: a hash of its absolute path) and `what`. */
function derivedDir(cacheDir: string, sourceDir: string, what: string): string {
  const id = createHash('sha256').update(resolve(sourceDir)).digest('hex').slice(0, 12);
  return join(resolve(cacheDir), 'converted', `${basename(resolve(sourceDir))}-${id}-${what}`);
}

/** Where a local diffusers folder is converted to: one folder per source path and dtype under cacheDir/converted. */
export const convertedDir = (cacheDir: string, sourceDir: string, dtype: ConvertDtype): string => derivedDir(cacheDir, sourceDir, dtype);

/** Where an ONNX export's fused copy goes: one folder per export path under cacheDir/converted. */
export const fusedDir = (cacheDir: string, exportDir: string): string => derivedDir(cacheDir, exportDir, 'fused-attention');

/**
 * The folder to load for the ONNX export `dir`: with fused attention, a copy in cacheDir whose unfused UNet/VAE
 * attention is rewritten (fuseExport; once: later starts find it current), or `dir` itself when it is HyperGen's own
 * fused output, when nothing in it can be fused, or when the rewrite fails (logged; the export still loads as it is).
 */
function withFusedAttention(dir: string, options: { cacheDir: string; logger: Logger; attention?: AttentionForm }): string {
  if (options.attention === 'plain' || !isOnnxExport(dir) || hasFusedMarker(dir)) return dir;
  try {
    return fuseExportLogged(dir, fusedDir(options.cacheDir, dir), options.logger, { onlyIfFused: true }).out;
  } catch (error) {
    options.logger.warn({ err: error, dir }, 'attention fusion failed; the export is loaded as it is');
    return dir;
  }
}

/**
 * The local pipeline folder for MODEL; model URIs are pulled into their own folder under cacheDir first. A local
 * diffusers pipeline (safetensors, no ONNX) or a diffusers hf:// repository is converted once into cacheDir
 * (`convertDtype`, default fp32; `attention`, default fused); later starts find the conversion current and convert
 * nothing. An ONNX export whose UNet/VAE attention is unfused gets a fused copy in cacheDir (unless attention is plain).
 */
export async function resolveModel(
  model: string,
  options: { cacheDir: string; logger: Logger; signal?: AbortSignal; convertDtype?: ConvertDtype; attention?: AttentionForm },
): Promise<string> {
  const source = parseModelSource(model, process.env.HYPERGEN_PVC_ROOT || DEFAULT_PVC_ROOT);
  if ((source.kind === 'path' || source.kind === 'pvc') && isDiffusersPipeline(source.path)) {
    const dtype = options.convertDtype ?? 'fp32';
    return convertLogged(source.path, convertedDir(options.cacheDir, source.path, dtype), dtype, options.logger, options.attention ?? 'fused').out;
  }
  const dir = source.kind === 'hf' || source.kind === 'archive' ? join(resolve(options.cacheDir), cacheKey(source)) : '';
  return withFusedAttention((await pullModel(model, dir, { ...options, dtype: options.convertDtype })).dir, options);
}
