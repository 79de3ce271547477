/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// Every tiny preset loads in onnxruntime-node and runs each component with the layout contract's names and shapes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { CLIP_TOKENIZER_DIR, ensurePipeline } from '../../src/models/pipeline.js';
import { type Preset, TINY_PRESETS } from '../../src/models/presets.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hg-models-'));
  for (const p of TINY_PRESETS) ensurePipeline(p, join(root, p.name));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Meta = [name: string, type: string, shape: (string | number)[]];
const meta = (list: readonly InferenceSession.ValueMetadata[]): Meta[] =>
  list.map((m) => [m.name, m.isTensor ? m.type : 'non-tensor', m.isTensor ? [...m.shape] : []]);

const read = (dir: string, file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;

/** The contract's input/output signature of each component of a tiny preset. */
function contract(p: Preset): Record<string, { inputs: Meta[]; outputs: Meta[] }> {
  const seq = ['batch_size', 'sequence_length', 32];
  const hidden = (n: number): Meta[] => Array.from({ length: n + 1 }, (_, i): Meta => [`hidden_states.${i}`, 'float32', seq]);
  const ids = p.family === 'sd' ? 'int32' : 'int64';
  const image: Meta = ['sample', 'float32', ['batch_size', 3, 'height', 'width']];
  const unetIn: Meta[] = [
    ['sample', 'float32', ['batch_size', 4, 'height', 'width']],
    p.family === 'sd' ? ['timestep', 'int64', ['steps']] : ['timestep', 'float32', []],
  ];
  if (p.family === 'sd') {
    return {
      text_encoder: {
        inputs: [['input_ids', ids, ['batch_size', 'sequence_length']]],
        outputs: [['last_hidden_state', 'float32', seq], ['pooler_output', 'float32', ['batch_size', 32]]],
      },
      unet: {
        inputs: [...unetIn, ['encoder_hidden_states', 'float32', seq]],
        outputs: [['out_sample', 'float32', ['batch_size', 4, 'height', 'width']]],
      },
      vae_decoder: { inputs: [['latent_sample', 'float32', ['batch_size', 4, 'latent_height', 'latent_width']]], outputs: [image] },
    };
  }
  return {
    text_encoder: {
      inputs: [['input_ids', ids, ['batch_size', 'sequence_length']]],
      outputs: [['last_hidden_state', 'float32', seq], ['pooler_output', 'float32', ['batch_size', 32]], ...hidden(2)],
    },
    text_encoder_2: {
      inputs: [['input_ids', ids, ['batch_size', 'sequence_length']]],
      outputs: [['text_embeds', 'float32', ['batch_size', 32]], ['last_hidden_state', 'float32', seq], ...hidden(2)],
    },
    unet: {
      inputs: [
        ...unetIn,
        ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 64]],
        ['text_embeds', 'float32', ['batch_size', 32]],
        ['time_ids', 'float32', ['batch_size', 6]],
      ],
      outputs: [['out_sample', 'float32', ['batch_size', 4, 'height', 'width']]],
    },
    vae_decoder: { inputs: [['latent_sample', 'float32', ['batch_size', 4, 'latent_height', 'latent_width']]], outputs: [image] },
  };
}

/** Deterministic pseudo-random values in [-scale, scale]. */
function noise(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/** "a photo of a cat" padded with end-of-text, the way the SD tokenizer does it. */
function ids(type: string, batch: number): Tensor {
  const row = [49406, 320, 1125, 539, 320, 2368, ...new Array<number>(71).fill(49407)];
  const all = Array.from({ length: batch }, () => row).flat();
  return type === 'int32' ? new Tensor('int32', Int32Array.from(all), [batch, 77]) : new Tensor('int64', BigInt64Array.from(all.map(BigInt)), [batch, 77]);
}

function timestep(session: InferenceSession, batch: number, t: number): Tensor {
  const m = session.inputMetadata.find((x) => x.name === 'timestep');
  if (m?.isTensor !== true) throw new Error('no timestep input');
  if (m.shape.length === 0) return new Tensor(m.type as 'float32', Float32Array.from([t]), []);
  return m.type === 'int64'
    ? new Tensor('int64', new BigInt64Array(batch).fill(BigInt(t)), [batch])
    : new Tensor('float32', new Float32Array(batch).fill(t), [batch]);
}

function expectFinite(t: Tensor): void {
  const data = t.data as Float32Array;
  expect(data.every(Number.isFinite)).toBe(true);
}

/** sqrt((1 - alphā_t) / alphā_t) for SD's scaled_linear betas 0.00085..0.012 over 1000 steps. */
function sigmaAt(t: number): number {
  let cumprod = 1;
  for (let i = 0; i <= t; i++) {
    const beta = (Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999) ** 2;
    cumprod *= 1 - beta;
  }
  return Math.sqrt((1 - cumprod) / cumprod);
}

const sdxlTimeIds = (batch: number): Tensor =>
  new Tensor('float32', Float32Array.from(Array.from({ length: batch }, () => [256, 256, 0, 0, 256, 256]).flat()), [batch, 6]);

describe.each(TINY_PRESETS.map((p) => [p.name, p] as const))('%s', (name, p) => {
  const dir = (): string => join(root, name);
  const sessions = new Map<string, InferenceSession>();
  const session = async (component: string): Promise<InferenceSession> => {
    const known = sessions.get(component);
    if (known !== undefined) return known;
    const created = await InferenceSession.create(join(dir(), component, 'model.onnx'));
    sessions.set(component, created);
    return created;
  };
  afterAll(async () => {
    for (const s of sessions.values()) await s.release();
  });

  it('has the contract input/output names, dtypes and dims for every component', async () => {
    for (const [component, sig] of Object.entries(contract(p))) {
      const s = await session(component);
      expect([component, meta(s.inputMetadata)]).toEqual([component, sig.inputs]);
      expect([component, meta(s.outputMetadata)]).toEqual([component, sig.outputs]);
    }
  });

  it.each([1, 2])('runs every component at batch %i with finite outputs of the right shape', async (batch) => {
    const te = await session('text_encoder');
    const idType = (te.inputMetadata[0] as { type: string }).type;
    const teOut = await te.run({ input_ids: ids(idType, batch) });
    for (const t of Object.values(teOut)) expectFinite(t);
    expect(teOut.last_hidden_state?.dims).toEqual([batch, 77, 32]);
    expect(teOut.pooler_output?.dims).toEqual([batch, 32]);

    const feeds: Record<string, Tensor> = {
      sample: new Tensor('float32', noise(batch * 4 * 32 * 24, 1), [batch, 4, 32, 24]),
      timestep: timestep(await session('unet'), batch, 999),
    };
    if (p.family === 'sdxl') {
      const te2 = await (await session('text_encoder_2')).run({ input_ids: ids(idType, batch) });
      for (const t of Object.values(te2)) expectFinite(t);
      expect(te2.text_embeds?.dims).toEqual([batch, 32]);
      expect(te2['hidden_states.2']?.dims).toEqual([batch, 77, 32]);
      feeds.encoder_hidden_states = new Tensor('float32', noise(batch * 77 * 64, 2), [batch, 77, 64]);
      feeds.text_embeds = te2.text_embeds as Tensor;
      feeds.time_ids = sdxlTimeIds(batch);
    } else {
      feeds.encoder_hidden_states = teOut.last_hidden_state as Tensor;
    }
    const unet = await (await session('unet')).run(feeds);
    expect(unet.out_sample?.dims).toEqual([batch, 4, 32, 24]);
    expectFinite(unet.out_sample as Tensor);

    const vae = await (await session('vae_decoder')).run({
      latent_sample: new Tensor('float32', noise(batch * 4 * 8 * 16, 3, 20), [batch, 4, 8, 16]),
    });
    expect(vae.sample?.dims).toEqual([batch, 3, 64, 128]);
    expectFinite(vae.sample as Tensor);
  });

  it('gives different samples in a batch different outputs (no accidental batch mixing)', async () => {
    const unet = await session('unet');
    const a = noise(4 * 16 * 16, 7);
    const b = noise(4 * 16 * 16, 8);
    const feeds: Record<string, Tensor> = {
      sample: new Tensor('float32', Float32Array.from([...a, ...b]), [2, 4, 16, 16]),
      timestep: timestep(unet, 2, 500),
      encoder_hidden_states: new Tensor('float32', noise(2 * 77 * p.unet.cross_attention_dim, 9), [2, 77, p.unet.cross_attention_dim]),
    };
    if (p.family === 'sdxl') {
      feeds.text_embeds = new Tensor('float32', noise(2 * 32, 10), [2, 32]);
      feeds.time_ids = sdxlTimeIds(2);
    }
    const both = (await unet.run(feeds)).out_sample?.data as Float32Array;
    const single: Record<string, Tensor> = {
      sample: new Tensor('float32', b, [1, 4, 16, 16]),
      timestep: timestep(unet, 1, 500),
      encoder_hidden_states: new Tensor('float32', (feeds.encoder_hidden_states?.data as Float32Array).slice(77 * p.unet.cross_attention_dim), [1, 77, p.unet.cross_attention_dim]),
    };
    if (p.family === 'sdxl') {
      single.text_embeds = new Tensor('float32', (feeds.text_embeds?.data as Float32Array).slice(32), [1, 32]);
      single.time_ids = sdxlTimeIds(1);
    }
    const second = (await unet.run(single)).out_sample?.data as Float32Array;
    const tail = both.slice(4 * 16 * 16);
    tail.forEach((v, i) => expect(Math.abs(v - (second[i] as number))).toBeLessThan(1e-4));
    expect(both.slice(0, 4 * 16 * 16)).not.toEqual(tail);
  });

  it('denoises 4 Euler steps from sigma-scaled noise to a finite, non-constant image', async () => {
    const te = await session('text_encoder');
    const idType = (te.inputMetadata[0] as { type: string }).type;
    const unet = await session('unet');
    const feeds: Record<string, Tensor> = {};
    if (p.family === 'sdxl') {
      const h1 = (await te.run({ input_ids: ids(idType, 1) }))['hidden_states.1']?.data as Float32Array;
      const out2 = await (await session('text_encoder_2')).run({ input_ids: ids(idType, 1) });
      const h2 = out2['hidden_states.1']?.data as Float32Array;
      const ctx = new Float32Array(77 * 64);
      for (let i = 0; i < 77; i++) {
        ctx.set(h1.subarray(i * 32, i * 32 + 32), i * 64);
        ctx.set(h2.subarray(i * 32, i * 32 + 32), i * 64 + 32);
      }
      feeds.encoder_hidden_states = new Tensor('float32', ctx, [1, 77, 64]);
      feeds.text_embeds = out2.text_embeds as Tensor;
      feeds.time_ids = sdxlTimeIds(1);
    } else {
      feeds.encoder_hidden_states = (await te.run({ input_ids: ids(idType, 1) })).last_hidden_state as Tensor;
    }
    // Euler with 4 "leading" steps (steps_offset 1): timesteps 751, 501, 251, 1 and their sigmas, then 0.
    const steps = [751, 501, 251, 1];
    const sigmas = [...steps.map(sigmaAt), 0];
    const sigma0 = sigmas[0] as number;
    let x = noise(4 * 32 * 32, 11, Math.sqrt(3 * (sigma0 * sigma0 + 1))); // init_noise_sigma for leading spacing
    for (let i = 0; i < steps.length; i++) {
      const sigma = sigmas[i] as number;
      const scaled = x.map((v) => v / Math.sqrt(sigma * sigma + 1));
      const out = await unet.run({ ...feeds, sample: new Tensor('float32', scaled, [1, 4, 32, 32]), timestep: timestep(unet, 1, steps[i] as number) });
      const eps = out.out_sample?.data as Float32Array;
      const dt = (sigmas[i + 1] as number) - sigma;
      x = x.map((v, j) => v + (eps[j] as number) * dt);
    }
    const latent = x.map((v) => v / p.vae.scaling_factor);
    const image = (await (await session('vae_decoder')).run({ latent_sample: new Tensor('float32', latent, [1, 4, 32, 32]) })).sample as Tensor;
    expect(image.dims).toEqual([1, 3, 256, 256]);
    const data = image.data as Float32Array;
    expect(data.every(Number.isFinite)).toBe(true);
    const mean = data.reduce((a, b) => a + b, 0) / data.length;
    const std = Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length);
    expect(std).toBeGreaterThan(0.05);
    expect(std).toBeLessThan(10);
  });

  it('writes the layout files with the contract config fields', () => {
    const d = dir();
    const index = read(d, 'model_index.json');
    expect(index._class_name).toBe(p.family === 'sd' ? 'ORTStableDiffusionPipeline' : 'ORTStableDiffusionXLPipeline');
    expect(index.scheduler).toEqual(['diffusers', p.scheduler._class_name]);
    expect(index.text_encoder).toEqual(['transformers', 'CLIPTextModel']);
    expect(index.unet).toEqual(['diffusers', 'UNet2DConditionModel']);
    expect(index.vae_decoder).toEqual(['diffusers', 'AutoencoderKL']);

    const te = read(d, 'text_encoder/config.json');
    expect(te).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, projection_dim: 32, max_position_embeddings: 77, vocab_size: 49408 });
    const unet = read(d, 'unet/config.json');
    expect(unet).toMatchObject({ _class_name: 'UNet2DConditionModel', sample_size: 32, in_channels: 4, block_out_channels: [32, 64] });
    const vae = read(d, 'vae_decoder/config.json');
    expect(vae).toMatchObject({ _class_name: 'AutoencoderKL', latent_channels: 4, force_upcast: true });
    expect(2 ** ((vae.block_out_channels as number[]).length - 1)).toBe(8);

    const sched = read(d, 'scheduler/scheduler_config.json');
    expect(sched).toMatchObject({
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      steps_offset: 1,
      set_alpha_to_one: false,
    });

    const tokenizers = p.family === 'sd' ? ['tokenizer'] : ['tokenizer', 'tokenizer_2'];
    for (const t of tokenizers) {
      for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) expect(existsSync(join(d, t, f))).toBe(true);
      expect(existsSync(join(d, t, 'tokenizer.json'))).toBe(false);
      for (const f of ['vocab.json', 'merges.txt']) {
        expect(readFileSync(join(d, t, f)).equals(readFileSync(join(CLIP_TOKENIZER_DIR, f)))).toBe(true);
      }
      expect(read(d, `${t}/tokenizer_config.json`)).toMatchObject({ model_max_length: 77, do_lower_case: true, eos_token: '<|endoftext|>' });
    }
    const pads = tokenizers.map((t) => read(d, `${t}/tokenizer_config.json`).pad_token);

    if (name === 'tiny-sd') {
      expect(pads).toEqual(['<|endoftext|>']);
      expect(sched).toMatchObject({ _class_name: 'EulerDiscreteScheduler', prediction_type: 'epsilon', timestep_spacing: 'leading' });
      expect(vae.scaling_factor).toBe(0.18215);
    }
    if (name === 'tiny-sd-v') {
      expect(pads).toEqual(['!']);
      expect(sched).toMatchObject({ prediction_type: 'v_prediction', timestep_spacing: 'leading' });
    }
    if (p.family === 'sdxl') {
      expect(pads).toEqual(['<|endoftext|>', '!']);
      expect(index.text_encoder_2).toEqual(['transformers', 'CLIPTextModelWithProjection']);
      expect(index.tokenizer_2).toEqual(['transformers', 'CLIPTokenizer']);
      expect(read(d, 'text_encoder_2/config.json').architectures).toEqual(['CLIPTextModelWithProjection']);
      expect(unet).toMatchObject({ addition_embed_type: 'text_time', cross_attention_dim: 64 });
      // text_embeds width (32) + 6 time ids embedded at addition_time_embed_dim each.
      expect(unet.projection_class_embeddings_input_dim).toBe(32 + 6 * (unet.addition_time_embed_dim as number));
      expect(vae.scaling_factor).toBe(0.13025);
    }
    if (name === 'tiny-sdxl') expect(sched).toMatchObject({ _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'leading' });
    if (name === 'tiny-sdxl-turbo') {
      expect(sched).toMatchObject({ _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing', prediction_type: 'epsilon' });
    }
  });
});
