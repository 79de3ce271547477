// The text-to-image loop: tokenize, encode text, denoise with classifier-free guidance in one UNet batch, decode
// with the VAE, encode images. Runs inside the engine's worker thread (session.run blocks its thread).
import ort from 'onnxruntime-node';
import { createScheduler, resolveSchedulerConfig } from '../schedulers/index.js';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.js';
import type { Scheduler } from '../schedulers/index.js';
import { GenerationRequestError, type EngineInfo, type GeneratedImage, type GenerationRequest, type GenerationResult, type RequestedDevice } from '../types.js';
import { encodeImage, MIME_TYPES, toRgb } from './image.js';
import { drawNoise, imageGenerators, imageSeed } from './latents.js';
import { readModelConfig, type ModelConfig } from './model-config.js';
import { float32Data, floatTensor, tensorMeta } from './tensors.js';
import { loadSessions, type Component } from './sessions.js';
import { needsTiling, tiledDecode, vaeTiling, type Planar, type VaeTiling } from './vae-tiling.js';
import { join } from 'node:path';

export interface PipelineOptions {
  modelDir: string;
  device: RequestedDevice;
  dtype: 'fp16' | 'fp32';
  /** diffusers' vae.enable_tiling(): latents larger than the VAE's tile decode in blended tiles (vae-tiling.ts). */
  vaeTiling?: boolean;
}

export class AbortedError extends Error {
  override readonly name = 'AbortError';
}

type Feeds = Record<string, ort.Tensor>;

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Repeats each of `parts` (one per request) once per image of that request. */
function perImage(parts: Float32Array[], counts: number[]): Float32Array {
  const size = parts[0]!.length;
  const out = new Float32Array(size * counts.reduce((a, b) => a + b, 0));
  let offset = 0;
  parts.forEach((part, r) => {
    for (let i = 0; i < counts[r]!; i++, offset += size) out.set(part, offset);
  });
  return out;
}

function concat(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** Row `index` of a [rows, ...] tensor's data. */
function row(data: Float32Array, rows: number, index: number): Float32Array {
  const size = data.length / rows;
  return data.subarray(index * size, (index + 1) * size);
}

/** What every step of one batch shares: its requests, image counts, size and whether guidance is on. */
interface Batch {
  requests: GenerationRequest[];
  counts: number[];
  images: number;
  guided: boolean;
  width: number;
  height: number;
  /** [C, h, w] of one image's latents. */
  latentShape: number[];
}

interface TextConditioning {
  /** Per request: [77, hidden] embeddings for the prompt and the negative prompt. */
  cond: Float32Array[];
  uncond: Float32Array[];
  /** SDXL: pooled text_embeds per request. */
  pooledCond?: Float32Array[];
  pooledUncond?: Float32Array[];
}

export class Pipeline {
  private constructor(
    readonly config: ModelConfig,
    readonly info: EngineInfo,
    private readonly tokenizers: ClipTokenizer[],
    private readonly sessions: Partial<Record<Component, ort.InferenceSession>>,
    private readonly tiling: VaeTiling | undefined,
  ) {}

  static async load(options: PipelineOptions): Promise<Pipeline> {
    const config = readModelConfig(options.modelDir);
    const components: Component[] = config.sdxl ? ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder'] : ['text_encoder', 'unet', 'vae_decoder'];
    const tokenizers = (config.sdxl ? ['tokenizer', 'tokenizer_2'] : ['tokenizer']).map((name) => ClipTokenizer.fromDir(join(options.modelDir, name)));
    const loaded = await loadSessions(options.modelDir, components, options.device);
    const unet = loaded.sessions.unet!;
    // The export fixes the precision (Optimum writes fp32 or, with --fp16, fp16 graphs); a mismatch is reported.
    const dtype = tensorMeta(unet, 'sample').type === 'float16' ? 'fp16' : 'fp32';
    const dtypeNote = options.dtype === dtype ? '' : `; ${options.dtype} requested but the model is an ${dtype} export: running ${dtype}`;
    const info: EngineInfo = {
      family: config.family,
      device: loaded.device,
      deviceReason: loaded.deviceReason + dtypeNote,
      dtype,
      defaults: config.defaults,
      limits: config.limits,
    };
    const tiling = options.vaeTiling === true ? vaeTiling(config.vaeSampleSize, config.vaeScaleFactor) : undefined;
    return new Pipeline(config, info, tokenizers, loaded.sessions, tiling);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((session) => session.release()));
  }

  /** input_ids as the export declares them: int32 or int64, [rows, 77]. */
  private idsTensor(session: ort.InferenceSession, ids: number[][]): ort.Tensor {
    const dims = [ids.length, ids[0]!.length];
    const flat = ids.flat();
    return tensorMeta(session, 'input_ids').type === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(flat), dims)
      : new ort.Tensor('int64', BigInt64Array.from(flat, (v) => BigInt(v)), dims);
  }

  /** timestep as the export declares it: int64 or float32, scalar or one per batch row. */
  private timestepTensor(t: number, batch: number): ort.Tensor {
    const meta = tensorMeta(this.sessions.unet!, 'timestep');
    const dims = meta.shape.length === 0 ? [] : [batch];
    const count = dims.length === 0 ? 1 : batch;
    if (meta.type === 'int64') return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(t))), dims);
    return floatTensor(this.sessions.unet!, 'timestep', new Float32Array(count).fill(t), dims);
  }

  /** Encodes prompts and negative prompts of all requests in one text-encoder batch per encoder. */
  private async encodeText(requests: GenerationRequest[], timings: Record<string, number>): Promise<TextConditioning> {
    let start = process.hrtime.bigint();
    const texts = [...requests.map((r) => r.prompt), ...requests.map((r) => r.negativePrompt ?? '')];
    const ids = this.tokenizers.map((tokenizer) => texts.map((text) => tokenizer.encode(text)));
    timings.tokenize = seconds(start);
    start = process.hrtime.bigint();
    const rows = texts.length;
    const n = requests.length;
    const hiddenParts: Float32Array[][] = [];
    let pooled: Float32Array | undefined;
    for (const [e, name] of (['text_encoder', 'text_encoder_2'] as const).entries()) {
      const session = this.sessions[name];
      if (!session) continue;
      const out = await session.run({ input_ids: this.idsTensor(session, ids[e]!) });
      // SD uses last_hidden_state; SDXL the penultimate layer of each encoder, concatenated on the hidden axis.
      const key = this.config.sdxl ? `hidden_states.${this.config.textEncoderLayers[e]! - 1}` : 'last_hidden_state';
      const hidden = float32Data(out[key], `${name}.${key}`);
      hiddenParts.push(Array.from({ length: rows }, (_, r) => row(hidden, rows, r)));
      if (name === 'text_encoder_2') pooled = float32Data(out.text_embeds, 'text_encoder_2.text_embeds');
    }
    const embedding = (r: number): Float32Array => {
      if (hiddenParts.length === 1) return Float32Array.from(hiddenParts[0]![r]!);
      // [77, h1] ++ [77, h2] -> [77, h1 + h2]
      const tokens = this.tokenizers[0]!.maxLength;
      const widths = hiddenParts.map((parts) => parts[r]!.length / tokens);
      const total = widths.reduce((a, b) => a + b, 0);
      const out = new Float32Array(tokens * total);
      for (let tk = 0; tk < tokens; tk++) {
        let offset = tk * total;
        hiddenParts.forEach((parts, e) => {
          out.set(parts[r]!.subarray(tk * widths[e]!, (tk + 1) * widths[e]!), offset);
          offset += widths[e]!;
        });
      }
      return out;
    };
    const zerosForEmpty = (r: number) => this.config.forceZerosForEmptyPrompt && !requests[r]!.negativePrompt;
    const result: TextConditioning = {
      cond: requests.map((_, r) => embedding(r)),
      uncond: requests.map((_, r) => (zerosForEmpty(r) ? new Float32Array(embedding(n + r).length) : embedding(n + r))),
    };
    if (pooled) {
      const p = pooled;
      result.pooledCond = requests.map((_, r) => Float32Array.from(row(p, rows, r)));
      result.pooledUncond = requests.map((_, r) => (zerosForEmpty(r) ? new Float32Array(p.length / rows) : Float32Array.from(row(p, rows, n + r))));
    }
    timings.text_encoder = seconds(start);
    return result;
  }

  /**
   * Runs requests that share size, steps, scheduler and guidance on/off (batchKey) as one batch: one UNet call per
   * step over all their images (twice that with guidance: unconditional rows first, as diffusers orders them).
   * The steps are StableDiffusion(XL)Pipeline.__call__'s (diffusers): encode the prompts, prepare the timesteps,
   * prepare the latents, prepare the UNet's conditioning, denoise, decode with the VAE; then encode the images.
   */
  async generate(requests: GenerationRequest[], aborted: () => boolean): Promise<{ results: GenerationResult[]; stepSeconds: number[] }> {
    const first = requests[0]!;
    const timings: Record<string, number> = {};
    const total = process.hrtime.bigint();
    const batch: Batch = {
      requests,
      counts: requests.map((r) => r.n),
      images: requests.reduce((sum, r) => sum + r.n, 0),
      guided: first.guidanceScale > 1,
      width: first.width,
      height: first.height,
      latentShape: [this.config.latentChannels, first.height / this.config.vaeScaleFactor, first.width / this.config.vaeScaleFactor],
    };
    // 1. Encode the prompts and negative prompts.
    const text = await this.encodeText(requests, timings);
    // 2. Prepare the timesteps: the request's scheduler, built from the model's scheduler config.
    const scheduler = this.createScheduler(first);
    // 3. Prepare the latents: randn([1, C, h, w]) from each image's own generator, times init_noise_sigma.
    const generators = imageGenerators(requests);
    const latents = drawNoise(generators, batch.latentShape, scheduler.initNoiseSigma);
    // 4. Prepare the UNet's conditioning: text embeddings (and SDXL's pooled embeddings and time ids), per image.
    const conditioning = this.unetConditioning(batch, text);
    // 5. Denoise.
    const denoised = await this.denoise(batch, scheduler, latents, conditioning, generators, aborted);
    timings.unet = denoised.stepSeconds.reduce((a, b) => a + b, 0);
    timings.unet_step = timings.unet / Math.max(1, denoised.stepSeconds.length);
    if (aborted()) throw new AbortedError('generation aborted before decoding');
    // 6. Decode the latents with the VAE.
    let started = process.hrtime.bigint();
    const pixels = await this.decode(batch, denoised.latents);
    timings.vae = seconds(started);
    // 7. Encode the images, each with the seed that redoes it.
    started = process.hrtime.bigint();
    const images = await this.encodeImages(batch, pixels);
    timings.encode = seconds(started);
    timings.total = seconds(total);
    // The step times are telemetry for the engine's metrics and logs, beside the results rather than in them.
    return { results: images.map((encoded) => ({ images: encoded, timings })), stepSeconds: denoised.stepSeconds };
  }

  /** The request's scheduler from the model's config: an unusable option is a 400 on scheduler, too many steps on steps. */
  private createScheduler(request: GenerationRequest): Scheduler {
    let config;
    try {
      config = resolveSchedulerConfig(request.scheduler, this.config.scheduler);
    } catch (error) {
      throw new GenerationRequestError(`${request.scheduler}: ${(error as Error).message}`, 'scheduler');
    }
    try {
      return createScheduler(request.scheduler, config, request.steps);
    } catch (error) {
      throw new GenerationRequestError(`${request.scheduler}: ${(error as Error).message}`, 'steps');
    }
  }

  /** The UNet inputs that stay the same at every step, with unconditional rows first when guided. */
  private unetConditioning(batch: Batch, text: TextConditioning): Feeds {
    const { counts, guided, width, height } = batch;
    const unetBatch = guided ? 2 * batch.images : batch.images;
    const hiddenStates = guided ? concat([perImage(text.uncond, counts), perImage(text.cond, counts)]) : perImage(text.cond, counts);
    const tokens = this.tokenizers[0]!.maxLength;
    const unet = this.sessions.unet!;
    const feeds: Feeds = {
      encoder_hidden_states: floatTensor(unet, 'encoder_hidden_states', hiddenStates, [unetBatch, tokens, hiddenStates.length / unetBatch / tokens]),
    };
    if (this.config.sdxl) {
      const pooled = guided ? concat([perImage(text.pooledUncond!, counts), perImage(text.pooledCond!, counts)]) : perImage(text.pooledCond!, counts);
      feeds.text_embeds = floatTensor(unet, 'text_embeds', pooled, [unetBatch, pooled.length / unetBatch]);
      // add_time_ids: original size, crop top-left (0, 0), target size, all (height, width).
      const timeIds = new Float32Array(unetBatch * 6);
      for (let b = 0; b < unetBatch; b++) timeIds.set([height, width, 0, 0, height, width], b * 6);
      feeds.time_ids = floatTensor(unet, 'time_ids', timeIds, [unetBatch, 6]);
    }
    return feeds;
  }

  /** The denoising loop: one UNet call per step, classifier-free guidance per image, the scheduler's step. */
  private async denoise(
    batch: Batch,
    scheduler: Scheduler,
    initial: Float32Array,
    conditioning: Feeds,
    generators: ReturnType<typeof imageGenerators>,
    aborted: () => boolean,
  ): Promise<{ latents: Float32Array; stepSeconds: number[] }> {
    const unet = this.sessions.unet!;
    const unetBatch = batch.guided ? 2 * batch.images : batch.images;
    const perImageSize = batch.latentShape.reduce((a, b) => a * b, 1);
    const guidance = batch.requests.flatMap((r) => Array<number>(r.n).fill(r.guidanceScale));
    const stepSeconds: number[] = [];
    let latents = initial;
    for (let step = 0; step < scheduler.timesteps.length; step++) {
      if (aborted()) throw new AbortedError(`generation aborted before step ${step + 1} of ${scheduler.timesteps.length}`);
      const started = process.hrtime.bigint();
      const modelInput = scheduler.scaleModelInput(latents, step);
      const out = await unet.run({
        ...conditioning,
        sample: floatTensor(unet, 'sample', batch.guided ? concat([modelInput, modelInput]) : modelInput, [unetBatch, ...batch.latentShape]),
        timestep: this.timestepTensor(scheduler.timesteps[step]!, unetBatch),
      });
      const prediction = float32Data(out.out_sample, 'unet.out_sample');
      let modelOutput = prediction;
      if (batch.guided) {
        // noise_pred = uncond + g * (cond - uncond), with each image's own guidance scale.
        modelOutput = new Float32Array(latents.length);
        for (let b = 0; b < batch.images; b++) {
          const g = guidance[b]!;
          for (let k = b * perImageSize, end = k + perImageSize; k < end; k++) {
            const uncond = prediction[k]!;
            modelOutput[k] = uncond + g * (prediction[k + latents.length]! - uncond);
          }
        }
      }
      // Euler a and LCM draw randn_tensor(model_output.shape) per image inside step(), after the UNet call.
      const noise = scheduler.needsNoise(step) ? drawNoise(generators, batch.latentShape) : undefined;
      latents = scheduler.step(modelOutput, step, latents, noise).prevSample;
      stepSeconds.push(seconds(started));
    }
    return { latents, stepSeconds };
  }

  /** vae.decode(latents / scaling_factor), tiled as AutoencoderKL.tiled_decode when enabled: [n, 3, H, W] in [-1, 1]. */
  private async decode(batch: Batch, latents: Float32Array): Promise<Float32Array> {
    const scaled = latents.map((v) => v / this.config.vaeScalingFactor);
    const [c, h, w] = batch.latentShape as [number, number, number];
    const planar: Planar = { data: scaled, shape: [batch.images, c, h, w] };
    if (this.tiling !== undefined && needsTiling(this.tiling, planar.shape)) return (await tiledDecode(planar, this.tiling, (tile) => this.decodeLatents(tile))).data;
    return (await this.decodeLatents(planar)).data;
  }

  /** One VAE decoder call. */
  private async decodeLatents(latents: Planar): Promise<Planar> {
    const vae = this.sessions.vae_decoder!;
    const [b, , h, w] = latents.shape;
    const decoded = await vae.run({ latent_sample: floatTensor(vae, 'latent_sample', latents.data, latents.shape) });
    const f = this.config.vaeScaleFactor;
    const data = float32Data(decoded.sample, 'vae_decoder.sample');
    return { data, shape: [b, data.length / (b * h * f * w * f), h * f, w * f] };
  }

  /** Per request, its images in the requested format, each with its own seed. */
  private async encodeImages(batch: Batch, pixels: Float32Array): Promise<GeneratedImage[][]> {
    const { width, height } = batch;
    let imageIndex = 0;
    const out: GeneratedImage[][] = [];
    for (const request of batch.requests) {
      const first = imageIndex;
      out.push(
        await Promise.all(
          Array.from({ length: request.n }, async (_, i) => ({
            data: await encodeImage(toRgb(pixels, first + i, width, height), width, height, request.outputFormat, request.outputCompression),
            mimeType: MIME_TYPES[request.outputFormat],
            seed: imageSeed(request.seed, i),
          })),
        ),
      );
      imageIndex += request.n;
    }
    return out;
  }
}
