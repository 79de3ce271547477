// The seam between the HTTP layer and the diffusion engine. The engine knows nothing of HTTP; the HTTP layer
// validates requests against EngineInfo and maps them onto GenerationRequest.

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export const SCHEDULER_NAMES = ['euler', 'euler_a', 'ddim', 'lcm', 'dpmpp_2m', 'pndm'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export type ModelFamily = 'sd' | 'sdxl' | 'sdxl-turbo';
/** Where the sessions run: the CUDA or WebGPU (Dawn: Vulkan on Linux) execution provider, or the CPU. */
export type DeviceKind = 'cuda' | 'webgpu' | 'cpu';
/** What `--device` accepts; `auto` tries cuda, then webgpu, then cpu. */
export const DEVICE_CHOICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type RequestedDevice = (typeof DEVICE_CHOICES)[number];

export interface GenerationRequest {
  prompt: string;
  negativePrompt?: string;
  /** Number of images, each with its own seed (seed, seed + 1, ...). */
  n: number;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  /** Base seed; the HTTP layer draws one when the client gives none, so every response is reproducible. */
  seed: number;
  scheduler: SchedulerName;
  outputFormat: OutputFormat;
  /** 0..100, for jpeg/webp quality and png compression effort. */
  outputCompression?: number;
}

/** Requests with equal keys can share UNet calls: same latent shape, schedule, and guidance on or off. */
export function batchKey(request: GenerationRequest): string {
  const guided = request.guidanceScale > 1;
  return `${request.width}x${request.height}:${request.steps}:${request.scheduler}:${guided ? 'cfg' : 'nocfg'}`;
}

/**
 * The engine cannot run a request as asked (for the HTTP layer: a 400 naming `param`). Raised for what the
 * EngineInfo limits cannot express, e.g. LCM with more steps than its distillation schedule has.
 */
export class GenerationRequestError extends RangeError {
  override readonly name = 'GenerationRequestError';

  constructor(
    message: string,
    readonly param: keyof GenerationRequest,
  ) {
    super(message);
  }
}

/**
 * An explicitly requested device (`--device cuda` or `webgpu`) cannot load: the message says why. Only `auto`
 * falls back to another device; the CLI exits 2 on this error.
 */
export class DeviceUnavailableError extends Error {
  override readonly name = 'DeviceUnavailableError';
}

export interface GeneratedImage {
  data: Buffer;
  mimeType: string;
  seed: number;
}

export interface StageTimings {
  /** Seconds per stage, e.g. tokenize, text_encoder, unet, vae, encode. */
  [stage: string]: number;
}

export interface GenerationResult {
  images: GeneratedImage[];
  /** Per batch: every result of one generate() call carries the batch's timings. */
  timings: StageTimings;
}

export interface EngineInfo {
  family: ModelFamily;
  device: DeviceKind;
  /** Why this device was chosen, e.g. "CUDA execution provider not available: <error>; ...; using CPU". */
  deviceReason: string;
  dtype: 'fp16' | 'fp32';
  defaults: {
    width: number;
    height: number;
    steps: number;
    guidanceScale: number;
    scheduler: SchedulerName;
  };
  limits: {
    /** Width and height must be multiples of this (the VAE scale factor). */
    sizeMultiple: number;
    minSize: number;
    maxSize: number;
    maxSteps: number;
  };
}

export interface Engine {
  /** Loads sessions; resolves once the engine can generate. Idempotent. */
  load(): Promise<EngineInfo>;
  /** Present once load() has resolved. */
  readonly info: EngineInfo | undefined;
  /**
   * Runs requests that share a batchKey() as one batch, one UNet call per step over all their images (a single
   * request is a batch of one). Each keeps its own prompt, negative prompt, seed and guidance scale; result i
   * equals requests[i] run alone. Aborting the signal stops the whole batch at the next step boundary and rejects
   * with an AbortError.
   */
  generate(requests: GenerationRequest[], signal?: AbortSignal): Promise<GenerationResult[]>;
  close(): Promise<void>;
}
