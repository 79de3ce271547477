// Component configs in the exact JSON shape diffusers / transformers write (config.json), plus builders with their
// library defaults. The graph builders read architecture from these same objects, so config and graph agree.

import { UnsupportedModelError } from './errors.js';

export const DIFFUSERS_VERSION = '0.30.0';
export const TRANSFORMERS_VERSION = '4.44.0';

export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

export interface UNetConfig {
  _class_name: 'UNet2DConditionModel';
  _diffusers_version: string;
  act_fn: 'silu';
  addition_embed_type: 'text_time' | null;
  addition_time_embed_dim: number | null;
  attention_head_dim: number | number[];
  block_out_channels: number[];
  center_input_sample: false;
  class_embed_type: null;
  cross_attention_dim: number;
  down_block_types: DownBlockType[];
  downsample_padding: 1;
  dropout: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  in_channels: number;
  layers_per_block: number;
  mid_block_scale_factor: number;
  mid_block_type: 'UNetMidBlock2DCrossAttn';
  norm_eps: number;
  norm_num_groups: number;
  num_attention_heads: number | number[] | null;
  out_channels: number;
  projection_class_embeddings_input_dim: number | null;
  resnet_time_scale_shift: 'default';
  sample_size: number;
  time_embedding_type: 'positional';
  transformer_layers_per_block: number | number[];
  up_block_types: UpBlockType[];
  upcast_attention: boolean;
  use_linear_projection: boolean;
  // Keys diffusers writes that the tiny generator leaves out (their defaults apply when absent).
  conv_in_kernel?: number;
  conv_out_kernel?: number;
  resnet_out_scale_factor?: number;
  time_embedding_dim?: number | null;
}

type Required<T, K extends keyof T> = Partial<T> & Pick<T, K>;

export function unetConfig(
  c: Required<UNetConfig, 'block_out_channels' | 'down_block_types' | 'up_block_types' | 'cross_attention_dim' | 'sample_size'>,
): UNetConfig {
  return {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    addition_embed_type: null,
    addition_time_embed_dim: null,
    attention_head_dim: 8,
    center_input_sample: false,
    class_embed_type: null,
    downsample_padding: 1,
    dropout: 0,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: 4,
    layers_per_block: 2,
    mid_block_scale_factor: 1,
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    norm_eps: 1e-5,
    norm_num_groups: 32,
    num_attention_heads: null,
    out_channels: 4,
    projection_class_embeddings_input_dim: null,
    resnet_time_scale_shift: 'default',
    time_embedding_type: 'positional',
    transformer_layers_per_block: 1,
    upcast_attention: false,
    use_linear_projection: false,
    ...c,
  };
}

export type ClipActivation = 'quick_gelu' | 'gelu';

export interface ClipTextConfig {
  architectures: ['CLIPTextModel' | 'CLIPTextModelWithProjection'];
  attention_dropout: number;
  bos_token_id: number;
  dropout: number;
  eos_token_id: number;
  hidden_act: ClipActivation;
  hidden_size: number;
  initializer_factor: number;
  initializer_range: number;
  intermediate_size: number;
  layer_norm_eps: number;
  max_position_embeddings: number;
  model_type: 'clip_text_model';
  num_attention_heads: number;
  num_hidden_layers: number;
  pad_token_id: number;
  projection_dim: number;
  torch_dtype: 'float32';
  transformers_version: string;
  vocab_size: number;
}

export function clipTextConfig(
  c: Required<
    ClipTextConfig,
    'hidden_size' | 'intermediate_size' | 'num_attention_heads' | 'num_hidden_layers' | 'projection_dim' | 'hidden_act'
  > & { withProjection?: boolean },
): ClipTextConfig {
  const { withProjection = false, ...rest } = c;
  return {
    architectures: [withProjection ? 'CLIPTextModelWithProjection' : 'CLIPTextModel'],
    attention_dropout: 0,
    bos_token_id: 0,
    dropout: 0,
    eos_token_id: 2,
    initializer_factor: 1,
    initializer_range: 0.02,
    layer_norm_eps: 1e-5,
    max_position_embeddings: 77,
    model_type: 'clip_text_model',
    pad_token_id: 1,
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    vocab_size: 49408,
    ...rest,
  };
}

export interface VaeConfig {
  _class_name: 'AutoencoderKL';
  _diffusers_version: string;
  act_fn: 'silu';
  block_out_channels: number[];
  down_block_types: 'DownEncoderBlock2D'[];
  force_upcast: boolean;
  in_channels: 3;
  latent_channels: number;
  layers_per_block: number;
  norm_num_groups: number;
  out_channels: 3;
  sample_size: number;
  scaling_factor: number;
  up_block_types: 'UpDecoderBlock2D'[];
  // Keys diffusers writes that the tiny generator leaves out (their defaults apply when absent).
  mid_block_add_attention?: boolean;
  use_quant_conv?: boolean;
  use_post_quant_conv?: boolean;
}

export function vaeConfig(
  c: Required<VaeConfig, 'block_out_channels' | 'sample_size' | 'scaling_factor'>,
): VaeConfig {
  const n = c.block_out_channels.length;
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: DIFFUSERS_VERSION,
    act_fn: 'silu',
    down_block_types: new Array<'DownEncoderBlock2D'>(n).fill('DownEncoderBlock2D'),
    force_upcast: true,
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 2,
    norm_num_groups: 32,
    out_channels: 3,
    up_block_types: new Array<'UpDecoderBlock2D'>(n).fill('UpDecoderBlock2D'),
    ...c,
  };
}

export type SchedulerClass = 'EulerDiscreteScheduler' | 'EulerAncestralDiscreteScheduler';

export interface SchedulerConfig {
  _class_name: SchedulerClass;
  _diffusers_version: string;
  beta_end: number;
  beta_schedule: 'scaled_linear';
  beta_start: number;
  clip_sample: false;
  interpolation_type: 'linear';
  num_train_timesteps: number;
  prediction_type: 'epsilon' | 'v_prediction';
  sample_max_value: number;
  set_alpha_to_one: false;
  skip_prk_steps: true;
  steps_offset: number;
  timestep_spacing: 'leading' | 'trailing';
  trained_betas: null;
  use_karras_sigmas: false;
}

export function schedulerConfig(
  c: Pick<SchedulerConfig, '_class_name' | 'prediction_type' | 'timestep_spacing'>,
): SchedulerConfig {
  return {
    _diffusers_version: DIFFUSERS_VERSION,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    interpolation_type: 'linear',
    num_train_timesteps: 1000,
    sample_max_value: 1,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
    use_karras_sigmas: false,
    ...c,
  };
}

/** A per-block setting that diffusers accepts either as one value or as a list per down block. */
export function perBlock(value: number | number[], blocks: number, what: string): number[] {
  if (typeof value === 'number') return new Array<number>(blocks).fill(value);
  if (value.length !== blocks) throw new UnsupportedModelError(`${what} has ${value.length} entries for ${blocks} blocks`);
  return value;
}
