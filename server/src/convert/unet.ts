// diffusers UNet2DConditionModel (SD 1.x/2.x, and SDXL with "text_time" addition embeddings) as an ONNX graph,
// inputs sample/timestep/encoder_hidden_states(/text_embeds/time_ids), output out_sample (Optimum's names).
import { perBlock, type UNetConfig } from './configs.js';
import { UnsupportedModelError } from './errors.js';
import type { ElemType, Graph } from './graph.js';
import {
  attention,
  conv,
  downsample,
  fromTokens,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  resnet,
  silu,
  toTokens,
  upsample,
} from './layers.js';

/** How the exporter typed the timestep input (Optimum versions differ; the engine reads inputMetadata). */
export interface TimestepInput {
  readonly elem: Extract<ElemType, 'int64' | 'float32'>;
  /** true: a scalar [] broadcast over the batch; false: one value per sample, shape [batch]. */
  readonly scalar: boolean;
}

/**
 * diffusers get_timestep_embedding with max_period 10000 and scale 1: [N] float32 -> [N, dim] in the graph's float
 * type. Computed in float32 whatever the graph type, as diffusers does before casting to the model's dtype.
 */
export function sinusoidal(g: Graph, t: string, dim: number, flipSinToCos: boolean, shift: number): string {
  if (dim % 2 !== 0) throw new UnsupportedModelError(`timestep embedding width ${dim} must be even`);
  const half = dim / 2;
  const freqs = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / (half - shift)));
  const args = g.op('Mul', [g.op('Unsqueeze', [t, g.ints([1])]), g.constant('float32', [1, half], freqs)]);
  const sin = g.op('Sin', [args]);
  const cos = g.op('Cos', [args]);
  return g.cast(g.op('Concat', flipSinToCos ? [cos, sin] : [sin, cos], { axis: -1 }), g.float, 'float32');
}

/** diffusers TimestepEmbedding: linear_1, SiLU, linear_2. */
const mlp = (g: Graph, p: string, x: string, inF: number, outF: number): string =>
  linear(g, `${p}.linear_2`, silu(g, linear(g, `${p}.linear_1`, x, inF, outF)), outF, outF);

interface TransformerSpec {
  readonly channels: number;
  readonly heads: number;
  readonly layers: number;
  readonly context: string;
  readonly contextDim: number;
  readonly groups: number;
  readonly linearProjection: boolean;
  readonly upcast: boolean;
}

/** diffusers Transformer2DModel: GroupNorm, proj_in, BasicTransformerBlocks (self-attn, cross-attn, GEGLU FF), proj_out, residual. */
function transformer2d(g: Graph, p: string, x: string, s: TransformerSpec): string {
  const c = s.channels;
  if (c % s.heads !== 0) throw new UnsupportedModelError(`${p}: ${c} channels do not split into ${s.heads} heads`);
  const headDim = c / s.heads;
  const normed = groupNorm(g, `${p}.norm`, x, c, s.groups, 1e-6);
  let h = s.linearProjection
    ? linear(g, `${p}.proj_in`, toTokens(g, normed), c, c)
    : toTokens(g, conv(g, `${p}.proj_in`, normed, c, c, 1));
  const names = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
  for (let l = 0; l < s.layers; l++) {
    const b = `${p}.transformer_blocks.${l}`;
    const self = { dim: c, contextDim: c, heads: s.heads, headDim, names, qkvBias: false, upcast: s.upcast };
    const n1 = layerNorm(g, `${b}.norm1`, h, c, 1e-5);
    h = g.op('Add', [h, attention(g, `${b}.attn1`, n1, n1, self)]);
    const cross = { ...self, contextDim: s.contextDim };
    h = g.op('Add', [h, attention(g, `${b}.attn2`, layerNorm(g, `${b}.norm2`, h, c, 1e-5), s.context, cross)]);
    // GEGLU feed-forward: proj to 2 * 4c, value * gelu(gate), back to c.
    const ff = 4 * c;
    const proj = linear(g, `${b}.ff.net.0.proj`, layerNorm(g, `${b}.norm3`, h, c, 1e-5), c, 2 * ff);
    const [value, gate] = g.opN('Split', [proj, g.ints([ff, ff])], 2, { axis: -1 }) as [string, string];
    const geglu = g.op('Mul', [value, gelu(g, gate)]);
    h = g.op('Add', [h, linear(g, `${b}.ff.net.2`, geglu, ff, c)]);
  }
  const out = s.linearProjection
    ? fromTokens(g, linear(g, `${p}.proj_out`, h, c, c), x)
    : conv(g, `${p}.proj_out`, fromTokens(g, h, x), c, c, 1);
  return g.op('Add', [out, x]);
}

function validate(c: UNetConfig): void {
  const n = c.block_out_channels.length;
  if (c.down_block_types.length !== n || c.up_block_types.length !== n) {
    throw new UnsupportedModelError(`unet: ${n} block_out_channels but ${c.down_block_types.length} down / ${c.up_block_types.length} up blocks`);
  }
  if (c.mid_block_type !== 'UNetMidBlock2DCrossAttn') throw new UnsupportedModelError(`unet: unsupported mid_block_type ${String(c.mid_block_type)}`);
  if (c.addition_embed_type !== null && c.addition_embed_type !== 'text_time') {
    throw new UnsupportedModelError(`unet: unsupported addition_embed_type ${String(c.addition_embed_type)}`);
  }
}

/** Width of SDXL's text_embeds input: projection input minus the six embedded time ids. */
export function textEmbedsDim(c: UNetConfig): number {
  if (c.addition_time_embed_dim === null || c.projection_class_embeddings_input_dim === null) {
    throw new UnsupportedModelError('unet: text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim');
  }
  const dim = c.projection_class_embeddings_input_dim - 6 * c.addition_time_embed_dim;
  if (dim <= 0) throw new UnsupportedModelError('unet: projection_class_embeddings_input_dim is too small for 6 time ids');
  return dim;
}

export function buildUNet(g: Graph, c: UNetConfig, timestepInput: TimestepInput): void {
  validate(c);
  const n = c.block_out_channels.length;
  const ch = c.block_out_channels;
  const ch0 = ch[0] as number;
  const heads = perBlock(c.num_attention_heads ?? c.attention_head_dim, n, 'attention heads');
  const layers = perBlock(c.transformer_layers_per_block, n, 'transformer_layers_per_block');
  const groups = c.norm_num_groups;
  const eps = c.norm_eps;

  const sample = g.input('sample', g.float, ['batch_size', c.in_channels, 'height', 'width']);
  const timestep = g.input('timestep', timestepInput.elem, timestepInput.scalar ? [] : ['steps']);
  const context = g.input('encoder_hidden_states', g.float, ['batch_size', 'sequence_length', c.cross_attention_dim]);

  // Time embedding (Timesteps + TimestepEmbedding); a scalar timestep is broadcast to the batch.
  const batch = g.op('Shape', [sample], { start: 0, end: 1 });
  const t = g.op('Expand', [g.cast(timestep, 'float32', timestepInput.elem), batch]);
  const tembDim = c.time_embedding_dim ?? ch0 * 4;
  let emb = mlp(g, 'time_embedding', sinusoidal(g, t, ch0, c.flip_sin_to_cos, c.freq_shift), ch0, tembDim);
  if (c.addition_embed_type === 'text_time') {
    // SDXL: add_embedding(concat(text_embeds, add_time_proj(time_ids))) is added to the time embedding.
    const textDim = textEmbedsDim(c);
    const timeDim = c.addition_time_embed_dim as number;
    const textEmbeds = g.input('text_embeds', g.float, ['batch_size', textDim]);
    const timeIds = g.input('time_ids', g.float, ['batch_size', 6]);
    const flat = g.cast(g.op('Reshape', [timeIds, g.ints([-1])]), 'float32', g.float);
    const timeEmbeds = g.op('Reshape', [
      sinusoidal(g, flat, timeDim, c.flip_sin_to_cos, c.freq_shift),
      g.ints([-1, 6 * timeDim]),
    ]);
    const added = g.op('Concat', [textEmbeds, timeEmbeds], { axis: -1 });
    emb = g.op('Add', [emb, mlp(g, 'add_embedding', added, textDim + 6 * timeDim, tembDim)]);
  }
  const temb = { value: silu(g, emb), dim: tembDim };
  const block = (p: string, x: string, cin: number, cout: number, outputScale = c.resnet_out_scale_factor ?? 1): string =>
    resnet(g, p, x, { cin, cout, groups, eps, temb, outputScale });
  const attn = (p: string, x: string, channels: number, i: number): string =>
    transformer2d(g, p, x, {
      channels,
      heads: heads[i] as number,
      layers: layers[i] as number,
      context,
      contextDim: c.cross_attention_dim,
      groups,
      linearProjection: c.use_linear_projection,
      upcast: c.upcast_attention,
    });

  let h = conv(g, 'conv_in', sample, c.in_channels, ch0, c.conv_in_kernel ?? 3);
  const skips: { value: string; channels: number }[] = [{ value: h, channels: ch0 }];
  let cin = ch0;
  for (let i = 0; i < n; i++) {
    const cout = ch[i] as number;
    for (let j = 0; j < c.layers_per_block; j++) {
      h = block(`down_blocks.${i}.resnets.${j}`, h, j === 0 ? cin : cout, cout);
      if (c.down_block_types[i] === 'CrossAttnDownBlock2D') h = attn(`down_blocks.${i}.attentions.${j}`, h, cout, i);
      skips.push({ value: h, channels: cout });
    }
    if (i < n - 1) {
      h = downsample(g, `down_blocks.${i}.downsamplers.0`, h, cout);
      skips.push({ value: h, channels: cout });
    }
    cin = cout;
  }

  // UNetMidBlock2DCrossAttn: its resnets use mid_block_scale_factor as output_scale_factor.
  h = block('mid_block.resnets.0', h, cin, cin, c.mid_block_scale_factor);
  h = attn('mid_block.attentions.0', h, cin, n - 1);
  h = block('mid_block.resnets.1', h, cin, cin, c.mid_block_scale_factor);

  // Up blocks mirror the down path: per-block settings reversed, one extra resnet per block eating the skips.
  let prev = cin;
  for (let i = 0; i < n; i++) {
    const d = n - 1 - i; // the down block this up block mirrors
    const cout = ch[d] as number;
    for (let j = 0; j <= c.layers_per_block; j++) {
      const skip = skips.pop();
      if (skip === undefined) throw new UnsupportedModelError('unet: skip connections exhausted');
      h = g.op('Concat', [h, skip.value], { axis: 1 });
      h = block(`up_blocks.${i}.resnets.${j}`, h, (j === 0 ? prev : cout) + skip.channels, cout);
      if (c.up_block_types[i] === 'CrossAttnUpBlock2D') h = attn(`up_blocks.${i}.attentions.${j}`, h, cout, d);
    }
    if (i < n - 1) h = upsample(g, `up_blocks.${i}.upsamplers.0`, h, cout);
    prev = cout;
  }

  h = silu(g, groupNorm(g, 'conv_norm_out', h, ch0, groups, eps));
  const out = conv(g, 'conv_out', h, ch0, c.out_channels, c.conv_out_kernel ?? 3);
  g.output('out_sample', out, g.float, ['batch_size', c.out_channels, 'height', 'width']);
}
