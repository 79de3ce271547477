// The serve flags, each also readable from a HYPERGEN_* variable (flag wins), range-checked by commander ->
// ServeConfig. No I/O.
import { InvalidArgumentError, Option } from 'commander';
import { DEVICE_CHOICES, SCHEDULER_NAMES, type RequestedDevice, type SchedulerName } from './engine/types.js';
import { parseTrustedProxies } from './http/trusted-proxies.js';

export interface ServeConfig {
  /** MODEL as given on the command line: a pipeline folder or a model URI. */
  model: string;
  /** What /v1/models reports; defaults to MODEL exactly as given. */
  modelId: string;
  host: string;
  port: number;
  apiKey?: string;
  apiKeyFile?: string;
  device: RequestedDevice;
  dtype: 'fp16' | 'fp32';
  /**
   * fused (default): a diffusers folder converts with MultiHeadAttention, and an ONNX export's unfused UNet/VAE
   * attention is rewritten once into cacheDir; plain: MatMul/Softmax conversions, ONNX exports loaded as they are.
   */
  attention?: 'fused' | 'plain';
  /** on: latents larger than the VAE's sample_size decode in blended tiles, as diffusers' vae.enable_tiling(). */
  vaeTiling: 'off' | 'on';
  maxBatchSize: number;
  batchWaitMs: number;
  maxQueueSize: number;
  defaultSteps?: number;
  defaultGuidanceScale?: number;
  defaultScheduler?: SchedulerName;
  requestTimeoutS: number;
  shutdownGraceS: number;
  /** On SIGTERM, seconds of serving on with /readyz 503 before the listener closes (part of shutdownGraceS). */
  drainDelayS: number;
  /** This replica's address as the other replicas reach it (the pod IP): with peerKeyFile, url images work behind a Service. */
  peerAddress?: string;
  /** A key shared by the replicas, signing url image names with their owner's address. */
  peerKeyFile?: string;
  /** Addresses/CIDRs of reverse proxies whose X-Forwarded-* headers are believed; empty: none. */
  trustedProxies: string[];
  imageTtlS: number;
  /** Serve the playground page at GET /. */
  playground: boolean;
  cacheDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

const integer = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
    throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got '${value}'.`);
  }
  return n;
};

const decimal = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got '${value}'.`);
  }
  return n;
};

const proxyList = (value: string) => {
  try {
    return parseTrustedProxies(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
};

/** The serve flags, each also readable from a HYPERGEN_* environment variable (flag wins). */
export function serveOptions(): Option[] {
  return [
    new Option('--model-id <id>', 'model id reported by /v1/models (default: MODEL as given)').env('HYPERGEN_MODEL_ID'),
    new Option('--host <host>', 'address to listen on').env('HYPERGEN_HOST').default('0.0.0.0'),
    new Option('--port <port>', 'port to listen on').env('HYPERGEN_PORT').default(8000).argParser(integer(0, 65535)),
    new Option('--api-key <key>', 'require this API key (Authorization: Bearer KEY)').env('HYPERGEN_API_KEY').conflicts('apiKeyFile'),
    new Option('--api-key-file <path>', 'require a key from this file (one per line, re-read on change)').env('HYPERGEN_API_KEY_FILE'),
    new Option('--device <device>', 'execution device (auto: cuda, else webgpu, else cpu; an explicit GPU that cannot load exits 2)').env('HYPERGEN_DEVICE').choices([...DEVICE_CHOICES]).default('auto'),
    new Option('--dtype <dtype>', 'compute precision').env('HYPERGEN_DTYPE').choices(['fp16', 'fp32']).default('fp16'),
    new Option('--attention <form>', 'fused: onnxruntime MultiHeadAttention (an ONNX export with unfused attention is rewritten once into --cache-dir); plain: MatMul/Softmax, exports as they are').env('HYPERGEN_ATTENTION').choices(['fused', 'plain']).default('fused'),
    new Option('--vae-tiling <mode>', "on: images larger than the VAE's own size decode in overlapping blended tiles (diffusers' vae.enable_tiling(); less memory, seams blended)").env('HYPERGEN_VAE_TILING').choices(['off', 'on']).default('off'),
    new Option('--max-batch-size <n>', 'most images in one UNet batch').env('HYPERGEN_MAX_BATCH_SIZE').default(4).argParser(integer(1, 64)),
    new Option('--batch-wait-ms <ms>', "right after a batch, how long the next waits for that batch's clients to come back (a request to an idle engine starts at once)").env('HYPERGEN_BATCH_WAIT_MS').default(10).argParser(integer(0, 10_000)),
    new Option('--max-queue-size <n>', 'requests waiting beyond which new ones get 429').env('HYPERGEN_MAX_QUEUE_SIZE').default(32).argParser(integer(1, 100_000)),
    new Option('--default-steps <n>', 'num_inference_steps when a request gives none (default: by model family)').env('HYPERGEN_DEFAULT_STEPS').argParser(integer(1, 150)),
    new Option('--default-guidance-scale <x>', 'guidance_scale when a request gives none (default: by model family)').env('HYPERGEN_DEFAULT_GUIDANCE_SCALE').argParser(decimal(0, 50)),
    new Option('--default-scheduler <name>', 'scheduler when a request gives none (default: by model family)').env('HYPERGEN_DEFAULT_SCHEDULER').choices([...SCHEDULER_NAMES]),
    new Option('--request-timeout-s <s>', 'longest time a generation request may take, queueing included').env('HYPERGEN_REQUEST_TIMEOUT_S').default(600).argParser(integer(1, 86_400)),
    new Option('--shutdown-grace-s <s>', 'on SIGTERM, the time until exit: the drain delay, then in-flight requests finish').env('HYPERGEN_SHUTDOWN_GRACE_S').default(25).argParser(integer(0, 3_600)),
    new Option('--drain-delay-s <s>', 'on SIGTERM, how long to keep serving with /readyz 503 before the listener closes').env('HYPERGEN_DRAIN_DELAY_S').default(5).argParser(integer(0, 3_600)),
    new Option('--image-ttl-s <s>', 'how long response_format=url images stay downloadable').env('HYPERGEN_IMAGE_TTL_S').default(3600).argParser(integer(1, 86_400)),
    new Option('--no-playground', 'do not serve the playground page at GET /').env('HYPERGEN_NO_PLAYGROUND'),
    new Option('--peer-address <host>', "this replica's address for the other replicas (the pod IP; the port is --port): with --peer-key-file, any replica serves any url image").env('HYPERGEN_PEER_ADDRESS'),
    new Option('--peer-key-file <path>', 'a key shared by the replicas, signing url image names with the address of the replica holding them').env('HYPERGEN_PEER_KEY_FILE'),
    new Option('--trusted-proxies <list>', 'comma-separated addresses/CIDRs whose X-Forwarded-Host/-Proto/-Prefix are believed').env('HYPERGEN_TRUSTED_PROXIES').default([], 'none').argParser(proxyList),
    new Option('--cache-dir <dir>', 'where model URIs are downloaded').env('HYPERGEN_CACHE_DIR').default('.hypergen-cache'),
    new Option('--log-level <level>', 'log level').env('HYPERGEN_LOG_LEVEL').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ];
}

/** Maps commander's parsed options (camelCase keys) onto a ServeConfig. */
export function toServeConfig(model: string, options: Record<string, unknown>): ServeConfig {
  return {
    ...(options as Omit<ServeConfig, 'model' | 'modelId'>),
    model,
    modelId: (options.modelId as string | undefined) ?? model,
  };
}
