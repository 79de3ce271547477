// Building blocks shared by the UNet, the VAE and CLIP, written the way torch.onnx exports them; each follows the
// named diffusers/transformers module (parameter names included) so checkpoint weights drop in.
import { float, type Graph } from './graph.js';
import { fanIn, normScale, smallBias } from './weight-source.js';

/** torch.nn.Linear; the weight is stored [in, out] so it feeds MatMul directly (as exporters transpose it). */
export function linear(g: Graph, p: string, x: string, inF: number, outF: number, bias = true, gain = 1): string {
  const y = g.op('MatMul', [x, g.param(`${p}.weight`, [inF, outF], fanIn(inF, gain), 'linear')]);
  return bias ? g.op('Add', [y, g.param(`${p}.bias`, [outF], smallBias)]) : y;
}

/** Square-kernel torch.nn.Conv2d; `pad` defaults to "same" padding for odd kernels. */
export function conv(g: Graph, p: string, x: string, cin: number, cout: number, k: number, stride = 1, gain = 1, pad = (k - 1) >> 1): string {
  const w = g.param(`${p}.weight`, [cout, cin, k, k], fanIn(cin * k * k, gain));
  const b = g.param(`${p}.bias`, [cout], smallBias);
  return g.op('Conv', [x, w, b], { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] });
}

/**
 * torch.nn.GroupNorm as torch exports it before opset 18: reshape to [N, groups, -1], InstanceNormalization with
 * unit scale, reshape back, then the per-channel affine.
 */
export function groupNorm(g: Graph, p: string, x: string, channels: number, groups: number, eps: number): string {
  if (channels % groups !== 0) throw new Error(`${p}: ${channels} channels do not split into ${groups} groups`);
  const grouped = g.op('Reshape', [x, g.ints([0, groups, -1])]);
  const ones = g.constant(g.float, [groups], new Array<number>(groups).fill(1));
  const zeros = g.constant(g.float, [groups], new Array<number>(groups).fill(0));
  const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: float(eps) });
  const back = g.op('Reshape', [normed, g.op('Shape', [x])]);
  const scaled = g.op('Mul', [back, g.param(`${p}.weight`, [channels, 1, 1], normScale, 'channel')]);
  return g.op('Add', [scaled, g.param(`${p}.bias`, [channels, 1, 1], smallBias, 'channel')]);
}

/** torch.nn.LayerNorm over the last axis, with affine. */
export function layerNorm(g: Graph, p: string, x: string, dim: number, eps: number): string {
  const scale = g.param(`${p}.weight`, [dim], normScale);
  const bias = g.param(`${p}.bias`, [dim], smallBias);
  return g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: float(eps) });
}

export const silu = (g: Graph, x: string): string => g.op('Mul', [x, g.op('Sigmoid', [x])]);

/** Exact (erf) GELU, torch's default; opset 17 has no Gelu op, and onnxruntime fuses this pattern. */
export function gelu(g: Graph, x: string): string {
  const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [erf, g.scalar(1)])]);
}

/** transformers' quick_gelu: x * sigmoid(1.702 x). */
export const quickGelu = (g: Graph, x: string): string =>
  g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar(1.702)])])]);

export type Activation = 'gelu' | 'quick_gelu' | 'silu';
export function activation(g: Graph, act: Activation, x: string): string {
  if (act === 'gelu') return gelu(g, x);
  if (act === 'quick_gelu') return quickGelu(g, x);
  return silu(g, x);
}

export interface AttentionSpec {
  readonly dim: number; // query width
  readonly contextDim: number; // key/value source width
  readonly heads: number;
  readonly headDim: number;
  readonly names: { readonly q: string; readonly k: string; readonly v: string; readonly out: string };
  readonly qkvBias: boolean;
  /** Additive mask broadcast over [batch, heads, Lq, Lk] (CLIP's causal mask). */
  readonly mask?: string;
  /** diffusers' upcast_attention / upcast_softmax: scores and softmax in float32 (matters only in fp16 graphs). */
  readonly upcast?: boolean;
}

/**
 * Multi-head scaled dot-product attention (diffusers Attention with AttnProcessor2_0, transformers CLIPAttention):
 * softmax(q k^T / sqrt(head_dim)) v; tokens are [batch, length, width]. With `g.attention` 'fused' and no mask it is
 * one MultiHeadAttention (onnxruntime contrib ops, com.microsoft domain: query/key/value [B, L, H*D], `num_heads`,
 * `scale`); otherwise, and for masked attention (CLIP's causal mask at 77 tokens, where the op's masked path is the
 * unfused one anyway), MatMul/Softmax/MatMul as torch.onnx exports it.
 */
export function attention(g: Graph, p: string, x: string, context: string, s: AttentionSpec): string {
  const inner = s.heads * s.headDim;
  let q = linear(g, `${p}.${s.names.q}`, x, s.dim, inner, s.qkvBias);
  let k = linear(g, `${p}.${s.names.k}`, context, s.contextDim, inner, s.qkvBias);
  let v = linear(g, `${p}.${s.names.v}`, context, s.contextDim, inner, s.qkvBias);
  const upcast = s.upcast === true && g.float !== 'float32';
  let merged: string;
  if (g.attention === 'fused' && s.mask === undefined) {
    // upcast: the whole op in float32 (diffusers multiplies the float16 probabilities with v; float32 is closer still).
    if (upcast) [q, k, v] = [q, k, v].map((t) => g.cast(t, 'float32')) as [string, string, string];
    merged = g.msOp('MultiHeadAttention', [q, k, v], { num_heads: s.heads, scale: float(1 / Math.sqrt(s.headDim)) });
    if (upcast) merged = g.cast(merged, g.float);
  } else {
    const heads = g.ints([0, 0, s.heads, s.headDim]);
    const split = (t: string, perm: number[]): string => g.op('Transpose', [g.op('Reshape', [t, heads])], { perm });
    q = split(q, [0, 2, 1, 3]); // [B,H,Lq,D]
    k = split(k, [0, 2, 3, 1]); // [B,H,D,Lk]
    v = split(v, [0, 2, 1, 3]); // [B,H,Lk,D]
    if (upcast) {
      q = g.cast(q, 'float32');
      k = g.cast(k, 'float32');
    }
    const scale = upcast ? g.constant('float32', [], [1 / Math.sqrt(s.headDim)]) : g.scalar(1 / Math.sqrt(s.headDim));
    let scores = g.op('MatMul', [g.op('Mul', [q, scale]), k]);
    if (s.mask !== undefined) scores = g.op('Add', [scores, upcast ? g.cast(s.mask, 'float32') : s.mask]);
    let probs = g.op('Softmax', [scores], { axis: -1 });
    if (upcast) probs = g.cast(probs, g.float);
    merged = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, inner])]);
  }
  return linear(g, `${p}.${s.names.out}`, merged, inner, s.dim);
}

/** [B, C, H, W] -> [B, H*W, C] */
export const toTokens = (g: Graph, x: string): string =>
  g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, -1])])], { perm: [0, 2, 1] });

/** [B, H*W, C] -> the shape of `like` ([B, C, H, W]) */
export const fromTokens = (g: Graph, x: string, like: string): string =>
  g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 1] }), g.op('Shape', [like])]);

export interface ResnetSpec {
  readonly cin: number;
  readonly cout: number;
  readonly groups: number;
  readonly eps: number;
  /** silu(time embedding) and its width; absent in the VAE. */
  readonly temb?: { readonly value: string; readonly dim: number };
  /** diffusers' output_scale_factor: (shortcut + h) / factor; 1 unless the config says otherwise. */
  readonly outputScale?: number;
}

/** diffusers ResnetBlock2D (time_embedding_norm "default", SiLU, no up/down sampling inside). */
export function resnet(g: Graph, p: string, x: string, s: ResnetSpec): string {
  let h = conv(g, `${p}.conv1`, silu(g, groupNorm(g, `${p}.norm1`, x, s.cin, s.groups, s.eps)), s.cin, s.cout, 3);
  if (s.temb !== undefined) {
    const t = linear(g, `${p}.time_emb_proj`, s.temb.value, s.temb.dim, s.cout);
    h = g.op('Add', [h, g.op('Reshape', [t, g.ints([0, 0, 1, 1])])]);
  }
  h = conv(g, `${p}.conv2`, silu(g, groupNorm(g, `${p}.norm2`, h, s.cout, s.groups, s.eps)), s.cout, s.cout, 3);
  const shortcut = s.cin === s.cout ? x : conv(g, `${p}.conv_shortcut`, x, s.cin, s.cout, 1);
  const sum = g.op('Add', [shortcut, h]);
  const factor = s.outputScale ?? 1;
  return factor === 1 ? sum : g.op('Div', [sum, g.scalar(factor)]);
}

/** Nearest 2x upsampling of [B, C, H, W], as torch exports F.interpolate(scale_factor=2.0, mode="nearest"). */
export const nearest2x = (g: Graph, x: string): string =>
  g.op('Resize', [x, '', g.constant('float32', [4], [1, 1, 2, 2])], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });

/** diffusers Upsample2D (use_conv): nearest 2x then a 3x3 conv. */
export const upsample = (g: Graph, p: string, x: string, channels: number): string =>
  conv(g, `${p}.conv`, nearest2x(g, x), channels, channels, 3);

/**
 * diffusers Downsample2D (use_conv): a stride-2 3x3 conv. padding 1 is the UNet's; padding 0 (the VAE encoder's)
 * first pads the right and bottom edges by one zero, as diffusers does with F.pad(x, (0, 1, 0, 1)).
 */
export function downsample(g: Graph, p: string, x: string, channels: number, padding: 0 | 1 = 1): string {
  if (padding === 1) return conv(g, `${p}.conv`, x, channels, channels, 3, 2);
  const padded = g.op('Pad', [x, g.ints([0, 0, 0, 0, 0, 0, 1, 1])], { mode: 'constant' });
  return conv(g, `${p}.conv`, padded, channels, channels, 3, 2, 1, 0);
}
