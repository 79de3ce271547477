// Reads a diffusers pipeline's model_index.json and component config.json files into the builders' configs, refusing
// (UnsupportedModelError, one line) every architecture or option the builders do not reproduce exactly.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePythonJson } from '../json/python-json.js';
import { type ClipTextConfig, clipTextConfig, type UNetConfig, unetConfig, type VaeConfig, vaeConfig } from './configs.js';
import { ConvertError, MissingFileError, UnsupportedModelError } from './errors.js';
import { textEmbedsDim } from './unet.js';

type Json = Record<string, unknown>;

export type PipelineFamily = 'sd' | 'sdxl';

export interface PipelineArchitecture {
  readonly family: PipelineFamily;
  readonly index: Json;
  readonly textEncoder: ClipTextConfig;
  /** SDXL's CLIPTextModelWithProjection. */
  readonly textEncoder2?: ClipTextConfig;
  readonly unet: UNetConfig;
  readonly vae: VaeConfig;
  /** The component config.json files as the source wrote them (copied into the output). */
  readonly rawConfigs: Readonly<Record<string, Json>>;
}

const PIPELINES: Record<string, PipelineFamily> = { StableDiffusionPipeline: 'sd', StableDiffusionXLPipeline: 'sdxl' };
/** Pipelines people will try, named in the refusal so the message says what the model is. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  StableDiffusion3Pipeline: 'SD3',
  FluxPipeline: 'FLUX',
  StableDiffusionInpaintPipeline: 'inpainting',
  StableDiffusionXLInpaintPipeline: 'SDXL inpainting',
  StableDiffusionXLImg2ImgPipeline: 'the SDXL refiner',
  PixArtAlphaPipeline: 'PixArt',
  StableCascadeCombinedPipeline: 'Stable Cascade',
  KandinskyV22Pipeline: 'Kandinsky',
};

export function readJson(path: string, what: string): Json {
  if (!existsSync(path)) throw new MissingFileError(path, what);
  let value: unknown;
  try {
    value = parsePythonJson(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConvertError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConvertError(`${path}: not a JSON object`);
  return value as Json;
}

/** Refuses `key` unless its value is one of `allowed` (absent keys take diffusers' default, the first allowed). */
function only(c: Json, where: string, key: string, allowed: readonly unknown[], why = ''): void {
  const value = key in c ? c[key] : allowed[0];
  if (!allowed.some((a) => JSON.stringify(a) === JSON.stringify(value))) {
    throw new UnsupportedModelError(`${where}: ${key} ${JSON.stringify(value)} is not supported${why ? ` (${why})` : ''}`);
  }
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every(isNumber);

function requireNumbers(c: Json, where: string, keys: readonly string[]): void {
  for (const key of keys) if (!isNumber(c[key])) throw new UnsupportedModelError(`${where}: ${key} must be a number, got ${JSON.stringify(c[key])}`);
}

function component(index: Json, name: string, library: string, classes: readonly string[], dir: string): void {
  const entry = index[name];
  if (!Array.isArray(entry) || entry[0] !== library || !classes.includes(String(entry[1]))) {
    throw new UnsupportedModelError(`${dir}: model_index.json ${name} is ${JSON.stringify(entry ?? null)}; HyperGen converts ${classes.join(' or ')} (${library})`);
  }
}

/** diffusers UNet2DConditionModel options the builder reproduces; anything else is refused by name. */
export function parseUNet(c: Json, where: string): UNetConfig {
  if (c._class_name !== 'UNet2DConditionModel') throw new UnsupportedModelError(`${where}: ${String(c._class_name)} is not supported (UNet2DConditionModel only)`);
  if (c.in_channels === 9) throw new UnsupportedModelError(`${where}: a 9-channel inpainting UNet is not supported`);
  only(c, where, 'in_channels', [4]);
  only(c, where, 'out_channels', [4]);
  only(c, where, 'act_fn', ['silu']);
  only(c, where, 'center_input_sample', [false]);
  only(c, where, 'class_embed_type', [null], 'class embeddings');
  only(c, where, 'num_class_embeds', [null], 'class embeddings');
  only(c, where, 'class_embeddings_concat', [false]);
  only(c, where, 'encoder_hid_dim', [null]);
  only(c, where, 'encoder_hid_dim_type', [null]);
  only(c, where, 'addition_embed_type', [null, 'text_time']);
  only(c, where, 'time_embedding_type', ['positional']);
  only(c, where, 'time_embedding_act_fn', [null]);
  only(c, where, 'timestep_post_act', [null]);
  only(c, where, 'time_cond_proj_dim', [null], 'guidance-distilled (LCM) UNets');
  only(c, where, 'resnet_time_scale_shift', ['default']);
  only(c, where, 'resnet_skip_time_act', [false]);
  only(c, where, 'dual_cross_attention', [false]);
  only(c, where, 'attention_type', ['default']);
  only(c, where, 'cross_attention_norm', [null]);
  only(c, where, 'reverse_transformer_layers_per_block', [null]);
  only(c, where, 'mid_block_type', ['UNetMidBlock2DCrossAttn']);
  only(c, where, 'downsample_padding', [1]);
  only(c, where, 'dropout', [0, 0.0]);
  const crossOnly = c.only_cross_attention ?? false;
  if (crossOnly !== false && !(Array.isArray(crossOnly) && crossOnly.every((v) => v === false))) {
    throw new UnsupportedModelError(`${where}: only_cross_attention ${JSON.stringify(crossOnly)} is not supported`);
  }
  requireNumbers(c, where, ['cross_attention_dim', 'layers_per_block', 'norm_num_groups', 'norm_eps', 'freq_shift']);
  if (!isNumberList(c.block_out_channels)) throw new UnsupportedModelError(`${where}: block_out_channels must be a list of numbers`);
  for (const [key, allowed] of [
    ['down_block_types', ['CrossAttnDownBlock2D', 'DownBlock2D']],
    ['up_block_types', ['CrossAttnUpBlock2D', 'UpBlock2D']],
  ] as const) {
    const types = c[key];
    if (!Array.isArray(types)) throw new UnsupportedModelError(`${where}: ${key} must be a list`);
    const unknown = types.find((t) => !(allowed as readonly unknown[]).includes(t));
    if (unknown !== undefined) throw new UnsupportedModelError(`${where}: block type ${JSON.stringify(unknown)} is not supported (${allowed.join(', ')})`);
  }
  for (const key of ['attention_head_dim', 'transformer_layers_per_block'] as const) {
    if (key in c && !isNumber(c[key]) && !isNumberList(c[key])) {
      throw new UnsupportedModelError(`${where}: ${key} ${JSON.stringify(c[key])} is not supported (a number or one number per block)`);
    }
  }
  if (c.num_attention_heads != null && !isNumber(c.num_attention_heads) && !isNumberList(c.num_attention_heads)) {
    throw new UnsupportedModelError(`${where}: num_attention_heads ${JSON.stringify(c.num_attention_heads)} is not supported`);
  }
  for (const key of ['conv_in_kernel', 'conv_out_kernel'] as const) {
    const k = c[key] ?? 3;
    if (!isNumber(k) || k % 2 !== 1) throw new UnsupportedModelError(`${where}: ${key} ${JSON.stringify(k)} is not supported (odd kernels only)`);
  }
  for (const key of ['mid_block_scale_factor', 'resnet_out_scale_factor'] as const) {
    if (key in c && !isNumber(c[key])) throw new UnsupportedModelError(`${where}: ${key} must be a number`);
  }
  if (c.time_embedding_dim != null && !isNumber(c.time_embedding_dim)) throw new UnsupportedModelError(`${where}: time_embedding_dim must be a number`);
  const config = unetConfig({ ...(c as unknown as UNetConfig), sample_size: isNumber(c.sample_size) ? c.sample_size : 64 });
  if (config.addition_embed_type === 'text_time') textEmbedsDim(config);
  return config;
}

/** transformers CLIPTextModel / CLIPTextModelWithProjection with quick_gelu or gelu. */
export function parseClip(c: Json, where: string, architecture: 'CLIPTextModel' | 'CLIPTextModelWithProjection'): ClipTextConfig {
  const archs = c.architectures;
  if (Array.isArray(archs) && archs.length > 0 && archs[0] !== architecture) {
    throw new UnsupportedModelError(`${where}: ${String(archs[0])} is not supported here (expected ${architecture})`);
  }
  only(c, where, 'model_type', ['clip_text_model']);
  only(c, where, 'hidden_act', ['quick_gelu', 'gelu'], 'activations: quick_gelu, gelu');
  requireNumbers(c, where, ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers', 'max_position_embeddings', 'vocab_size', 'layer_norm_eps']);
  if (architecture === 'CLIPTextModelWithProjection') requireNumbers(c, where, ['projection_dim']);
  return clipTextConfig({
    ...(c as unknown as ClipTextConfig),
    projection_dim: isNumber(c.projection_dim) ? c.projection_dim : 512,
    eos_token_id: isNumber(c.eos_token_id) ? c.eos_token_id : 2,
    hidden_act: (c.hidden_act ?? 'quick_gelu') as ClipTextConfig['hidden_act'],
    withProjection: architecture === 'CLIPTextModelWithProjection',
  });
}

/** diffusers AutoencoderKL with DownEncoderBlock2D / UpDecoderBlock2D blocks (the SD 1.x/2.x/SDXL VAE). */
export function parseVae(c: Json, where: string): VaeConfig {
  if (c._class_name !== 'AutoencoderKL') throw new UnsupportedModelError(`${where}: ${String(c._class_name)} is not supported (AutoencoderKL only)`);
  only(c, where, 'act_fn', ['silu']);
  only(c, where, 'in_channels', [3]);
  only(c, where, 'out_channels', [3]);
  only(c, where, 'shift_factor', [null], 'SD3/FLUX latents');
  only(c, where, 'latents_mean', [null]);
  only(c, where, 'latents_std', [null]);
  requireNumbers(c, where, ['latent_channels', 'layers_per_block', 'norm_num_groups', 'scaling_factor']);
  if (!isNumberList(c.block_out_channels)) throw new UnsupportedModelError(`${where}: block_out_channels must be a list of numbers`);
  const n = c.block_out_channels.length;
  for (const [key, type] of [
    ['down_block_types', 'DownEncoderBlock2D'],
    ['up_block_types', 'UpDecoderBlock2D'],
  ] as const) {
    const types = c[key];
    if (!Array.isArray(types) || types.length !== n || types.some((t) => t !== type)) {
      throw new UnsupportedModelError(`${where}: ${key} ${JSON.stringify(types)} is not supported (${n} x ${type})`);
    }
  }
  return vaeConfig({ ...(c as unknown as VaeConfig), sample_size: isNumber(c.sample_size) ? c.sample_size : 512 });
}

/** The family of a model_index.json's `_class_name`, or an UnsupportedModelError naming the pipeline (`where` names the source). */
export function pipelineFamily(index: Json, where: string): PipelineFamily {
  const cls = String(index._class_name ?? '');
  const family = PIPELINES[cls];
  if (family === undefined) {
    const known = KNOWN_UNSUPPORTED[cls];
    throw new UnsupportedModelError(
      `${where}: ${cls || 'a pipeline without _class_name'}${known ? ` (${known})` : ''} is not supported; HyperGen converts StableDiffusionPipeline (SD 1.x/2.x) and StableDiffusionXLPipeline (SDXL)`,
    );
  }
  return family;
}

/**
 * The whole pipeline's architecture from the configs in `dir` (weights are not read), or the first reason it cannot
 * be converted; messages name the source as `where` (a Hub URI when the configs were downloaded ahead of the weights).
 */
export function readArchitecture(dir: string, where = dir): PipelineArchitecture {
  const index = readJson(join(dir, 'model_index.json'), 'diffusers pipeline');
  const family = pipelineFamily(index, where);
  component(index, 'unet', 'diffusers', ['UNet2DConditionModel'], where);
  component(index, 'vae', 'diffusers', ['AutoencoderKL'], where);
  component(index, 'text_encoder', 'transformers', ['CLIPTextModel'], where);
  if (family === 'sdxl') component(index, 'text_encoder_2', 'transformers', ['CLIPTextModelWithProjection'], where);
  const raw = (name: string): Json => readJson(join(dir, name, 'config.json'), `${name} config`);
  const rawConfigs: Record<string, Json> = { text_encoder: raw('text_encoder'), unet: raw('unet'), vae: raw('vae') };
  if (family === 'sdxl') rawConfigs.text_encoder_2 = raw('text_encoder_2');
  const unet = parseUNet(rawConfigs.unet as Json, `${where}/unet/config.json`);
  const vae = parseVae(rawConfigs.vae as Json, `${where}/vae/config.json`);
  const textEncoder = parseClip(rawConfigs.text_encoder as Json, `${where}/text_encoder/config.json`, 'CLIPTextModel');
  const textEncoder2 =
    family === 'sdxl' ? parseClip(rawConfigs.text_encoder_2 as Json, `${where}/text_encoder_2/config.json`, 'CLIPTextModelWithProjection') : undefined;

  // Cross-component agreement, so a mismatched pipeline fails here and not inside onnxruntime.
  const context = textEncoder.hidden_size + (textEncoder2?.hidden_size ?? 0);
  if (unet.cross_attention_dim !== context) {
    throw new UnsupportedModelError(`${where}: unet cross_attention_dim ${unet.cross_attention_dim} does not match the text encoders' hidden size ${context}`);
  }
  if (unet.in_channels !== vae.latent_channels) {
    throw new UnsupportedModelError(`${where}: unet in_channels ${unet.in_channels} does not match vae latent_channels ${vae.latent_channels}`);
  }
  if (family === 'sdxl') {
    if (unet.addition_embed_type !== 'text_time') throw new UnsupportedModelError(`${where}: an SDXL unet needs addition_embed_type "text_time"`);
    const pooled = textEmbedsDim(unet);
    if (pooled !== textEncoder2?.projection_dim) {
      throw new UnsupportedModelError(`${where}: unet expects ${pooled}-wide text_embeds with 6 time ids, text_encoder_2 projects to ${textEncoder2?.projection_dim}`);
    }
  } else if (unet.addition_embed_type !== null) {
    throw new UnsupportedModelError(`${where}: addition_embed_type ${unet.addition_embed_type} needs an SDXL pipeline`);
  }
  return { family, index, textEncoder, textEncoder2, unet, vae, rawConfigs };
}
