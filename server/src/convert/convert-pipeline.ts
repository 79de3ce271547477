// convertPipeline: a diffusers pipeline folder (safetensors) -> the Optimum ONNX layout the engine loads, written to a
// hidden sibling and renamed into place, with a marker (source, options, fingerprint) so a current output is reused.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePythonJson } from '../json/python-json.js';
import { type PipelineArchitecture, type PipelineFamily, readArchitecture } from './architecture.js';
import { type CheckpointReport, CheckpointWeights } from './checkpoint-weights.js';
import { buildClip } from './clip.js';
import { ConvertError, MissingFileError, UnsupportedModelError } from './errors.js';
import { TensorPlacer } from './external-data.js';
import { refuseForeignOutput, replaceFolder } from './output-folder.js';
import { type AttentionForm, Graph } from './graph.js';
import { SafetensorsFile } from './safetensors.js';
import { buildUNet } from './unet.js';
import { buildVaeDecoder, buildVaeEncoder } from './vae.js';
import type { FloatElem } from './weight-source.js';

export const MARKER_FILE = '.hypergen-convert.json';
const HERE = dirname(fileURLToPath(import.meta.url));

export type ConvertDtype = 'fp32' | 'fp16';
export type OutputComponent = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder' | 'vae_encoder';

export interface ConvertProgress {
  readonly component: OutputComponent;
  readonly phase: 'start' | 'done';
  /** Bytes of the component's source checkpoint. */
  readonly sourceBytes: number;
  readonly seconds?: number;
}

export interface ConvertOptions {
  readonly dtype: ConvertDtype;
  /**
   * 'fused' (default): attention as onnxruntime's MultiHeadAttention contrib op, which its CPU, CUDA and WebGPU
   * providers run; 'plain': MatMul/Softmax/MatMul for runtimes or providers without com.microsoft ops.
   */
  readonly attention?: AttentionForm;
  readonly onProgress?: (event: ConvertProgress) => void;
  /** Where the source folder came from (a Hub URI and its commit), recorded in the marker. */
  readonly origin?: ConvertOrigin;
}

export interface ConvertOrigin {
  readonly uri: string;
  readonly commit?: string;
}

export interface ComponentReport {
  readonly component: OutputComponent;
  readonly parameters: number;
  /** model.onnx plus model.onnx_data. */
  readonly bytes: number;
  readonly seconds: number;
  readonly dtype: ConvertDtype;
  /** Why a component stayed float32 in an fp16 conversion. */
  readonly keptFp32?: string;
  readonly sourceFiles: readonly string[];
  readonly sourceDtypes: Readonly<Record<string, number>>;
  /** Checkpoint tensors the graph does not use (position_ids buffers, for example). */
  readonly unused: readonly string[];
  /** fp16: weight values beyond float16's range, clamped. */
  readonly clamped: number;
}

export interface ConvertReport {
  readonly source: string;
  readonly out: string;
  /** false: the output was already current and nothing was converted. */
  readonly converted: boolean;
  readonly seconds: number;
  readonly fingerprint: string;
  readonly components: readonly ComponentReport[];
}

interface Marker {
  readonly source: string;
  readonly origin?: ConvertOrigin;
  readonly options: { readonly dtype: ConvertDtype; readonly attention: AttentionForm };
  readonly fingerprint: string;
  readonly components: readonly ComponentReport[];
  readonly convertedAt: string;
}

/**
 * The diffusers layout, judged by which files exist (`has` of '/'-separated paths): a UNet config and no ONNX export
 * (Optimum's layout has unet/model.onnx and vae_decoder/; one missing its graphs is a broken export, not a source).
 */
export function isDiffusersLayout(has: (path: string) => boolean): boolean {
  return has('model_index.json') && has('unet/config.json') && !has('unet/model.onnx') && !has('vae_decoder/config.json');
}

/** A diffusers pipeline folder HyperGen can convert: diffusers weights and no ONNX graph yet. */
export function isDiffusersPipeline(dir: string): boolean {
  if (!isDiffusersLayout((path) => existsSync(join(dir, path)))) return false;
  return readdirSync(join(dir, 'unet')).some((f) => /^diffusion_pytorch_model.*\.safetensors(\.index\.json)?$/.test(f));
}

/** The source folder of each output component, and the file name its checkpoint starts with. */
const SOURCES: Record<OutputComponent, { folder: string; stem: string }> = {
  text_encoder: { folder: 'text_encoder', stem: 'model' },
  text_encoder_2: { folder: 'text_encoder_2', stem: 'model' },
  unet: { folder: 'unet', stem: 'diffusion_pytorch_model' },
  vae_decoder: { folder: 'vae', stem: 'diffusion_pytorch_model' },
  vae_encoder: { folder: 'vae', stem: 'diffusion_pytorch_model' },
};

/** The components a conversion writes for a pipeline family, in the order it writes them. */
export function outputComponents(family: PipelineFamily): OutputComponent[] {
  return ['text_encoder', ...(family === 'sdxl' ? (['text_encoder_2'] as const) : []), 'unet', 'vae_decoder', 'vae_encoder'];
}

/** The source folder (text_encoder, text_encoder_2, unet, vae) an output component's weights are read from. */
export const sourceFolder = (component: OutputComponent): string => SOURCES[component].folder;

/** A component folder as the checkpoint choice sees it: local files, or a Hub listing whose index files are at hand. */
export interface CheckpointFolder {
  /** Names (relative to the folder) of the files in it. */
  readonly names: readonly string[];
  /** The parsed content of a `*.safetensors.index.json` among names. */
  readIndex(name: string): unknown;
  /** How a file of the folder is named in messages. */
  at(name: string): string;
}

/**
 * The safetensors files holding a component, as names in its folder: `STEM[.fp16].safetensors`, or the shards its
 * `.safetensors.index.json` lists. fp16 conversions prefer diffusers' fp16 variant files, fp32 ones the
 * full-precision files; pickle-only folders and missing weights are refused naming the file.
 */
export function chooseCheckpoint(folder: CheckpointFolder, component: OutputComponent, dtype: ConvertDtype): string[] {
  const { stem } = SOURCES[component];
  const present = new Set(folder.names);
  for (const name of dtype === 'fp16' ? [`${stem}.fp16`, stem] : [stem, `${stem}.fp16`]) {
    if (present.has(`${name}.safetensors`)) return [`${name}.safetensors`];
    const index = `${name}.safetensors.index.json`;
    if (present.has(index)) {
      const map = (folder.readIndex(index) as { weight_map?: unknown } | null)?.weight_map;
      if (typeof map !== 'object' || map === null) throw new ConvertError(`${folder.at(index)}: no weight_map`);
      const shards = [...new Set(Object.values(map as Record<string, string>))].sort();
      for (const shard of shards) if (!present.has(shard)) throw new MissingFileError(folder.at(shard), `${component} shard listed in ${index}`);
      return shards;
    }
  }
  if (folder.names.some((f) => /\.(bin|ckpt|pt|pth)$/.test(f))) {
    throw new UnsupportedModelError(`${folder.at('')}: only pickle checkpoints (.bin/.ckpt); HyperGen reads safetensors weights only`);
  }
  throw new MissingFileError(folder.at(`${stem}.safetensors`), `${component} weights`);
}

/** chooseCheckpoint over a local pipeline folder: the files' paths. */
export function checkpointFiles(sourceDir: string, component: OutputComponent, dtype: ConvertDtype): string[] {
  const dir = join(sourceDir, SOURCES[component].folder);
  const folder: CheckpointFolder = {
    names: existsSync(dir) ? readdirSync(dir) : [],
    readIndex: (name) => {
      try {
        return parsePythonJson(readFileSync(join(dir, name), 'utf8'));
      } catch (error) {
        throw new ConvertError(`${join(dir, name)}: not valid JSON (${(error as Error).message})`);
      }
    },
    at: (name) => (name ? join(dir, name) : dir),
  };
  return chooseCheckpoint(folder, component, dtype).map((name) => join(dir, name));
}

/** diffusers' deprecated VAE attention names (query/key/value/proj_attn), which it still loads. */
function vaeAliases(name: string): string[] {
  const m = /^(.*\.attentions\.0)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name);
  if (m === null) return [];
  const old = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' }[m[2] as 'to_q'];
  return [`${m[1]}.${old}.${m[3]}`];
}

interface ComponentPlan {
  readonly component: OutputComponent;
  readonly config: object;
  readonly float: FloatElem;
  readonly keptFp32?: string;
  readonly build: (g: Graph) => void;
}

/** What gets written, in order, and in which precision (fp16 keeps in float32 what diffusers upcasts). */
function plan(arch: PipelineArchitecture, dtype: ConvertDtype): ComponentPlan[] {
  const half: FloatElem = dtype === 'fp16' ? 'float16' : 'float32';
  const sdxl = arch.family === 'sdxl';
  // Exported like Optimum's SDXL graphs: int64 ids, a float32 timestep per batch row (diffusers' timesteps are
  // fractional for some schedules), and hidden_states.* outputs where SDXL conditions on the penultimate layer.
  const clipExport = { idsElem: 'int64', hiddenStates: sdxl } as const;
  const timestep = { elem: 'float32', scalar: false } as const;
  const vaeFp32 = dtype === 'fp16' && arch.vae.force_upcast !== false;
  const vaeFloat: FloatElem = vaeFp32 ? 'float32' : half;
  const vaeWhy = vaeFp32 ? 'vae config force_upcast is true: diffusers runs this VAE in float32 (the SDXL VAE overflows in float16)' : undefined;
  const plans: ComponentPlan[] = [
    { component: 'text_encoder', config: arch.rawConfigs.text_encoder!, float: half, build: (g) => buildClip(g, arch.textEncoder, clipExport) },
  ];
  const te2 = arch.textEncoder2;
  if (te2 !== undefined) {
    plans.push({ component: 'text_encoder_2', config: arch.rawConfigs.text_encoder_2!, float: half, build: (g) => buildClip(g, te2, clipExport) });
  }
  plans.push(
    { component: 'unet', config: arch.rawConfigs.unet!, float: half, build: (g) => buildUNet(g, arch.unet, timestep) },
    { component: 'vae_decoder', config: arch.rawConfigs.vae!, float: vaeFloat, keptFp32: vaeWhy, build: (g) => buildVaeDecoder(g, arch.vae) },
    { component: 'vae_encoder', config: arch.rawConfigs.vae!, float: vaeFloat, keptFp32: vaeWhy, build: (g) => buildVaeEncoder(g, arch.vae) },
  );
  return plans;
}

/** JSON as this converter writes its files: two-space indent, a final newline. */
export const writeJson = (path: string, value: unknown): void => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

function convertComponent(
  sourceDir: string,
  outDir: string,
  p: ComponentPlan,
  dtype: ConvertDtype,
  onProgress?: ConvertOptions['onProgress'],
  attention: AttentionForm = 'fused',
): ComponentReport {
  const started = performance.now();
  const files = checkpointFiles(sourceDir, p.component, dtype);
  const sourceBytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
  onProgress?.({ component: p.component, phase: 'start', sourceBytes });
  const folder = join(outDir, p.component);
  mkdirSync(folder, { recursive: true });
  writeJson(join(folder, 'config.json'), p.config);
  const placer = new TensorPlacer({ path: join(folder, 'model.onnx_data'), location: 'model.onnx_data' });
  const opened: SafetensorsFile[] = [];
  let report: CheckpointReport;
  try {
    for (const f of files) opened.push(SafetensorsFile.open(f));
    const weights = new CheckpointWeights(opened, placer, {
      component: `${p.component} (${files.map((f) => basename(f)).join(', ')})`,
      aliases: p.component.startsWith('vae') ? vaeAliases : undefined,
    });
    const g = new Graph(p.component, weights, p.float, attention);
    p.build(g);
    report = weights.finish();
    g.save(join(folder, 'model.onnx'), 'hypergen-convert', '1');
  } finally {
    placer.close();
    for (const f of opened) f.close();
  }
  const bytes = readdirSync(folder)
    .filter((f) => f.startsWith('model.onnx'))
    .reduce((sum, f) => sum + statSync(join(folder, f)).size, 0);
  const seconds = (performance.now() - started) / 1000;
  onProgress?.({ component: p.component, phase: 'done', sourceBytes, seconds });
  const outDtype: ConvertDtype = p.float === 'float16' ? 'fp16' : 'fp32';
  return {
    component: p.component,
    parameters: report.parameters,
    bytes,
    seconds,
    dtype: outDtype,
    ...(p.keptFp32 !== undefined ? { keptFp32: p.keptFp32 } : {}),
    sourceFiles: files.map((f) => f.slice(resolve(sourceDir).length + 1)),
    sourceDtypes: report.sourceDtypes,
    unused: report.unused,
    clamped: report.clamped,
  };
}

/** The VAE's decoder and encoder read one checkpoint: a tensor is unused only if no component reading it used it. */
function sharedUnused(reports: ComponentReport[]): ComponentReport[] {
  const key = (r: ComponentReport): string => r.sourceFiles.join('\0');
  return reports.map((r) => {
    const siblings = reports.filter((o) => key(o) === key(r));
    return { ...r, unused: r.unused.filter((name) => siblings.every((o) => o.unused.includes(name))) };
  });
}

function copyFolder(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const path = join(from, name);
    if (statSync(path).isFile()) copyFileSync(path, join(to, name));
  }
}

/** Optimum's model_index.json for the converted pipeline (ORTStableDiffusion[XL]Pipeline, vae_decoder/vae_encoder). */
function optimumIndex(arch: PipelineArchitecture): Record<string, unknown> {
  const { vae: _vae, image_encoder: _image, feature_extractor: _fe, safety_checker: _sc, _class_name: cls, ...rest } = arch.index;
  return {
    ...rest,
    _class_name: arch.family === 'sdxl' ? 'ORTStableDiffusionXLPipeline' : 'ORTStableDiffusionPipeline',
    vae_decoder: ['diffusers', 'AutoencoderKL'],
    vae_encoder: ['diffusers', 'AutoencoderKL'],
    ...(arch.family === 'sd' ? { requires_safety_checker: false, safety_checker: [null, null], feature_extractor: [null, null] } : {}),
    _source_class_name: cls,
  };
}

/** The converter's own code (its compiled or source files): a new converter makes old outputs stale. */
function codeHash(): string {
  const h = createHash('sha256');
  const ext = HERE.endsWith(join('dist', 'convert')) ? '.js' : '.ts';
  for (const f of readdirSync(HERE).filter((n) => n.endsWith(ext) && !n.endsWith('.d.ts')).sort()) h.update(f).update(readFileSync(join(HERE, f)));
  h.update(readFileSync(join(HERE, '..', 'engine', 'pipeline', `tensors${ext}`)));
  h.update(readFileSync(join(HERE, '..', 'json', `python-json${ext}`)));
  return h.digest('hex');
}

/**
 * What the output depends on: converter code, options, and every source file's path, size and modification time
 * (hidden files and folders excepted: markers and caches of whoever put the source there, never read here).
 */
export function fingerprint(sourceDir: string, dtype: ConvertDtype, attention: AttentionForm = 'fused'): string {
  return sourceFingerprint(sourceDir, { dtype, attention });
}

/** fingerprint with any JSON-able options (fuseExport's rewrite of an ONNX export records its own). */
export function sourceFingerprint(sourceDir: string, options: object): string {
  const h = createHash('sha256').update(codeHash()).update(JSON.stringify(options));
  const root = resolve(sourceDir);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const s = statSync(path);
      if (s.isDirectory()) {
        walk(path);
      } else {
        h.update(`${path.slice(root.length)}\0${s.size}\0${s.mtimeMs}\0`);
      }
    }
  };
  walk(root);
  return h.digest('hex');
}

export function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/**
 * Converts the diffusers pipeline in `sourceDir` into `outDir`. A current output (same marker fingerprint) is left as
 * it is; otherwise everything is written to a hidden sibling of outDir and renamed into place. An existing outDir
 * that this converter did not write is never replaced.
 */
export function convertPipeline(sourceDir: string, outDir: string, options: ConvertOptions): ConvertReport {
  const started = performance.now();
  const source = resolve(sourceDir);
  const out = resolve(outDir);
  const arch = readArchitecture(source); // refusals come before anything is written
  const plans = plan(arch, options.dtype);
  // Every checkpoint's header is validated up front: a truncated or corrupt file fails before any output exists.
  for (const p of plans) for (const f of checkpointFiles(source, p.component, options.dtype)) SafetensorsFile.open(f).close();
  const attention = options.attention ?? 'fused';
  const expected = fingerprint(source, options.dtype, attention);
  const existing = readMarker(out);
  const seconds = (): number => (performance.now() - started) / 1000;
  if (existing?.fingerprint === expected) {
    return { source, out, converted: false, seconds: seconds(), fingerprint: expected, components: existing.components };
  }
  refuseForeignOutput(out, existing !== undefined, MARKER_FILE);
  return replaceFolder(out, (tmp) => {
    const components = sharedUnused(plans.map((p) => convertComponent(source, tmp, p, options.dtype, options.onProgress, attention)));
    for (const folder of ['tokenizer', 'tokenizer_2', 'scheduler']) {
      if (existsSync(join(source, folder))) copyFolder(join(source, folder), join(tmp, folder));
      else if (folder !== 'tokenizer_2' || arch.family === 'sdxl') throw new MissingFileError(join(source, folder), 'pipeline folder');
    }
    writeJson(join(tmp, 'model_index.json'), optimumIndex(arch));
    const marker: Marker = { source, ...(options.origin ? { origin: options.origin } : {}), options: { dtype: options.dtype, attention }, fingerprint: expected, components, convertedAt: new Date().toISOString() };
    writeJson(join(tmp, MARKER_FILE), marker);
    return { source, out, converted: true, seconds: seconds(), fingerprint: expected, components };
  });
}
