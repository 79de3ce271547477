// The layout of diffusers' own ONNX conversion script (older Hub exports): no unet/, vae_decoder/ or text_encoder/
// config.json, OnnxStableDiffusionPipeline in model_index.json. Made here from models/tiny-sd by removing the configs.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { createEngine } from '../../src/engine/index.js';
import { readModelConfig } from '../../src/engine/pipeline/model-config.js';
import { readOnnxGraph } from '../../src/engine/pipeline/onnx-graph.js';
import type { GenerationRequest } from '../../src/engine/types.js';

const TINY = join(import.meta.dirname, '../../../models/tiny-sd');
const logger = pino({ level: 'silent' });
let legacy: string;

beforeAll(() => {
  if (!existsSync(TINY)) throw new Error(`${TINY} is missing: run \`make tiny-models\``);
  legacy = mkdtempSync(join(tmpdir(), 'hg-legacy-'));
  cpSync(TINY, legacy, { recursive: true });
  for (const component of ['unet', 'vae_decoder', 'text_encoder']) rmSync(join(legacy, component, 'config.json'));
  // What OnnxStableDiffusionPipeline.save_pretrained writes (diffusers v0.30.3).
  const index = {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.3',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
  };
  writeFileSync(join(legacy, 'model_index.json'), JSON.stringify(index));
  // The script exports timestep as float ([batch]); tiny-sd's graph casts its int64 timestep to float first, so
  // declaring the input float32 (elem_type 7 -> 1 in its ValueInfoProto) gives the same graph with a float input.
  const unetPath = join(legacy, 'unet', 'model.onnx');
  const unet = readFileSync(unetPath);
  const name = Buffer.from('\x0a\x08timestep', 'latin1');
  let patched = false;
  for (let at = unet.indexOf(name); at >= 0 && !patched; at = unet.indexOf(name, at + 1)) {
    const type = at + name.length; // 0x12 len, then TypeProto: 0x0a len (tensor_type), 0x08 elem_type
    if (unet[type] === 0x12 && unet[type + 2] === 0x0a && unet[type + 4] === 0x08 && unet[type + 5] === 7) {
      unet[type + 5] = 1;
      patched = true;
    }
  }
  if (!patched) throw new Error('tiny-sd unet: timestep input not found');
  writeFileSync(unetPath, unet);
});
afterAll(() => rmSync(legacy, { recursive: true, force: true }));

describe('legacy ONNX layout (no component config.json)', () => {
  it('has the legacy graph interface: int32 input_ids, float timestep', () => {
    const unet = readOnnxGraph(join(legacy, 'unet', 'model.onnx'));
    expect(unet.inputs.find((i) => i.name === 'timestep')?.elemType).toBe(1);
    expect(readOnnxGraph(join(legacy, 'text_encoder', 'model.onnx')).inputs[0]).toMatchObject({ name: 'input_ids', elemType: 6 });
  });

  it('derives latent channels, VAE scale factor and UNet downsampling from the graphs', () => {
    const derived = readModelConfig(legacy);
    const original = readModelConfig(TINY);
    expect(derived.latentChannels).toBe(original.latentChannels);
    expect(derived.vaeScaleFactor).toBe(original.vaeScaleFactor);
    expect(derived.limits.sizeMultiple).toBe(original.limits.sizeMultiple);
    expect(derived.vaeScalingFactor).toBe(0.18215);
    // The export's graphs have dynamic height and width: SD 1.x's 64 latents, 512 px.
    expect(derived.defaults.width).toBe(64 * derived.vaeScaleFactor);
    expect(derived.family).toBe('sd');
  });

  it('says what is missing when neither the config nor the graph is there', () => {
    const broken = mkdtempSync(join(tmpdir(), 'hg-legacy-broken-'));
    try {
      cpSync(legacy, broken, { recursive: true });
      rmSync(join(broken, 'vae_decoder', 'model.onnx'));
      expect(() => readModelConfig(broken)).toThrow(/neither .*vae_decoder\/config\.json nor .*vae_decoder\/model\.onnx/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('loads and generates the same image as the Optimum layout of the same weights', async () => {
    const request: GenerationRequest = {
      prompt: 'a photo of a cat', n: 1, width: 64, height: 64, steps: 3, guidanceScale: 7.5, seed: 5, scheduler: 'euler', outputFormat: 'png',
    };
    const engines = [legacy, TINY].map((modelDir) => createEngine({ modelDir, device: 'cpu', dtype: 'fp32', logger }));
    try {
      await Promise.all(engines.map((e) => e.load()));
      const [a, b] = await Promise.all(engines.map(async (e) => (await e.generate([request]))[0]!));
      expect(a!.images[0]!.data.equals(b!.images[0]!.data)).toBe(true);
      expect(JSON.parse(readFileSync(join(legacy, 'model_index.json'), 'utf8'))._class_name).toBe('OnnxStableDiffusionPipeline');
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });
});
