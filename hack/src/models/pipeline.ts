// Writes a whole pipeline folder in the Optimum layout, atomically, with a stamp that says what generated it.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClip } from '@hypergen/server/convert/clip.js';
import { DIFFUSERS_VERSION } from '@hypergen/server/convert/configs.js';
import { Graph } from '@hypergen/server/convert/graph.js';
import { buildUNet } from '@hypergen/server/convert/unet.js';
import { buildVaeDecoder } from '@hypergen/server/convert/vae.js';
import type { Component, Preset } from './presets.js';
import { diffusersIndex, writeDiffusersComponents } from './diffusers-format.js';
import { WeightStore } from './weights.js';
import { writeJson } from './write-json.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The product's graph builders this generator runs (server/dist/convert). */
const BUILDER_DIR = dirname(createRequire(import.meta.url).resolve('@hypergen/server/convert/graph.js'));
/** The real CLIP vocabulary shipped with the server (hack/{src,dist}/models -> repo root). */
export const CLIP_TOKENIZER_DIR = resolve(HERE, '../../../server/assets/clip-tokenizer');
export const STAMP_FILE = '.hypergen-generator.json';
export const DEFAULT_SEED = 0;

/** onnx: the Optimum ONNX layout the engine serves; diffusers: a save_pretrained folder (safetensors) to convert. */
export type OutputFormat = 'onnx' | 'diffusers';
/** onnx format: fp16 computes the text encoders and UNet in float16 and keeps the VAE float32, as the converter does. */
export type OutputDtype = 'fp32' | 'fp16';

export interface ComponentReport {
  /** An ONNX component, or a diffusers folder (text_encoder[_2], unet, vae). */
  readonly component: Component | 'vae';
  readonly parameters: number;
  readonly onnxBytes: number;
  readonly externalBytes: number;
  /** diffusers format: the component's safetensors file. */
  readonly safetensorsBytes?: number;
}

export interface PipelineReport {
  readonly preset: string;
  readonly dir: string;
  /** false when the folder was already current and left untouched. */
  readonly generated: boolean;
  readonly seconds: number;
  readonly components: readonly ComponentReport[];
}

/**
 * What the folder's contents depend on: the preset, the seed, the generator's own code, the product's graph
 * builders and the vocabulary. Any change to one of them makes existing folders stale.
 */
export function fingerprint(p: Preset, seed: number, format: OutputFormat = 'onnx', dtype: OutputDtype = 'fp32'): string {
  const h = createHash('sha256').update(JSON.stringify({ preset: p, seed, ...(format === 'onnx' ? {} : { format }), ...(dtype === 'fp32' ? {} : { dtype }) }));
  const ext = HERE.endsWith(join('dist', 'models')) ? '.js' : '.ts';
  for (const f of readdirSync(HERE).filter((n) => n.endsWith(ext) && !n.endsWith('.d.ts')).sort()) {
    h.update(f).update(readFileSync(join(HERE, f)));
  }
  for (const f of readdirSync(BUILDER_DIR).filter((n) => n.endsWith('.js')).sort()) h.update(f).update(readFileSync(join(BUILDER_DIR, f)));
  for (const f of ['vocab.json', 'merges.txt']) h.update(readFileSync(join(CLIP_TOKENIZER_DIR, f)));
  return h.digest('hex');
}


interface ComponentSpec {
  readonly component: Component;
  readonly config: object;
  readonly build: (g: Graph) => void;
}

/** The ONNX components of a preset, in the order they are written. */
function componentSpecs(p: Preset): ComponentSpec[] {
  const specs: ComponentSpec[] = [
    { component: 'text_encoder', config: p.textEncoder, build: (g) => buildClip(g, p.textEncoder, p.clipExport) },
  ];
  const te2 = p.textEncoder2;
  if (te2 !== undefined) specs.push({ component: 'text_encoder_2', config: te2, build: (g) => buildClip(g, te2, p.clipExport) });
  specs.push(
    { component: 'unet', config: p.unet, build: (g) => buildUNet(g, p.unet, p.timestep) },
    { component: 'vae_decoder', config: p.vae, build: (g) => buildVaeDecoder(g, p.vae) },
  );
  return specs;
}

/** Parameter count per component, computed from the graphs without generating or writing any weight. */
export function countParameters(p: Preset): Record<string, number> {
  return Object.fromEntries(
    componentSpecs(p).map((s) => {
      const weights = new WeightStore({ seed: '', countOnly: true });
      s.build(new Graph(s.component, weights));
      return [s.component, weights.parameters];
    }),
  );
}

function writeComponent(dir: string, p: Preset, spec: ComponentSpec, seed: number, dtype: OutputDtype): ComponentReport {
  const { component } = spec;
  const folder = join(dir, component);
  mkdirSync(folder, { recursive: true });
  writeJson(join(folder, 'config.json'), spec.config);
  const external = p.external.includes(component);
  const weights = new WeightStore({
    seed: `${seed}/${component}`,
    ...(external ? { externalPath: join(folder, 'model.onnx_data'), externalLocation: 'model.onnx_data' } : {}),
  });
  try {
    const g = new Graph(`${p.name}/${component}`, weights, dtype === 'fp16' && component !== 'vae_decoder' ? 'float16' : 'float32');
    spec.build(g);
    const onnxBytes = g.save(join(folder, 'model.onnx'), 'hypergen-tiny-models', `${p.name}@${seed}`);
    return { component, parameters: weights.parameters, onnxBytes, externalBytes: weights.externalBytes };
  } finally {
    weights.close();
  }
}

function writeTokenizer(folder: string, pad: string): void {
  mkdirSync(folder, { recursive: true });
  for (const f of ['vocab.json', 'merges.txt', 'LICENSE-CLIP']) copyFileSync(join(CLIP_TOKENIZER_DIR, f), join(folder, f));
  const special = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: pad };
  writeJson(join(folder, 'special_tokens_map.json'), special);
  writeJson(join(folder, 'tokenizer_config.json'), {
    add_prefix_space: false,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    errors: 'replace',
    model_max_length: 77,
    tokenizer_class: 'CLIPTokenizer',
    ...special,
  });
}

function modelIndex(p: Preset): Record<string, unknown> {
  const common = {
    _diffusers_version: DIFFUSERS_VERSION,
    scheduler: ['diffusers', p.scheduler._class_name],
    text_encoder: ['transformers', p.textEncoder.architectures[0]],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae_decoder: ['diffusers', 'AutoencoderKL'],
  };
  if (p.textEncoder2 === undefined) {
    return {
      _class_name: 'ORTStableDiffusionPipeline',
      ...common,
      feature_extractor: [null, null],
      requires_safety_checker: false,
      safety_checker: [null, null],
    };
  }
  return {
    _class_name: 'ORTStableDiffusionXLPipeline',
    ...common,
    force_zeros_for_empty_prompt: true,
    text_encoder_2: ['transformers', p.textEncoder2.architectures[0]],
    tokenizer_2: ['transformers', 'CLIPTokenizer'],
  };
}

/** Writes every file of the pipeline into `dir` (which must be empty or absent). */
function writeFolder(dir: string, p: Preset, seed: number, format: OutputFormat, dtype: OutputDtype): ComponentReport[] {
  mkdirSync(dir, { recursive: true });
  const reports: ComponentReport[] =
    format === 'onnx'
      ? componentSpecs(p).map((spec) => writeComponent(dir, p, spec, seed, dtype))
      : writeDiffusersComponents(dir, p, seed).map((r) => ({ component: r.component as ComponentReport['component'], parameters: r.parameters, onnxBytes: 0, externalBytes: 0, safetensorsBytes: r.bytes }));
  writeTokenizer(join(dir, 'tokenizer'), p.pad);
  if (p.textEncoder2 !== undefined) writeTokenizer(join(dir, 'tokenizer_2'), p.pad2 ?? p.pad);
  mkdirSync(join(dir, 'scheduler'), { recursive: true });
  writeJson(join(dir, 'scheduler', 'scheduler_config.json'), p.scheduler);
  writeJson(join(dir, 'model_index.json'), format === 'onnx' ? modelIndex(p) : diffusersIndex(p));
  return reports;
}

interface Stamp {
  readonly preset: string;
  readonly seed: number;
  readonly fingerprint: string;
  readonly components: readonly ComponentReport[];
}

function readStamp(dir: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STAMP_FILE), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp folders that crashed runs left beside `dir`. */
function removeAbandoned(dir: string): void {
  const parent = dirname(dir);
  const prefix = `.${basename(dir)}.`;
  for (const name of readdirSync(parent)) {
    const m = /^\.(?:.+)\.(?:tmp|old)-(\d+)$/.exec(name);
    if (name.startsWith(prefix) && m !== null && !alive(Number(m[1]))) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Makes `dir` hold preset `p` generated with `seed`. Leaves a current folder alone (unless `force`); otherwise builds
 * it in a sibling temp folder and renames it into place, so a half-written pipeline is never taken as complete.
 */
export function ensurePipeline(p: Preset, dir: string, seed = DEFAULT_SEED, force = false, format: OutputFormat = 'onnx', dtype: OutputDtype = 'fp32'): PipelineReport {
  const started = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const expected = fingerprint(p, seed, format, dtype);
  const current = (): Stamp | undefined => {
    const s = readStamp(dir);
    return s?.fingerprint === expected ? s : undefined;
  };
  const existing = force ? undefined : current();
  if (existing !== undefined) return { preset: p.name, dir, generated: false, seconds: seconds(), components: existing.components };

  // Only ever replace what this generator wrote (or nothing): never delete someone's real model folder.
  if (existsSync(dir) && readStamp(dir) === undefined && readdirSync(dir).length > 0) {
    throw new Error(`${dir} exists and is not a generated pipeline (no ${STAMP_FILE}); refusing to replace it`);
  }
  const parent = dirname(resolve(dir));
  mkdirSync(parent, { recursive: true });
  removeAbandoned(resolve(dir));
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    const components = writeFolder(tmp, p, seed, format, dtype);
    writeJson(join(tmp, STAMP_FILE), { preset: p.name, seed, fingerprint: expected, components } satisfies Stamp);
    if (existsSync(dir)) renameSync(dir, old);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process put a folder in place meanwhile: fine if it is what we wanted.
      if (current() === undefined) throw err;
    }
    return { preset: p.name, dir, generated: true, seconds: seconds(), components };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

/** Size of a folder's files in bytes (for the CLI's summary). */
export function folderBytes(dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => statSync(join(dir, f)))
    .filter((s) => s.isFile())
    .reduce((sum, s) => sum + s.size, 0);
}
