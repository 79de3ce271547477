// Reads an ONNX pipeline folder's JSON files (model_index.json, component configs, scheduler config; Python json) and
// derives the family, the defaults and the size limits; exports without component configs are read from their graphs.
// Pure file reading: no ONNX sessions here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScheduler, DIFFUSERS_SCHEDULER_CLASSES, parseSchedulerConfig, resolveSchedulerConfig, type SchedulerConfigFile } from '../schedulers/index.js';
import { parsePythonJson } from '../../json/python-json.js';
import { unetFromGraph, vaeFromGraph, type VaeShape } from './legacy-layout.js';
import type { EngineInfo, ModelFamily } from '../types.js';

type Json = Record<string, unknown>;

export interface ModelConfig {
  dir: string;
  family: ModelFamily;
  /** SDXL: both text encoders' penultimate hidden states, pooled embeddings and time ids. */
  sdxl: boolean;
  /** scheduler_config.json as shipped; each scheduler resolves it with its own class defaults. */
  scheduler: SchedulerConfigFile;
  /** diffusers' VAE scale factor: 2 ** (len(vae block_out_channels) - 1). */
  vaeScaleFactor: number;
  vaeScalingFactor: number;
  /** The VAE config's sample_size (pixels): its tile when tiling. Exports without a config: the default image size. */
  vaeSampleSize: number;
  latentChannels: number;
  /** Hidden layers per text encoder (SDXL reads hidden_states.{layers - 1}). */
  textEncoderLayers: number[];
  /** SDXL: an empty negative prompt becomes zero embeddings instead of encoding "". */
  forceZerosForEmptyPrompt: boolean;
  defaults: EngineInfo['defaults'];
  limits: EngineInfo['limits'];
}

function readJson(path: string): Json {
  if (!existsSync(path)) throw new Error(`model folder is missing ${path}`);
  try {
    return parsePythonJson(readFileSync(path, 'utf8')) as Json;
  } catch (error) {
    throw new Error(`cannot parse ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function numberList(config: Json, key: string, path: string): number[] {
  const value = config[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number')) {
    throw new Error(`${path}: ${key} must be a non-empty list of numbers`);
  }
  return value as number[];
}

function positive(config: Json, key: string, path: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`${path}: ${key} must be a positive number`);
  return value;
}

interface UnetFacts {
  inChannels: number;
  downFactor: number;
  sampleSize: number;
}

function unetFromConfig(unet: Json, path: string): UnetFacts {
  return {
    inChannels: positive(unet, 'in_channels', path, 4),
    downFactor: 2 ** (numberList(unet, 'block_out_channels', path).length - 1),
    sampleSize: positive(unet, 'sample_size', path),
  };
}

/**
 * The legacy export traces the UNet with dynamic height and width, so its default size is not in the graph: SD 1.x
 * and SD 2 base (epsilon) sample 64 latents (512 px), SD 2.x v-prediction (1024-wide text embeddings) 96 (768 px).
 */
function unetFromLegacyExport(dir: string, scheduler: SchedulerConfigFile): UnetFacts {
  const shape = unetFromGraph(dir);
  const v768 = shape.crossAttentionDim === 1024 && scheduler.values.prediction_type === 'v_prediction';
  return { inChannels: shape.inChannels, downFactor: shape.downFactor, sampleSize: v768 ? 96 : 64 };
}

/** sample_size may be a number or [height, width]; diffusers' tiling reads the first. */
function sampleSize(vae: Json, path: string): number | undefined {
  const value = vae.sample_size;
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof first !== 'number' || !(first > 0)) throw new Error(`${path}: sample_size must be a positive number or a list of them`);
  return first;
}

function vaeFromConfig(vae: Json, path: string): VaeShape & { scalingFactor: number; sampleSize?: number } {
  return {
    scaleFactor: 2 ** (numberList(vae, 'block_out_channels', path).length - 1),
    scalingFactor: positive(vae, 'scaling_factor', path, 0.18215),
    sampleSize: sampleSize(vae, path),
  };
}

export function readModelConfig(dir: string): ModelConfig {
  const index = readJson(join(dir, 'model_index.json'));
  const sdxl = 'text_encoder_2' in index || String(index._class_name ?? '').includes('XL');
  const schedulerPath = join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerJson = readJson(schedulerPath);
  const scheduler = parseSchedulerConfig(schedulerJson);
  const unetPath = join(dir, 'unet', 'config.json');
  const vaePath = join(dir, 'vae_decoder', 'config.json');
  // diffusers' own ONNX conversion script writes no component config.json: the graphs tell the rest.
  const unet = existsSync(unetPath) ? unetFromConfig(readJson(unetPath), unetPath) : unetFromLegacyExport(dir, scheduler);
  const vae: VaeShape & { scalingFactor: number; sampleSize?: number } = existsSync(vaePath)
    ? vaeFromConfig(readJson(vaePath), vaePath)
    : { ...vaeFromGraph(dir), scalingFactor: 0.18215 };

  const vaeScaleFactor = vae.scaleFactor;
  // The UNet halves the latents at each down block but the last; sizes must survive the round trip exactly.
  const sizeMultiple = vaeScaleFactor * unet.downFactor;
  const defaultSize = unet.sampleSize * vaeScaleFactor;
  const encoders = sdxl ? ['text_encoder', 'text_encoder_2'] : ['text_encoder'];
  const textEncoderLayers = encoders.map((name) => {
    const path = join(dir, name, 'config.json');
    return existsSync(path) ? positive(readJson(path), 'num_hidden_layers', path) : 0;
  });
  if (sdxl && textEncoderLayers.includes(0)) throw new Error('SDXL pipelines need text_encoder/config.json and text_encoder_2/config.json');

  // SDXL Turbo is SDXL distilled onto the trailing schedule (its scheduler config), sampled in 1-4 steps.
  const family: ModelFamily = sdxl ? (scheduler.values.timestep_spacing === 'trailing' ? 'sdxl-turbo' : 'sdxl') : 'sd';
  const configured = scheduler.className === undefined ? undefined : DIFFUSERS_SCHEDULER_CLASSES[scheduler.className];
  const defaults: EngineInfo['defaults'] =
    family === 'sdxl-turbo'
      ? { width: defaultSize, height: defaultSize, steps: 1, guidanceScale: 0, scheduler: 'euler_a' }
      : family === 'sdxl'
        ? { width: defaultSize, height: defaultSize, steps: 30, guidanceScale: 5, scheduler: configured ?? 'euler' }
        : // SD 1.x ships PNDM (pndm); a class we do not implement falls back to DPM++ 2M.
          { width: defaultSize, height: defaultSize, steps: 25, guidanceScale: 7.5, scheduler: configured ?? 'dpmpp_2m' };
  // The default must run: an option of the model's own scheduler that we do not implement fails the load, loudly.
  try {
    createScheduler(defaults.scheduler, resolveSchedulerConfig(defaults.scheduler, scheduler), defaults.steps);
  } catch (error) {
    throw new Error(`${schedulerPath}: ${(error as Error).message}`, { cause: error });
  }

  return {
    dir,
    family,
    sdxl,
    scheduler,
    vaeScaleFactor,
    vaeScalingFactor: vae.scalingFactor,
    // AutoencoderKL's config default is 32, but every released SD/SDXL VAE config gives the model's own image size.
    vaeSampleSize: vae.sampleSize ?? defaultSize,
    latentChannels: unet.inChannels,
    textEncoderLayers,
    forceZerosForEmptyPrompt: sdxl && index.force_zeros_for_empty_prompt !== false,
    defaults,
    limits: {
      sizeMultiple,
      minSize: Math.max(sizeMultiple, 64),
      maxSize: Math.max(2 * defaultSize, sizeMultiple),
      maxSteps: 150,
    },
  };
}
