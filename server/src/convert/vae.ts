// diffusers AutoencoderKL as Optimum's two graphs: vae_decoder (post_quant_conv + Decoder: latent_sample -> sample)
// and vae_encoder (Encoder + quant_conv: sample -> latent_parameters, Optimum 1.27's output: the diagonal Gaussian's
// [mean, logvar] concatenated on the channel axis, i.e. `vae.encode(x).latent_dist.parameters`).
import type { VaeConfig } from './configs.js';
import type { Graph } from './graph.js';
import { attention, conv, downsample, fromTokens, groupNorm, resnet, silu, toTokens, upsample } from './layers.js';

const EPS = 1e-6; // diffusers' Encoder and Decoder use resnet_eps 1e-6 throughout

/** 2 ** (number of blocks - 1): how much larger the image is than the latent. */
export const vaeScaleFactor = (c: VaeConfig): number => 2 ** (c.block_out_channels.length - 1);

/**
 * UNetMidBlock2D as the VAE uses it: resnet, then (when mid_block_add_attention) single-head spatial self-attention
 * (diffusers Attention: its own GroupNorm, residual_connection, rescale_output_factor 1, upcast_softmax), resnet.
 */
function midBlock(g: Graph, p: string, x: string, c: VaeConfig, channels: number): string {
  const groups = c.norm_num_groups;
  let h = resnet(g, `${p}.resnets.0`, x, { cin: channels, cout: channels, groups, eps: EPS });
  if (c.mid_block_add_attention !== false) {
    const a = `${p}.attentions.0`;
    const tokens = toTokens(g, groupNorm(g, `${a}.group_norm`, h, channels, groups, EPS));
    const names = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
    const spec = { dim: channels, contextDim: channels, heads: 1, headDim: channels, names, qkvBias: true, upcast: true };
    h = g.op('Add', [fromTokens(g, attention(g, a, tokens, tokens, spec), h), h]);
  }
  return resnet(g, `${p}.resnets.1`, h, { cin: channels, cout: channels, groups, eps: EPS });
}

export function buildVaeDecoder(g: Graph, c: VaeConfig): void {
  const groups = c.norm_num_groups;
  const reversed = [...c.block_out_channels].reverse();
  const top = reversed[0] as number;
  const block = (p: string, x: string, cin: number, cout: number): string => resnet(g, p, x, { cin, cout, groups, eps: EPS });

  const latent = g.input('latent_sample', g.float, ['batch_size', c.latent_channels, 'latent_height', 'latent_width']);
  let h = c.use_post_quant_conv === false ? latent : conv(g, 'post_quant_conv', latent, c.latent_channels, c.latent_channels, 1);
  h = conv(g, 'decoder.conv_in', h, c.latent_channels, top, 3);
  h = midBlock(g, 'decoder.mid_block', h, c, top);

  // UpDecoderBlock2D: layers_per_block + 1 resnets, then Upsample2D except in the last block.
  let prev = top;
  reversed.forEach((cout, i) => {
    for (let j = 0; j <= c.layers_per_block; j++) {
      h = block(`decoder.up_blocks.${i}.resnets.${j}`, h, j === 0 ? prev : cout, cout);
    }
    if (i < reversed.length - 1) h = upsample(g, `decoder.up_blocks.${i}.upsamplers.0`, h, cout);
    prev = cout;
  });

  const bottom = c.block_out_channels[0] as number;
  h = silu(g, groupNorm(g, 'decoder.conv_norm_out', h, bottom, groups, EPS));
  const image = conv(g, 'decoder.conv_out', h, bottom, c.out_channels, 3);
  g.output('sample', image, g.float, ['batch_size', c.out_channels, 'height', 'width']);
}

export function buildVaeEncoder(g: Graph, c: VaeConfig): void {
  const groups = c.norm_num_groups;
  const ch = c.block_out_channels;
  const block = (p: string, x: string, cin: number, cout: number): string => resnet(g, p, x, { cin, cout, groups, eps: EPS });

  const image = g.input('sample', g.float, ['batch_size', c.in_channels, 'height', 'width']);
  let h = conv(g, 'encoder.conv_in', image, c.in_channels, ch[0] as number, 3);

  // DownEncoderBlock2D: layers_per_block resnets, then Downsample2D (padding 0) except in the last block.
  let prev = ch[0] as number;
  ch.forEach((cout, i) => {
    for (let j = 0; j < c.layers_per_block; j++) h = block(`encoder.down_blocks.${i}.resnets.${j}`, h, j === 0 ? prev : cout, cout);
    if (i < ch.length - 1) h = downsample(g, `encoder.down_blocks.${i}.downsamplers.0`, h, cout, 0);
    prev = cout;
  });

  const top = ch[ch.length - 1] as number;
  h = midBlock(g, 'encoder.mid_block', h, c, top);
  h = silu(g, groupNorm(g, 'encoder.conv_norm_out', h, top, groups, EPS));
  const moments = 2 * c.latent_channels; // double_z: mean and logvar
  h = conv(g, 'encoder.conv_out', h, top, moments, 3);
  if (c.use_quant_conv !== false) h = conv(g, 'quant_conv', h, moments, moments, 1);
  g.output('latent_parameters', h, g.float, ['batch_size', moments, 'latent_height', 'latent_width']);
}
