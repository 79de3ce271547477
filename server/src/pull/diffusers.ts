// A diffusers-format Hub revision pulled for conversion: model_index.json first (the pipeline class checked), then the
// used components' configs (the architecture checked by the converter's own readers), then every chosen safetensors
// header by ranged reads (a truncated or corrupt file is named before any weights are fetched), then only those
// weights with the tokenizer and scheduler files, into a hidden sibling of dir; then converted into dir. The source
// marker (commit, variant) and the converter's marker (fingerprint, options) make a restart download and convert nothing.
import { existsSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { pipelineFamily, readArchitecture, readJson } from '../convert/architecture.js';
import { convertLogged } from '../convert/command.js';
import {
  type CheckpointFolder,
  chooseCheckpoint,
  type ConvertDtype,
  type ConvertOrigin,
  isDiffusersLayout,
  MARKER_FILE as CONVERT_MARKER,
  outputComponents,
  sourceFolder,
} from '../convert/convert-pipeline.js';
import { MissingFileError } from '../convert/errors.js';
import type { AttentionForm } from '../convert/graph.js';
import { headerLength, parseHeader } from '../convert/safetensors.js';
import { MARKER_FILE, readMarker, removeMarker, writeMarker } from './cache.js';
import type { PullResult } from './context.js';
import { downloadInto, fetchFile, type HfRun, readRange, reusable, runPool } from './hf-files.js';
import type { RemoteFile } from './hub.js';

/** Where the diffusers files of a pull into dir are kept (a sibling, since a conversion replaces dir as a whole). */
export function sourceDirFor(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.hypergen-diffusers`);
}

/** A listing in the diffusers layout (weights are looked at later, so that pickle-only repositories are named). */
export function isDiffusersListing(remote: ReadonlyMap<string, RemoteFile>): boolean {
  return isDiffusersLayout((path) => remote.has(path));
}

/** Tokenizer files (vocabulary, merges, configs); the engine builds tokenizer.json from vocab.json + merges.txt. */
const TOKENIZER_FILE = /^[^/]+\.(json|txt)$/;

/** Bytes per parameter of the converted graphs: float16 for fp16 text encoders and UNet; the VAE may stay float32. */
const outputBytesPerParameter = (folder: string, dtype: ConvertDtype) => (dtype === 'fp16' && folder !== 'vae' ? 2 : 4);

/** Converts the downloaded source into dir (nothing when the converter's marker is current). */
export function convertSource(
  sourceDir: string,
  dir: string,
  dtype: ConvertDtype,
  attention: AttentionForm,
  origin: ConvertOrigin,
  logger: Logger,
  downloaded: boolean,
): PullResult {
  // dir last held an ONNX export pulled as it is: that folder is pull's own to replace.
  if (!existsSync(join(dir, CONVERT_MARKER)) && existsSync(join(dir, MARKER_FILE))) rmSync(dir, { recursive: true, force: true });
  const report = convertLogged(sourceDir, dir, dtype, logger, attention, origin);
  return { dir, commit: origin.commit, downloaded, converted: report.converted };
}

/** The listed files directly inside a folder, by name. */
function namesIn(remote: ReadonlyMap<string, RemoteFile>, folder: string): string[] {
  return [...remote.keys()].filter((p) => p.startsWith(`${folder}/`) && !p.slice(folder.length + 1).includes('/')).map((p) => p.slice(folder.length + 1));
}

/** Validates a remote safetensors file's header against its listed size; returns its parameter count. */
async function checkHeader(run: HfRun, file: RemoteFile): Promise<number> {
  const at = `${run.where}/${file.path}`;
  const prefix = file.size >= 8 ? await readRange(run, file, 0, 7) : Buffer.alloc(0);
  const n = headerLength(at, file.size, prefix);
  const { tensors } = parseHeader(at, file.size, await readRange(run, file, 8, 8 + n - 1));
  let parameters = 0;
  for (const t of tensors.values()) parameters += t.shape.reduce((a, b) => a * b, 1);
  return parameters;
}

/** Pulls what converting this diffusers revision for `dtype` needs, next to dir, and converts it into dir. */
export async function pullDiffusers(run: HfRun, dir: string, dtype: ConvertDtype, attention: AttentionForm = 'fused'): Promise<PullResult> {
  const { ctx, where, remote, info } = run;
  const { logger } = ctx;
  const sourceDir = sourceDirFor(dir);
  await mkdir(sourceDir, { recursive: true });
  const previous = await readMarker(sourceDir).then((m) => (m?.source === run.id ? m : undefined));
  await removeMarker(sourceDir);
  logger.info({ model: where, commit: info.commit, dir, sourceDir, dtype }, 'pulling diffusers pipeline for conversion');

  const fetched = new Set<string>();
  // Files the previous pull verified and this commit lists unchanged stay as they are (their times too, so that a
  // commit that changed nothing the converter reads leaves the conversion current).
  const fetchSmall = async (paths: readonly string[]) => {
    await runPool(paths, ctx.concurrency, ctx.signal, async (path, signal) => {
      if (!(await reusable(sourceDir, previous, remote.get(path)!))) await fetchFile(run, remote.get(path)!, sourceDir, signal);
    });
    for (const path of paths) fetched.add(path);
  };
  const need = (path: string, what: string) => {
    if (!remote.has(path)) throw new MissingFileError(`${where}/${path}`, what);
    return path;
  };

  // 1. The pipeline class, from model_index.json alone.
  await fetchSmall(['model_index.json']);
  const family = pipelineFamily(readJson(join(sourceDir, 'model_index.json'), 'diffusers pipeline'), where);

  // 2. The configs the converter reads, the tokenizer and scheduler files, and the weights' shard indexes: small files.
  const components = outputComponents(family);
  const folders = [...new Set(components.map(sourceFolder))];
  const tokenizers = family === 'sdxl' ? ['tokenizer', 'tokenizer_2'] : ['tokenizer'];
  const small = [
    ...folders.map((f) => need(`${f}/config.json`, `${f} config`)),
    need('scheduler/scheduler_config.json', 'scheduler config'),
    ...tokenizers.flatMap((t) => {
      const names = namesIn(remote, t).filter((n) => TOKENIZER_FILE.test(n));
      if (!names.includes('tokenizer.json')) for (const n of ['vocab.json', 'merges.txt']) if (!names.includes(n)) need(`${t}/${n}`, `${t} file`);
      return names.map((n) => `${t}/${n}`);
    }),
    ...folders.flatMap((f) => namesIn(remote, f).filter((n) => n.endsWith('.safetensors.index.json')).map((n) => `${f}/${n}`)),
  ];
  await fetchSmall(small);

  // 3. The architecture, by the converter's own checks, before any weights.
  readArchitecture(sourceDir, where);

  // 4. The weight files the converter will read, chosen as it chooses them, and their headers.
  const weights = new Set<string>();
  for (const component of components) {
    const folder = sourceFolder(component);
    const view: CheckpointFolder = {
      names: namesIn(remote, folder),
      readIndex: (name) => readJson(join(sourceDir, folder, name), `${folder} weight index`),
      at: (name) => `${where}/${folder}${name ? `/${name}` : ''}`,
    };
    for (const name of chooseCheckpoint(view, component, dtype)) weights.add(`${folder}/${name}`);
  }
  // The conversion writes the graphs and copies the tokenizer and scheduler files.
  let outputBytes = small.filter((p) => /^(tokenizer|scheduler)/.test(p)).reduce((sum, p) => sum + remote.get(p)!.size, 0);
  await runPool([...weights], ctx.concurrency, ctx.signal, async (path) => {
    const parameters = await checkHeader(run, remote.get(path)!);
    outputBytes += parameters * outputBytesPerParameter(path.split('/')[0]!, dtype);
  });

  // 5. Only those weights, then the marker for this commit and variant.
  const selected = [...new Set(['model_index.json', ...small, ...weights])].map((p) => remote.get(p)!);
  const { bytes } = await downloadInto(run, sourceDir, { selected, fetched, previous, extra: { bytes: outputBytes, what: `the ${dtype} conversion` } });
  await writeMarker(sourceDir, {
    source: run.id,
    commit: info.commit,
    variant: dtype,
    files: selected.map(({ path, size, sha256, gitOid }) => ({ path, size, sha256, gitOid })),
  });
  const total = selected.reduce((sum, f) => sum + f.size, 0);
  const repoBytes = [...remote.values()].reduce((sum, f) => sum + f.size, 0);
  logger.info({ model: where, commit: info.commit, sourceDir, files: selected.length, bytes, sourceBytes: total, repoBytes }, 'model pulled');
  return convertSource(sourceDir, dir, dtype, attention, { uri: where, commit: info.commit }, logger, true);
}
