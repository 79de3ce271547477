// Writes a preset as a diffusers save_pretrained folder (model_index.json, component config.json files, safetensors in
// torch layouts) with the same random weights the ONNX generator uses, streamed tensor by tensor: inputs for the
// converter's tests and benches (an sdxl-shape pipeline is 13.7 GB).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type onnxProto from 'onnx-proto';
import { buildClip } from '@hypergen/server/convert/clip.js';
import { DIFFUSERS_VERSION } from '@hypergen/server/convert/configs.js';
import { Graph } from '@hypergen/server/convert/graph.js';
import { buildUNet } from '@hypergen/server/convert/unet.js';
import { buildVaeDecoder, buildVaeEncoder } from '@hypergen/server/convert/vae.js';
import type { ParamRequest, WeightSource } from '@hypergen/server/convert/weight-source.js';
import type { Preset } from './presets.js';
import { type TensorToWrite, writeSafetensors } from './safetensors-writer.js';
import { generate } from './weights.js';
import { writeJson } from './write-json.js';

/** Collects the parameters a graph asks for, without producing any data. */
class Recorder implements WeightSource {
  readonly requests: ParamRequest[] = [];
  tensor(request: ParamRequest): onnxProto.onnx.ITensorProto {
    this.requests.push(request);
    return { name: request.name };
  }
}

function parameters(build: (g: Graph) => void): ParamRequest[] {
  const recorder = new Recorder();
  build(new Graph('record', recorder));
  return recorder.requests;
}

/** A parameter in the torch state-dict layout, its values drawn as the ONNX generator draws them (seedPrefix/name). */
function torchTensor(r: ParamRequest, seedPrefix: string): TensorToWrite {
  const count = r.dims.reduce((a, b) => a * b, 1);
  const seedText = `${seedPrefix}/${r.name}`;
  if (r.layout !== 'linear') {
    const shape = r.layout === 'channel' ? [r.dims[0] as number] : r.dims;
    return {
      name: r.name,
      dtype: 'F32',
      shape,
      write: (sink) => generate(seedText, count, r.init, (chunk) => sink(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))),
    };
  }
  const [inF, outF] = r.dims as [number, number];
  return {
    name: r.name,
    dtype: 'F32',
    shape: [outF, inF],
    write: (sink) => {
      const graph = new Float32Array(count); // [in, out]
      let at = 0;
      generate(seedText, count, r.init, (chunk) => {
        graph.set(chunk, at);
        at += chunk.length;
      });
      const torch = new Float32Array(count);
      for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) torch[o * inF + i] = graph[i * outF + o] as number;
      sink(new Uint8Array(torch.buffer));
    },
  };
}

export interface DiffusersComponentReport {
  readonly component: string;
  readonly parameters: number;
  readonly bytes: number;
}

/** Writes text_encoder[_2]/, unet/ and vae/ (encoder and decoder) of preset `p` into `dir`. */
export function writeDiffusersComponents(dir: string, p: Preset, seed: number): DiffusersComponentReport[] {
  const clipExport = p.clipExport;
  const parts: { folder: string; file: string; config: object; tensors: TensorToWrite[] }[] = [];
  const encoder = (folder: string, c: Preset['textEncoder']) => ({
    folder,
    file: 'model.safetensors',
    config: c,
    tensors: parameters((g) => buildClip(g, c, clipExport)).map((r) => torchTensor(r, `${seed}/${folder}`)),
  });
  parts.push(encoder('text_encoder', p.textEncoder));
  if (p.textEncoder2 !== undefined) parts.push(encoder('text_encoder_2', p.textEncoder2));
  parts.push({
    folder: 'unet',
    file: 'diffusion_pytorch_model.safetensors',
    config: p.unet,
    tensors: parameters((g) => buildUNet(g, p.unet, p.timestep)).map((r) => torchTensor(r, `${seed}/unet`)),
  });
  parts.push({
    folder: 'vae',
    file: 'diffusion_pytorch_model.safetensors',
    config: p.vae,
    tensors: [
      ...parameters((g) => buildVaeEncoder(g, p.vae)).map((r) => torchTensor(r, `${seed}/vae_encoder`)),
      ...parameters((g) => buildVaeDecoder(g, p.vae)).map((r) => torchTensor(r, `${seed}/vae_decoder`)),
    ],
  });
  return parts.map(({ folder, file, config, tensors }) => {
    mkdirSync(join(dir, folder), { recursive: true });
    writeJson(join(dir, folder, 'config.json'), config);
    const bytes = writeSafetensors(join(dir, folder, file), tensors, { format: 'pt' });
    return { component: folder, parameters: tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0), bytes };
  });
}

/** diffusers' model_index.json for the preset's pipeline class. */
export function diffusersIndex(p: Preset): Record<string, unknown> {
  const sdxl = p.textEncoder2 !== undefined;
  return {
    _class_name: sdxl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
    _diffusers_version: DIFFUSERS_VERSION,
    feature_extractor: [null, null],
    image_encoder: [null, null],
    scheduler: ['diffusers', p.scheduler._class_name],
    text_encoder: ['transformers', p.textEncoder.architectures[0]],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
    ...(sdxl
      ? { force_zeros_for_empty_prompt: true, text_encoder_2: ['transformers', p.textEncoder2?.architectures[0]], tokenizer_2: ['transformers', 'CLIPTokenizer'] }
      : { requires_safety_checker: false, safety_checker: [null, null] }),
  };
}
