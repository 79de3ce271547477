// transformers CLIPTextModel / CLIPTextModelWithProjection (modeling_clip.py, 4.42 semantics) as an ONNX graph with
// Optimum's names: input_ids -> last_hidden_state, pooler_output or text_embeds, and hidden_states.0..N for SDXL.
import type { ClipTextConfig } from './configs.js';
import { UnsupportedModelError } from './errors.js';
import type { ElemType, Graph } from './graph.js';
import { activation, attention, layerNorm, linear } from './layers.js';

export interface ClipExport {
  /** input_ids dtype: int32 in some exports, int64 in others. */
  readonly idsElem: Extract<ElemType, 'int32' | 'int64'>;
  /** Also expose hidden_states.0..N (SDXL exports do; SDXL conditions on hidden_states.{N-1}). */
  readonly hiddenStates: boolean;
}

/** Additive causal mask: finite (float16's lowest for fp16 graphs), so a fully masked row could never produce NaN. */
const NEG = { float32: -1e9, float16: -65504 } as const;

export function buildClip(g: Graph, c: ClipTextConfig, ex: ClipExport): void {
  const d = c.hidden_size;
  const heads = c.num_attention_heads;
  if (d % heads !== 0) throw new UnsupportedModelError(`text encoder: hidden_size ${d} does not split into ${heads} heads`);
  const maxLen = c.max_position_embeddings;
  const withProjection = c.architectures[0] === 'CLIPTextModelWithProjection';

  const ids = g.input('input_ids', ex.idsElem, ['batch_size', 'sequence_length']);
  const length = g.op('Shape', [ids], { start: 1, end: 2 });
  const tokens = g.op('Gather', [g.param('text_model.embeddings.token_embedding.weight', [c.vocab_size, d], { center: 0, std: 0.5 }), ids]);
  const positions = g.op('Slice', [
    g.param('text_model.embeddings.position_embedding.weight', [maxLen, d], { center: 0, std: 0.1 }),
    g.ints([0]),
    length,
    g.ints([0]),
  ]);
  let x = g.op('Add', [tokens, positions]);

  const causal = new Float32Array(maxLen * maxLen);
  for (let i = 0; i < maxLen; i++) for (let j = i + 1; j < maxLen; j++) causal[i * maxLen + j] = NEG[g.float];
  const mask = g.op('Slice', [
    g.floats([maxLen, maxLen], causal),
    g.ints([0, 0]),
    g.op('Concat', [length, length], { axis: 0 }),
    g.ints([0, 1]),
  ]);

  const hidden = [x];
  const names = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    const n1 = layerNorm(g, `${p}.layer_norm1`, x, d, c.layer_norm_eps);
    const spec = { dim: d, contextDim: d, heads, headDim: d / heads, names, qkvBias: true, mask };
    x = g.op('Add', [x, attention(g, `${p}.self_attn`, n1, n1, spec)]);
    const n2 = layerNorm(g, `${p}.layer_norm2`, x, d, c.layer_norm_eps);
    const inner = activation(g, c.hidden_act, linear(g, `${p}.mlp.fc1`, n2, d, c.intermediate_size));
    x = g.op('Add', [x, linear(g, `${p}.mlp.fc2`, inner, c.intermediate_size, d)]);
    hidden.push(x);
  }
  const last = layerNorm(g, 'text_model.final_layer_norm', x, d, c.layer_norm_eps);

  // Pooled output, as CLIPTextTransformer picks it: with the legacy eos_token_id 2 (configs saved before
  // transformers 4.31) the token at argmax(input_ids), i.e. the first id 49407; otherwise the first eos_token_id.
  // ArgMax returns the first maximum; the Cast to float32 is exact for ids < 2^24.
  const match = c.eos_token_id === 2 ? ids : g.op('Equal', [g.cast(ids, 'int64', ex.idsElem), g.constant('int64', [], [c.eos_token_id])]);
  const eot = g.op('ArgMax', [g.cast(match, 'float32')], { axis: -1, keepdims: 1 });
  const pooled = g.op('GatherND', [last, eot], { batch_dims: 1 });

  const seq = ['batch_size', 'sequence_length', d];
  if (withProjection) {
    const embeds = linear(g, 'text_projection', pooled, d, c.projection_dim, false);
    g.output('text_embeds', embeds, g.float, ['batch_size', c.projection_dim]);
    g.output('last_hidden_state', last, g.float, seq);
  } else {
    g.output('last_hidden_state', last, g.float, seq);
    g.output('pooler_output', pooled, g.float, ['batch_size', d]);
  }
  if (ex.hiddenStates) hidden.forEach((h, i) => g.output(`hidden_states.${i}`, h, g.float, seq));
}
