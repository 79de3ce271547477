// Named pipeline presets: tiny random-weight pipelines for tests and the README, and full-size "shape" models
// (the real SD 1.5 / SDXL base architectures with random weights) for memory and speed work.
import {
  type ClipTextConfig,
  clipTextConfig,
  type SchedulerConfig,
  schedulerConfig,
  type UNetConfig,
  unetConfig,
  type VaeConfig,
  vaeConfig,
} from '@hypergen/server/convert/configs.js';
import type { ClipExport } from '@hypergen/server/convert/clip.js';
import type { TimestepInput } from '@hypergen/server/convert/unet.js';

export type Component = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder';

export interface Preset {
  readonly name: string;
  readonly family: 'sd' | 'sdxl';
  readonly textEncoder: ClipTextConfig;
  /** SDXL's second encoder (CLIPTextModelWithProjection). */
  readonly textEncoder2?: ClipTextConfig;
  readonly unet: UNetConfig;
  readonly vae: VaeConfig;
  readonly scheduler: SchedulerConfig;
  /** pad_token of tokenizer/ (and tokenizer_2/): "<|endoftext|>" for SD 1.x, "!" for SD 2.x and SDXL's second. */
  readonly pad: string;
  readonly pad2?: string;
  /** Exporter details that differ between Optimum versions (the engine must read inputMetadata). */
  readonly clipExport: ClipExport;
  readonly timestep: TimestepInput;
  /** Components whose weights go to model.onnx_data (the rest are inline in model.onnx). */
  readonly external: readonly Component[];
  /** Tiny presets are what `tiny-models` writes; shape presets are only generated on request. */
  readonly tiny: boolean;
}

const ALL: readonly Component[] = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder'];

// Exporter flavours (see notes in the layout contract): SD exports with int32 ids and a [batch] int64 timestep,
// SDXL exports with int64 ids, a float32 scalar timestep and hidden_states.* outputs.
const SD_EXPORT = { clipExport: { idsElem: 'int32', hiddenStates: false }, timestep: { elem: 'int64', scalar: false } } as const;
const SDXL_EXPORT = { clipExport: { idsElem: 'int64', hiddenStates: true }, timestep: { elem: 'float32', scalar: true } } as const;

const EULER_LEADING = schedulerConfig({
  _class_name: 'EulerDiscreteScheduler',
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
});

const tinyClip = (hidden_act: ClipTextConfig['hidden_act'], withProjection = false): ClipTextConfig =>
  clipTextConfig({
    hidden_size: 32,
    intermediate_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    projection_dim: 32,
    hidden_act,
    withProjection,
  });

// Four blocks so the VAE scale factor is 8 like the real one, with few channels so 256x256 decodes fast.
const tinyVae = (scaling_factor: number): VaeConfig =>
  vaeConfig({ block_out_channels: [8, 8, 16, 16], layers_per_block: 1, norm_num_groups: 4, sample_size: 256, scaling_factor });

const tinySdUnet = (use_linear_projection: boolean): UNetConfig =>
  unetConfig({
    block_out_channels: [32, 64],
    layers_per_block: 2,
    // Attention only at the coarser level (as diffusers' own tiny test UNets do): 1024-token attention at 32x32
    // latents would cost more than the whole rest of a 256x256 generation.
    down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
    attention_head_dim: 4,
    cross_attention_dim: 32,
    norm_num_groups: 8,
    sample_size: 32,
    use_linear_projection,
  });

const tinySd: Preset = {
  name: 'tiny-sd',
  family: 'sd',
  textEncoder: tinyClip('quick_gelu'),
  unet: tinySdUnet(false),
  vae: tinyVae(0.18215),
  scheduler: EULER_LEADING,
  pad: '<|endoftext|>',
  ...SD_EXPORT,
  external: ['unet'],
  tiny: true,
};

const tinySdV: Preset = {
  ...tinySd,
  name: 'tiny-sd-v',
  textEncoder: tinyClip('gelu'), // SD 2.x uses OpenCLIP (gelu) and linear transformer projections
  unet: tinySdUnet(true),
  scheduler: { ...EULER_LEADING, prediction_type: 'v_prediction' },
  pad: '!',
};

const tinySdxl: Preset = {
  name: 'tiny-sdxl',
  family: 'sdxl',
  textEncoder: tinyClip('quick_gelu'),
  textEncoder2: tinyClip('gelu', true),
  unet: unetConfig({
    block_out_channels: [32, 64],
    layers_per_block: 2,
    down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
    attention_head_dim: [2, 4],
    transformer_layers_per_block: [1, 2],
    cross_attention_dim: 64, // hidden_size of both text encoders, concatenated
    use_linear_projection: true,
    norm_num_groups: 8,
    addition_embed_type: 'text_time',
    addition_time_embed_dim: 8,
    projection_class_embeddings_input_dim: 6 * 8 + 32, // six embedded time ids + text_embeds (projection_dim)
    sample_size: 32,
  }),
  vae: tinyVae(0.13025),
  scheduler: EULER_LEADING,
  pad: '<|endoftext|>',
  pad2: '!',
  ...SDXL_EXPORT,
  external: ALL,
  tiny: true,
};

const tinySdxlTurbo: Preset = {
  ...tinySdxl,
  name: 'tiny-sdxl-turbo',
  scheduler: schedulerConfig({
    _class_name: 'EulerAncestralDiscreteScheduler',
    prediction_type: 'epsilon',
    timestep_spacing: 'trailing',
  }),
};

const clipL = (withProjection = false): ClipTextConfig =>
  clipTextConfig({
    hidden_size: 768,
    intermediate_size: 3072,
    num_attention_heads: 12,
    num_hidden_layers: 12,
    projection_dim: 768,
    hidden_act: 'quick_gelu',
    withProjection,
  });

const sdVae = (sample_size: number, scaling_factor: number): VaeConfig =>
  vaeConfig({ block_out_channels: [128, 256, 512, 512], sample_size, scaling_factor });

const sd15Shape: Preset = {
  name: 'sd15-shape',
  family: 'sd',
  textEncoder: clipL(),
  unet: unetConfig({
    block_out_channels: [320, 640, 1280, 1280],
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
    attention_head_dim: 8,
    cross_attention_dim: 768,
    sample_size: 64,
  }),
  vae: sdVae(512, 0.18215),
  scheduler: EULER_LEADING,
  pad: '<|endoftext|>',
  ...SD_EXPORT,
  external: ALL,
  tiny: false,
};

const sdxlShape: Preset = {
  name: 'sdxl-shape',
  family: 'sdxl',
  textEncoder: clipL(),
  textEncoder2: clipTextConfig({
    hidden_size: 1280,
    intermediate_size: 5120,
    num_attention_heads: 20,
    num_hidden_layers: 32,
    projection_dim: 1280,
    hidden_act: 'gelu',
    withProjection: true,
  }),
  unet: unetConfig({
    block_out_channels: [320, 640, 1280],
    down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
    attention_head_dim: [5, 10, 20],
    transformer_layers_per_block: [1, 2, 10],
    cross_attention_dim: 2048,
    use_linear_projection: true,
    addition_embed_type: 'text_time',
    addition_time_embed_dim: 256,
    projection_class_embeddings_input_dim: 2816,
    sample_size: 128,
  }),
  vae: sdVae(1024, 0.13025),
  scheduler: EULER_LEADING,
  pad: '<|endoftext|>',
  pad2: '!',
  ...SDXL_EXPORT,
  external: ALL,
  tiny: false,
};

export const PRESETS: ReadonlyMap<string, Preset> = new Map(
  [tinySd, tinySdV, tinySdxl, tinySdxlTurbo, sd15Shape, sdxlShape].map((p) => [p.name, p]),
);

export const TINY_PRESETS: readonly Preset[] = [...PRESETS.values()].filter((p) => p.tiny);

export function preset(name: string): Preset {
  const found = PRESETS.get(name);
  if (found === undefined) throw new Error(`unknown preset "${name}" (known: ${[...PRESETS.keys()].join(', ')})`);
  return found;
}
