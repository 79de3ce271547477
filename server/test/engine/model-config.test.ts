// Family, defaults and limits derived from a pipeline folder's JSON files (no ONNX sessions involved).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { readModelConfig } from '../../src/engine/pipeline/model-config.js';
import { resolveSchedulerConfig } from '../../src/engine/schedulers/index.js';

const roots: string[] = [];
afterAll(() => roots.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Layout {
  index: Record<string, unknown>;
  scheduler: Record<string, unknown>;
  unet: Record<string, unknown>;
  vae?: Record<string, unknown>;
}

function folder({ index, scheduler, unet, vae }: Layout): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-model-'));
  roots.push(dir);
  const write = (path: string, json: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(json));
  };
  write('model_index.json', index);
  write('scheduler/scheduler_config.json', scheduler);
  write('unet/config.json', unet);
  write('vae_decoder/config.json', vae ?? { block_out_channels: [128, 256, 512, 512], scaling_factor: 0.18215, latent_channels: 4 });
  write('text_encoder/config.json', { num_hidden_layers: 12 });
  if ('text_encoder_2' in index) write('text_encoder_2/config.json', { num_hidden_layers: 32 });
  return dir;
}

const SD15_UNET = { sample_size: 64, in_channels: 4, block_out_channels: [320, 640, 1280, 1280] };
const SDXL_UNET = { sample_size: 128, in_channels: 4, block_out_channels: [320, 640, 1280], addition_embed_type: 'text_time' };
const SDXL_INDEX = { _class_name: 'ORTStableDiffusionXLPipeline', text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] };

describe('model folder configuration', () => {
  it('SD 1.5 (PNDM scheduler): 512 px, 25 steps, guidance 7.5, PNDM, sizes in multiples of 64', () => {
    const config = readModelConfig(
      folder({ index: { _class_name: 'ORTStableDiffusionPipeline' }, scheduler: { _class_name: 'PNDMScheduler', skip_prk_steps: true }, unet: SD15_UNET }),
    );
    expect(config.family).toBe('sd');
    expect(config.defaults).toEqual({ width: 512, height: 512, steps: 25, guidanceScale: 7.5, scheduler: 'pndm' });
    expect(config.limits).toEqual({ sizeMultiple: 64, minSize: 64, maxSize: 1024, maxSteps: 150 });
    expect(config.vaeScaleFactor).toBe(8);
    expect(config.forceZerosForEmptyPrompt).toBe(false);
  });

  it('SD 2.x v-prediction keeps the family and carries the prediction type to the schedulers', () => {
    const config = readModelConfig(
      folder({
        index: { _class_name: 'ORTStableDiffusionPipeline' },
        scheduler: { _class_name: 'DDIMScheduler', prediction_type: 'v_prediction', timestep_spacing: 'leading' },
        unet: { ...SD15_UNET, sample_size: 96 },
      }),
    );
    expect(config.family).toBe('sd');
    expect(resolveSchedulerConfig('ddim', config.scheduler).predictionType).toBe('v_prediction');
    expect(resolveSchedulerConfig('euler', config.scheduler).predictionType).toBe('v_prediction');
    expect(config.defaults).toMatchObject({ width: 768, scheduler: 'ddim' });
  });

  it('SDXL base: 1024 px, 30 steps, guidance 5, the configured Euler, penultimate layers of both encoders', () => {
    const config = readModelConfig(
      folder({
        index: { ...SDXL_INDEX, force_zeros_for_empty_prompt: true },
        scheduler: { _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'leading' },
        unet: SDXL_UNET,
        vae: { block_out_channels: [128, 256, 512, 512], scaling_factor: 0.13025 },
      }),
    );
    expect(config.family).toBe('sdxl');
    expect(config.defaults).toEqual({ width: 1024, height: 1024, steps: 30, guidanceScale: 5, scheduler: 'euler' });
    expect(config.limits.sizeMultiple).toBe(32);
    expect(config.textEncoderLayers).toEqual([12, 32]);
    expect(config.vaeScalingFactor).toBe(0.13025);
    expect(config.forceZerosForEmptyPrompt).toBe(true);
  });

  it("the VAE's tile for --vae-tiling: its config's sample_size (a number, or the first of a list), else the default size", () => {
    const sd = { index: { _class_name: 'ORTStableDiffusionPipeline' }, scheduler: { _class_name: 'EulerDiscreteScheduler' }, unet: SD15_UNET };
    const vae = { block_out_channels: [128, 256, 512, 512], scaling_factor: 0.18215 };
    expect(readModelConfig(folder({ ...sd, vae: { ...vae, sample_size: 768 } })).vaeSampleSize).toBe(768);
    expect(readModelConfig(folder({ ...sd, vae: { ...vae, sample_size: [1024, 1024] } })).vaeSampleSize).toBe(1024);
    expect(readModelConfig(folder({ ...sd, vae })).vaeSampleSize).toBe(512);
    expect(() => readModelConfig(folder({ ...sd, vae: { ...vae, sample_size: 'big' } }))).toThrow(/sample_size must be a positive number/);
  });

  it('SDXL Turbo (trailing schedule): 1 step, no guidance, Euler ancestral', () => {
    const config = readModelConfig(
      folder({
        index: SDXL_INDEX,
        scheduler: { _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing' },
        unet: { ...SDXL_UNET, sample_size: 64 },
      }),
    );
    expect(config.family).toBe('sdxl-turbo');
    expect(config.defaults).toEqual({ width: 512, height: 512, steps: 1, guidanceScale: 0, scheduler: 'euler_a' });
  });

  it('an unimplemented option of the model\'s own scheduler fails the load, naming the option', () => {
    const dir = folder({ index: { _class_name: 'ORTStableDiffusionPipeline' }, scheduler: { _class_name: 'DDIMScheduler', thresholding: true }, unet: SD15_UNET });
    expect(() => readModelConfig(dir)).toThrow(/scheduler_config\.json: .*DDIMScheduler thresholding true is not supported/);
  });

  it('a scheduler class we do not implement falls back to DPM++ 2M (SD) with its own class defaults', () => {
    const config = readModelConfig(folder({ index: {}, scheduler: { _class_name: 'KDPM2DiscreteScheduler' }, unet: SD15_UNET }));
    expect(config.defaults.scheduler).toBe('dpmpp_2m');
  });

  it('reads Python json (NaN, Infinity, -Infinity) in every config file', () => {
    const dir = folder({ index: {}, scheduler: {}, unet: SD15_UNET });
    writeFileSync(join(dir, 'scheduler/scheduler_config.json'), '{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "sample_max_value": NaN}');
    writeFileSync(join(dir, 'unet/config.json'), JSON.stringify(SD15_UNET).replace('}', ', "note": "NaN -Infinity", "x": Infinity}'));
    const config = readModelConfig(dir);
    expect(config.defaults.scheduler).toBe('dpmpp_2m');
    expect(config.scheduler.values.lambda_min_clipped).toBe(-Infinity);
    expect(Number.isNaN(config.scheduler.values.sample_max_value)).toBe(true);
  });

  it('names the missing or broken file', () => {
    const dir = folder({ index: {}, scheduler: {}, unet: SD15_UNET });
    writeFileSync(join(dir, 'unet/config.json'), '{not json');
    expect(() => readModelConfig(dir)).toThrow(/unet\/config\.json/);
    rmSync(join(dir, 'scheduler/scheduler_config.json'));
    expect(() => readModelConfig(dir)).toThrow(/scheduler_config\.json/);
  });
});
