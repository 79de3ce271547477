// What an ONNX export without per-component config.json (diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py,
// the OnnxStableDiffusionPipeline layout of older Hub repos) leaves to its graphs: UNet input channels and down
// blocks, VAE up blocks. Throws naming the file when the graph does not show them either.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnxGraph, type OnnxGraph } from './onnx-graph.js';

export interface UnetShape {
  inChannels: number;
  /** 2 ** (number of down blocks - 1): latents must divide by it. */
  downFactor: number;
  /** encoder_hidden_states' width: 768 for SD 1.x, 1024 for SD 2.x. */
  crossAttentionDim: number | undefined;
}

export interface VaeShape {
  /** diffusers' vae_scale_factor, 2 ** (number of up blocks - 1). */
  scaleFactor: number;
}

/** Channels of graph input `name`: a fixed axis 1, else the input channels of the Conv that reads it. */
function graphOf(dir: string, component: string): { graph: OnnxGraph; path: string } {
  const path = join(dir, component, 'model.onnx');
  if (!existsSync(path)) throw new Error(`model folder has neither ${join(dir, component, 'config.json')} nor ${path}`);
  return { graph: readOnnxGraph(path), path };
}

function channels(graph: OnnxGraph, name: string, path: string): number {
  const input = graph.inputs.find((i) => i.name === name);
  if (!input) throw new Error(`${path} has no input ${name}`);
  const fixed = input.dims[1];
  if (typeof fixed === 'number' && fixed > 0) return fixed;
  const conv = graph.nodes.find((n) => n.opType === 'Conv' && n.inputs[0] === name);
  const weight = conv && graph.initializers.get(conv.inputs[1]!);
  if (!weight || weight.length !== 4) throw new Error(`${path}: ${name}'s channel axis is symbolic and no Conv with a weight initializer reads it`);
  return weight[1]!;
}

export function unetFromGraph(dir: string): UnetShape {
  const { graph, path } = graphOf(dir, 'unet');
  // Each down block but the last ends in a stride-2 Conv (Downsample2D); nothing else in a UNet has stride 2.
  const downsamplers = graph.nodes.filter((n) => n.opType === 'Conv' && (n.ints.strides ?? []).some((s) => s > 1)).length;
  const hidden = graph.inputs.find((i) => i.name === 'encoder_hidden_states')?.dims[2];
  return { inChannels: channels(graph, 'sample', path), downFactor: 2 ** downsamplers, crossAttentionDim: typeof hidden === 'number' ? hidden : undefined };
}

export function vaeFromGraph(dir: string): VaeShape {
  const { graph, path } = graphOf(dir, 'vae_decoder');
  // Each up block but the last ends in an Upsample2D: nearest 2x, exported as Resize (opset >= 11) or Upsample.
  const upsamplers = graph.nodes.filter((n) => n.opType === 'Resize' || n.opType === 'Upsample').length;
  if (upsamplers === 0) throw new Error(`${path}: no Resize/Upsample nodes, cannot derive the VAE scale factor without vae_decoder/config.json`);
  if (!graph.inputs.some((i) => i.name === 'latent_sample')) throw new Error(`${path} has no input latent_sample`);
  return { scaleFactor: 2 ** upsamplers };
}
