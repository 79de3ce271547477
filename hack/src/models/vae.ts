// diffusers AutoencoderKL decoder (post_quant_conv + Decoder) as Optimum's vae_decoder graph.
import type { VaeConfig } from './configs.js';
import type { Graph } from './graph.js';
import { attention, conv, fromTokens, groupNorm, resnet, silu, toTokens, upsample } from './layers.js';

const EPS = 1e-6; // diffusers' Decoder uses resnet_eps 1e-6 throughout

/** 2 ** (number of blocks - 1): how much larger the image is than the latent. */
export const vaeScaleFactor = (c: VaeConfig): number => 2 ** (c.block_out_channels.length - 1);

export function buildVaeDecoder(g: Graph, c: VaeConfig): void {
  const groups = c.norm_num_groups;
  const reversed = [...c.block_out_channels].reverse();
  const top = reversed[0] as number;
  const block = (p: string, x: string, cin: number, cout: number): string => resnet(g, p, x, { cin, cout, groups, eps: EPS });

  const latent = g.input('latent_sample', 'float32', ['batch_size', c.latent_channels, 'latent_height', 'latent_width']);
  let h = conv(g, 'post_quant_conv', latent, c.latent_channels, c.latent_channels, 1);
  h = conv(g, 'decoder.conv_in', h, c.latent_channels, top, 3);

  // Mid block: resnet, single-head spatial self-attention with its own GroupNorm and residual, resnet.
  h = block('decoder.mid_block.resnets.0', h, top, top);
  const p = 'decoder.mid_block.attentions.0';
  const tokens = toTokens(g, groupNorm(g, `${p}.group_norm`, h, top, groups, EPS));
  const names = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
  const attended = attention(g, p, tokens, tokens, { dim: top, contextDim: top, heads: 1, headDim: top, names, qkvBias: true });
  h = g.op('Add', [fromTokens(g, attended, h), h]);
  h = block('decoder.mid_block.resnets.1', h, top, top);

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
  g.output('sample', image, 'float32', ['batch_size', c.out_channels, 'height', 'width']);
}
