// The contract between the graph builders and where parameters come from: random init (hack's tiny-model
// generator) or a checkpoint (safetensors). Builders name each parameter as the diffusers/transformers state dict does.
import type onnxProto from 'onnx-proto';

/** How a random source would initialise a parameter: uniform noise of a standard deviation around a centre. */
export interface Init {
  readonly center: number;
  readonly std: number;
}

/** Variance-preserving init for a layer with `fanIn` inputs (keeps activations O(1)). */
export const fanIn = (n: number, gain = 1): Init => ({ center: 0, std: gain / Math.sqrt(n) });
/** Norm scales near 1 and biases near 0, slightly perturbed so the network is not symmetric. */
export const normScale: Init = { center: 1, std: 0.05 };
export const smallBias: Init = { center: 0, std: 0.02 };

/**
 * How the graph lays a parameter out compared with the torch state dict:
 * - 'same': identical shape (conv kernels, embeddings, biases);
 * - 'linear': torch.nn.Linear weight [out, in] stored [in, out] so it feeds MatMul (as exporters transpose it);
 * - 'channel': a per-channel vector [C] stored [C, 1, 1] to broadcast over [N, C, H, W] (GroupNorm affine).
 */
export type ParamLayout = 'same' | 'linear' | 'channel';

/** Element type of stored floating-point parameters. */
export type FloatElem = 'float32' | 'float16';

export interface ParamRequest {
  /** The state-dict name, e.g. "down_blocks.0.resnets.1.conv1.weight". */
  readonly name: string;
  /** Shape in the graph's layout. */
  readonly dims: readonly number[];
  readonly layout: ParamLayout;
  /** What a random source draws from; checkpoint sources ignore it. */
  readonly init: Init;
  /** Element type the graph computes this parameter in. */
  readonly elem: FloatElem;
}

/** Supplies one initializer per parameter; large ones may be streamed to an external data file as they come. */
export interface WeightSource {
  tensor(request: ParamRequest): onnxProto.onnx.ITensorProto;
}
