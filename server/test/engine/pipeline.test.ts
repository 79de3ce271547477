// The real engine (worker thread, onnxruntime-node on CPU) on the tiny random-weight pipelines that
// `make tiny-models` writes into models/. Needs `tsc -b` (the worker runs from server/dist).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pino from 'pino';
import sharp from 'sharp';
import { createEngine, STEP_TIMES_MESSAGE } from '../../src/engine/index.js';
import { cudaProviderPath } from '../../src/engine/pipeline/sessions.js';
import { GenerationRequestError, SCHEDULER_NAMES, type Engine, type GenerationRequest, type ModelFamily } from '../../src/engine/types.js';
import { createMetrics } from '../../src/metrics/registry.js';

const MODELS = join(import.meta.dirname, '../../../models');
const logger = pino({ level: 'silent' });

/** One request as a batch of one. */
const one = async (engine: Engine, request: GenerationRequest, signal?: AbortSignal) => (await engine.generate([request], signal))[0]!;

async function pixels(png: Buffer): Promise<Buffer> {
  return sharp(png).raw().toBuffer();
}

/** Largest per-channel difference between two decoded images. */
async function maxDifference(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([pixels(a), pixels(b)]);
  expect(x.length).toBe(y.length);
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

const CASES: [string, ModelFamily][] = [
  ['tiny-sd', 'sd'],
  ['tiny-sd-v', 'sd'],
  ['tiny-sdxl', 'sdxl'],
  ['tiny-sdxl-turbo', 'sdxl-turbo'],
];

describe.each(CASES)('engine on %s', (model, family) => {
  let engine: Engine;
  let base: GenerationRequest;
  // The step times leave the engine as telemetry: a debug log line per batch and a histogram.
  const stepTimes: number[][] = [];
  const telemetry = pino({ level: 'debug' }, {
    write: (line: string) => {
      const fields = JSON.parse(line) as { msg?: string; stepSeconds?: number[] };
      if (fields.msg === STEP_TIMES_MESSAGE) stepTimes.push(fields.stepSeconds!);
    },
  });
  const metrics = createMetrics();

  beforeAll(async () => {
    const dir = join(MODELS, model);
    if (!existsSync(dir)) throw new Error(`${dir} is missing: run \`make tiny-models\``);
    engine = createEngine({ modelDir: dir, device: 'cpu', dtype: 'fp32', logger: telemetry, metrics });
    const info = await engine.load();
    base = {
      prompt: 'a photo of a cat',
      n: 1,
      width: 64,
      height: 64,
      steps: 3,
      guidanceScale: 7.5,
      seed: 1234,
      scheduler: info.defaults.scheduler,
      outputFormat: 'png',
    };
  });
  afterAll(() => engine?.close());

  it('reports the family, device and defaults from the model folder', () => {
    const info = engine.info!;
    expect(info.family).toBe(family);
    expect(info.device).toBe('cpu');
    expect(info.deviceReason).toBe('CPU requested');
    expect(info.defaults.width).toBe(256); // unet sample_size 32 * VAE scale factor 8
    expect(info.limits.sizeMultiple).toBe(16); // VAE 8 x one UNet downsampling
    if (family === 'sdxl-turbo') expect(info.defaults).toMatchObject({ guidanceScale: 0, scheduler: 'euler_a', steps: 1 });
  });

  it.each(['png', 'jpeg', 'webp'] as const)('produces a decodable %s of the requested size', async (outputFormat) => {
    const result = await one(engine, { ...base, width: 96, height: 64, outputFormat, outputCompression: 80 });
    expect(result.images).toHaveLength(1);
    const image = result.images[0]!;
    expect(image.mimeType).toBe(`image/${outputFormat}`);
    const meta = await sharp(image.data).metadata();
    expect(meta).toMatchObject({ format: outputFormat, width: 96, height: 64, channels: 3 });
    for (const stage of ['tokenize', 'text_encoder', 'unet', 'unet_step', 'vae', 'encode']) expect(result.timings[stage]).toBeGreaterThan(0);
    // One time per step, in the log line of this batch and as observations of the histogram.
    expect(stepTimes.at(-1)).toHaveLength(base.steps);
    const observed = (await metrics.unetStepSeconds.get()).values.find((v) => v.metricName === 'hypergen_unet_step_seconds_count');
    expect(observed?.value).toBe(stepTimes.flat().length);
  });

  it('gives byte-identical PNGs for the same seed and different ones for another seed', async () => {
    const [a, b, c] = [await one(engine, base), await one(engine, base), await one(engine, { ...base, seed: 1235 })];
    expect(a.images[0]!.data.equals(b.images[0]!.data)).toBe(true);
    expect(a.images[0]!.data.equals(c.images[0]!.data)).toBe(false);
    // Not a flat image: random-weight models still map noise to varied pixels.
    const stats = await sharp(a.images[0]!.data).stats();
    expect(stats.channels.some((channel) => channel.stdev > 1)).toBe(true);
  });

  it('makes n images with seeds seed..seed+n-1, each equal to that seed generated alone', async () => {
    const batch = await one(engine, { ...base, n: 3, scheduler: 'euler_a' });
    expect(batch.images.map((image) => image.seed)).toEqual([1234, 1235, 1236]);
    for (const [i, image] of batch.images.entries()) {
      const alone = await one(engine, { ...base, scheduler: 'euler_a', seed: 1234 + i });
      // A batch of 3 runs GEMMs of other shapes than a batch of 1: allow one 8-bit level of rounding.
      expect(await maxDifference(image.data, alone.images[0]!.data)).toBeLessThanOrEqual(1);
    }
  });

  it('wraps seeds at 2^32 as torch does: seed 4294967295, n 3 gives 4294967295, 0, 1, and image 1 is seed 0 alone', async () => {
    const batch = await one(engine, { ...base, n: 3, seed: 4294967295, scheduler: 'euler_a' });
    expect(batch.images.map((image) => image.seed)).toEqual([4294967295, 0, 1]);
    const alone = await one(engine, { ...base, seed: 0, scheduler: 'euler_a' });
    expect(await maxDifference(batch.images[1]!.data, alone.images[0]!.data)).toBeLessThanOrEqual(1);
    expect(batch.images[0]!.data.equals(alone.images[0]!.data)).toBe(false);
  });

  it('batches several requests (dynamic batching) with results equal to running each alone', async () => {
    const requests: GenerationRequest[] = [
      { ...base, n: 2, seed: 7 },
      { ...base, prompt: 'a red car', negativePrompt: 'blurry', guidanceScale: 4, seed: 99 },
    ];
    const results = await engine.generate(requests);
    expect(results.map((r) => r.images.length)).toEqual([2, 1]);
    for (const [r, request] of requests.entries()) {
      const alone = await one(engine, request);
      for (const [i, image] of alone.images.entries()) {
        expect(await maxDifference(results[r]!.images[i]!.data, image.data)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('applies classifier-free guidance above 1 and skips it at or below 1', async () => {
    const run = async (request: Partial<GenerationRequest>) => (await one(engine, { ...base, ...request })).images[0]!.data;
    // Skipped: the guidance value and the negative prompt cannot matter.
    const off = await run({ guidanceScale: 1 });
    expect(off.equals(await run({ guidanceScale: 0 }))).toBe(true);
    expect(off.equals(await run({ guidanceScale: 0.5, negativePrompt: 'dark' }))).toBe(true);
    // Applied: scale and negative prompt change the image.
    const on = await run({ guidanceScale: 7.5 });
    expect(on.equals(off)).toBe(false);
    expect(on.equals(await run({ guidanceScale: 3 }))).toBe(false);
    expect(on.equals(await run({ guidanceScale: 7.5, negativePrompt: 'dark' }))).toBe(false);
  });

  it('runs every scheduler', async () => {
    for (const scheduler of SCHEDULER_NAMES) {
      const result = await one(engine, { ...base, scheduler, steps: 2 });
      expect((await sharp(result.images[0]!.data).metadata()).width).toBe(64);
    }
  });
});

describe('engine control', () => {
  let engine: Engine;
  const request: GenerationRequest = {
    prompt: 'a photo of a cat',
    n: 1,
    width: 64,
    height: 64,
    steps: 150,
    guidanceScale: 7.5,
    seed: 1,
    scheduler: 'euler',
    outputFormat: 'png',
  };

  const logLines: Record<string, unknown>[] = [];
  const capturing = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) });

  beforeAll(async () => {
    engine = createEngine({ modelDir: join(MODELS, 'tiny-sd'), device: 'auto', dtype: 'fp16', logger: capturing });
    await engine.load();
  });
  afterAll(() => engine?.close());

  it('falls back to CPU when CUDA cannot load and says why, and that an fp32 export runs fp32', () => {
    // This machine has no CUDA provider libraries; a GPU machine loads CUDA instead.
    const info = engine.info!;
    if (info.device === 'cpu') expect(info.deviceReason).toMatch(/CUDA execution provider not available: .+; using CPU/);
    // Without the provider library, CUDA is not even tried (no native ERROR line on stderr).
    if (!existsSync(cudaProviderPath())) expect(info.deviceReason).toContain(`${cudaProviderPath()} is missing`);
    expect(info.deviceReason).toMatch(/fp16 requested but the model is an fp32 export/);
    expect(info.dtype).toBe('fp32');
  });

  it('stops at a step boundary when aborted and stays usable', async () => {
    const controller = new AbortController();
    const started = one(engine, request, controller.signal);
    setTimeout(() => controller.abort(new DOMException('client went away', 'AbortError')), 100);
    await expect(started).rejects.toMatchObject({ name: 'AbortError', message: 'client went away' });
    // The next request runs after the aborted one has left the worker; the worker logged where it stopped.
    const after = await one(engine, { ...request, steps: 2 });
    expect(after.images).toHaveLength(1);
    const aborted = logLines.find((line) => line.msg === 'generation aborted');
    const [, step, of] = /before step (\d+) of (\d+)/.exec(String(aborted?.detail)) ?? [];
    expect(Number(of)).toBe(150);
    expect(Number(step)).toBeLessThan(150);
  });

  it('rejects at once when aborted while queued behind another generation', async () => {
    const controller = new AbortController();
    const first = one(engine, { ...request, steps: 20 });
    const queued = one(engine, request, controller.signal);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect((await first).images).toHaveLength(1);
  });

  it('rejects an already aborted signal without running', async () => {
    await expect(one(engine, request, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects sizes and batches the model cannot run', async () => {
    await expect(one(engine, { ...request, width: 72 })).rejects.toMatchObject({ name: 'GenerationRequestError', param: 'width', message: expect.stringMatching(/multiple of 16/) });
    // Only the worker knows the schedule: LCM cannot take more steps than its 50-step distillation schedule.
    const lcm = one(engine, { ...request, scheduler: 'lcm', steps: 60 });
    await expect(lcm).rejects.toBeInstanceOf(GenerationRequestError);
    await expect(lcm).rejects.toMatchObject({ param: 'steps', message: expect.stringMatching(/at most 50 steps/) });
    await expect(engine.generate([request, { ...request, steps: 3 }])).rejects.toThrow(/share/);
  });

  it('fails to load a folder that is not a pipeline, with the reason', async () => {
    const broken = createEngine({ modelDir: join(MODELS, 'does-not-exist'), device: 'cpu', dtype: 'fp32', logger });
    await expect(broken.load()).rejects.toThrow(/model_index\.json/);
    await broken.close();
  });
});
