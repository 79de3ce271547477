// What an ONNX pipeline in the Optimum layout must hold for the engine: the needed components and files, what is
// missing from a listing (pure), and a local folder checked in place (reads the disk).
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PullError } from './errors.js';

// What the engine loads from an ONNX pipeline in the Optimum layout (see notes/model-layout.md). vae_encoder,
// safety_checker and feature_extractor are not used for text-to-image and are not fetched.
const ALWAYS = ['text_encoder', 'unet', 'vae_decoder', 'tokenizer', 'scheduler'];
const WHEN_LISTED = ['text_encoder_2', 'tokenizer_2'];

// Weights in other formats than ONNX, and repository furniture.
const SKIPPED = /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|ot|gguf|md)$|(^|\/)\.git/i;
// Precision or quantisation variants of a graph (model.fp16.onnx, model_fp16.onnx, model_quantized.onnx, ...).
const VARIANT = /(^|[._])(fp16|bf16|int8|uint8|q4|q4f16|bnb4|quantized)([._]|$)/i;

export type ModelIndex = Record<string, unknown>;

export function parseModelIndex(text: string, where: string): ModelIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PullError(`${where}: model_index.json is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PullError(`${where}: model_index.json is not a JSON object`);
  return parsed as ModelIndex;
}

/** Components the engine needs: the SD set, plus the SDXL second text encoder and tokenizer when model_index lists them. */
export function neededComponents(modelIndex: ModelIndex | undefined): string[] {
  const listed = (name: string) => {
    const entry = modelIndex?.[name];
    return Array.isArray(entry) && entry[0] !== null && entry[0] !== undefined;
  };
  return [...ALWAYS, ...WHEN_LISTED.filter(listed)];
}

const kindOf = (component: string) => (component.startsWith('tokenizer') ? 'tokenizer' : component === 'scheduler' ? 'scheduler' : 'model');

/** Whether a file (path relative to the pipeline root) is part of what the engine loads. */
export function isNeededFile(path: string, components: readonly string[]): boolean {
  if (path === 'model_index.json') return true;
  const slash = path.indexOf('/');
  if (slash < 0 || !components.includes(path.slice(0, slash))) return false;
  const name = path.slice(slash + 1);
  if (SKIPPED.test(name)) return false;
  if (kindOf(path.slice(0, slash)) !== 'model') return true;
  // The graph is model.onnx; its external data is model.onnx_data (or .onnx.data, numbered parts) or, from older
  // exporters, per-tensor files and weights.pb. Other graphs and their data are variants nobody asked for.
  if (/\.onnx$/i.test(name)) return name === 'model.onnx';
  if (/\.onnx[._]data/i.test(name)) return name.startsWith('model.onnx');
  return !VARIANT.test(name);
}

/** Files a pipeline cannot load without, in a stable order; an empty list means nothing is missing. */
export function missingFiles(present: ReadonlySet<string>, modelIndex: ModelIndex | undefined): string[] {
  const missing: string[] = [];
  const need = (path: string) => {
    if (!present.has(path)) missing.push(path);
  };
  need('model_index.json');
  for (const component of neededComponents(modelIndex)) {
    switch (kindOf(component)) {
      case 'tokenizer':
        // The engine builds tokenizer.json from vocab.json + merges.txt when it is absent.
        if (!present.has(`${component}/tokenizer.json`)) {
          need(`${component}/vocab.json`);
          need(`${component}/merges.txt`);
        }
        break;
      case 'scheduler':
        need(`${component}/scheduler_config.json`);
        break;
      default:
        need(`${component}/model.onnx`);
        need(`${component}/config.json`);
    }
  }
  return missing;
}

export function notAPipeline(where: string, missing: readonly string[]): PullError {
  return new PullError(`${where} is not an ONNX diffusion pipeline (Optimum layout): missing ${missing.join(', ')}`);
}

/** Every regular file under dir, as '/'-separated paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'));
}

/** Checks a local pipeline folder in place and throws a PullError naming exactly what is missing. */
export async function verifyPipelineDir(dir: string, where = dir): Promise<void> {
  let files: string[];
  try {
    files = await listFiles(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PullError(`${where}: no such folder (${dir})`);
    if (code === 'ENOTDIR') throw new PullError(`${where}: not a folder (${dir})`);
    throw new PullError(`${where}: cannot read ${dir}: ${(error as Error).message}`);
  }
  const present = new Set(files);
  const modelIndex = present.has('model_index.json') ? parseModelIndex(await readFile(join(dir, 'model_index.json'), 'utf8'), where) : undefined;
  const missing = missingFiles(present, modelIndex);
  if (missing.length > 0) throw notAPipeline(where, missing);
}
