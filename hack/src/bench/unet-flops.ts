// Floating-point operations of one diffusers UNet2DConditionModel forward pass, counted from its config.json:
// 2 FLOPs per multiply-add of convolutions, linear layers and attention matmuls (norms, activations and
// element-wise ops are left out; they are a few percent of the total).

export interface UNetShape {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  down_block_types: string[];
  up_block_types: string[];
  cross_attention_dim: number;
  transformer_layers_per_block?: number | number[];
  addition_embed_type?: string | null;
  addition_time_embed_dim?: number | null;
  projection_class_embeddings_input_dim?: number | null;
}

/** FLOPs of one UNet call on `batch` latents of latentH x latentW with a `contextTokens`-token text context. */
export function unetFlops(c: UNetShape, batch: number, latentH: number, latentW: number, contextTokens = 77): number {
  const n = c.block_out_channels.length;
  const ch = c.block_out_channels;
  const ch0 = ch[0]!;
  const tembDim = 4 * ch0;
  const layersOf = (i: number) =>
    Array.isArray(c.transformer_layers_per_block) ? c.transformer_layers_per_block[i]! : (c.transformer_layers_per_block ?? 1);
  let macs = 0;
  const conv = (cin: number, cout: number, k: number, pixels: number) => (macs += cin * cout * k * k * pixels);
  const linear = (inF: number, outF: number, rows: number) => (macs += inF * outF * rows);

  // Time embedding MLP (and SDXL's add_embedding), once per sample.
  linear(ch0, tembDim, 1);
  linear(tembDim, tembDim, 1);
  if (c.addition_embed_type === 'text_time' && c.projection_class_embeddings_input_dim) {
    linear(c.projection_class_embeddings_input_dim, tembDim, 1);
    linear(tembDim, tembDim, 1);
  }
  const resnet = (cin: number, cout: number, pixels: number) => {
    conv(cin, cout, 3, pixels);
    linear(tembDim, cout, 1);
    conv(cout, cout, 3, pixels);
    if (cin !== cout) conv(cin, cout, 1, pixels);
  };
  const transformer = (channels: number, pixels: number, layers: number) => {
    const m = contextTokens;
    const cd = c.cross_attention_dim;
    linear(channels, channels, pixels); // proj_in
    for (let l = 0; l < layers; l++) {
      linear(channels, 4 * channels, pixels); // attn1 q, k, v, out
      macs += 2 * pixels * pixels * channels; // attn1 scores and weighted sum
      linear(channels, 2 * channels, pixels); // attn2 q, out
      linear(cd, 2 * channels, m); // attn2 k, v on the text context
      macs += 2 * pixels * m * channels; // attn2 scores and weighted sum
      linear(channels, 8 * channels, pixels); // GEGLU projection
      linear(4 * channels, channels, pixels); // feed-forward out
    }
    linear(channels, channels, pixels); // proj_out
  };

  let h = latentH;
  let w = latentW;
  conv(c.in_channels, ch0, 3, h * w);
  const skips: number[] = [ch0];
  let cin = ch0;
  for (let i = 0; i < n; i++) {
    const cout = ch[i]!;
    for (let j = 0; j < c.layers_per_block; j++) {
      resnet(j === 0 ? cin : cout, cout, h * w);
      if (c.down_block_types[i] === 'CrossAttnDownBlock2D') transformer(cout, h * w, layersOf(i));
      skips.push(cout);
    }
    if (i < n - 1) {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
      conv(cout, cout, 3, h * w);
      skips.push(cout);
    }
    cin = cout;
  }
  resnet(cin, cin, h * w);
  transformer(cin, h * w, layersOf(n - 1));
  resnet(cin, cin, h * w);
  let prev = cin;
  for (let i = 0; i < n; i++) {
    const d = n - 1 - i;
    const cout = ch[d]!;
    for (let j = 0; j <= c.layers_per_block; j++) {
      resnet((j === 0 ? prev : cout) + skips.pop()!, cout, h * w);
      if (c.up_block_types[i] === 'CrossAttnUpBlock2D') transformer(cout, h * w, layersOf(d));
    }
    if (i < n - 1) {
      h *= 2;
      w *= 2;
      conv(cout, cout, 3, h * w);
    }
    prev = cout;
  }
  conv(ch0, c.out_channels, 3, h * w);
  return 2 * macs * batch;
}
