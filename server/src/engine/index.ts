// The engine factory the HTTP layer uses. The diffusion pipeline runs in a worker thread (session.run blocks its
// thread for the whole UNet call); this side queues batches, relays aborts, returns images, and reports the
// worker's step times as the hypergen_unet_step_seconds histogram and a debug log line per batch.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { batchKey, DeviceUnavailableError, GenerationRequestError, type Engine, type EngineInfo, type GenerationRequest, type GenerationResult, type RequestedDevice } from './types.js';
import type { Metrics } from '../metrics/registry.js';
import type { FromWorker, ToWorker, WorkerError } from './worker/protocol.js';

export interface EngineOptions {
  modelDir: string;
  device: RequestedDevice;
  dtype: 'fp16' | 'fp32';
  /** Decode large latents in blended tiles (diffusers' vae.enable_tiling()). */
  vaeTiling?: boolean;
  /** Also carries the step times: at debug level, one STEP_TIMES_MESSAGE line per batch. */
  logger: Logger;
  /** Where the step times go as a histogram; without it they are only logged. */
  metrics?: Pick<Metrics, 'unetStepSeconds'>;
}

/**
 * The message of the debug line logged per batch with `stepSeconds` (each denoising step's seconds, in order),
 * `requests` and `images`: what benchmarks read instead of a field in the result.
 */
export const STEP_TIMES_MESSAGE = 'denoising step times';

/**
 * The compiled worker. Resolved against the package root, so it is found from server/dist (production) and from
 * server/src under ts-jest alike: `tsc -b` must have built server/dist first.
 */
export const WORKER_PATH = fileURLToPath(new URL('../../dist/engine/worker/worker.js', import.meta.url));

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('generation aborted', 'AbortError');
}

function toError(error: WorkerError): Error {
  if (error.name === 'GenerationRequestError') return new GenerationRequestError(error.message, error.param as keyof GenerationRequest);
  if (error.name === 'DeviceUnavailableError') return new DeviceUnavailableError(error.message);
  return Object.assign(new Error(error.message), { name: error.name });
}

/** Rejects requests the pipeline cannot run; the HTTP layer validates first, this guards other callers. */
export function validateBatch(info: EngineInfo, requests: GenerationRequest[]): void {
  if (requests.length === 0) throw new RangeError('no requests');
  const key = batchKey(requests[0]!);
  const { sizeMultiple, minSize, maxSize, maxSteps } = info.limits;
  for (const r of requests) {
    if (batchKey(r) !== key) throw new RangeError('requests in one batch must share size, steps, scheduler and guidance on/off');
    for (const [name, size] of [['width', r.width], ['height', r.height]] as const) {
      if (!Number.isInteger(size) || size % sizeMultiple !== 0 || size < minSize || size > maxSize) {
        throw new GenerationRequestError(`${name} must be a multiple of ${sizeMultiple} in ${minSize}..${maxSize}`, name);
      }
    }
    if (!Number.isInteger(r.steps) || r.steps < 1 || r.steps > maxSteps) throw new GenerationRequestError(`steps must be an integer in 1..${maxSteps}`, 'steps');
    if (!Number.isInteger(r.n) || r.n < 1) throw new GenerationRequestError('n must be a positive integer', 'n');
    if (!Number.isSafeInteger(r.seed) || r.seed < 0) throw new GenerationRequestError('seed must be a non-negative safe integer', 'seed');
    if (!Number.isFinite(r.guidanceScale)) throw new GenerationRequestError('guidanceScale must be a finite number', 'guidanceScale');
  }
}

class WorkerEngine implements Engine {
  info: EngineInfo | undefined;
  private worker: Worker | undefined;
  private loading: Promise<EngineInfo> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { requests: number; images: number; resolve: (r: GenerationResult[]) => void; reject: (e: unknown) => void }>();
  /** One generation at a time: the worker owns one set of sessions. */
  private tail: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private exited = false;

  constructor(private readonly options: EngineOptions) {}

  load(): Promise<EngineInfo> {
    this.loading ??= new Promise<EngineInfo>((resolve, reject) => {
      if (!existsSync(WORKER_PATH)) {
        reject(new Error(`engine worker ${WORKER_PATH} is missing: build the server first (npx tsc -b)`));
        return;
      }
      const worker = new Worker(WORKER_PATH);
      this.worker = worker;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'loaded':
            this.info = message.info;
            this.options.logger.info({ family: message.info.family, device: message.info.device, deviceReason: message.info.deviceReason }, 'engine loaded');
            return resolve(message.info);
          case 'load-failed':
            void worker.terminate();
            return reject(toError(message.error));
          case 'steps': {
            for (const seconds of message.seconds) this.options.metrics?.unetStepSeconds.observe(seconds);
            const batch = this.pending.get(message.id);
            this.options.logger.debug({ requests: batch?.requests, images: batch?.images, stepSeconds: message.seconds }, STEP_TIMES_MESSAGE);
            return;
          }
          case 'generated': {
            const results = message.results.map((result) => ({
              ...result,
              // Buffers arrive as plain Uint8Arrays after structured cloning.
              images: result.images.map((image) => ({ ...image, data: Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength) })),
            }));
            this.pending.get(message.id)?.resolve(results);
            this.pending.delete(message.id);
            return;
          }
          case 'failed':
            this.pending.get(message.id)?.reject(toError(message.error));
            this.pending.delete(message.id);
            return;
          case 'log':
            this.options.logger[message.level](message.fields, message.message);
            return;
          case 'closed':
            return;
        }
      });
      const fail = (error: Error) => {
        if (!this.failure) {
          this.failure = error;
          this.options.logger.error({ err: error }, 'engine worker stopped');
        }
        reject(error);
        for (const { reject: rejectPending } of this.pending.values()) rejectPending(error);
        this.pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        this.exited = true;
        fail(this.failure ?? new Error(`engine worker exited with code ${code}`));
      });
      const message: ToWorker = { type: 'load', options: { modelDir: this.options.modelDir, device: this.options.device, dtype: this.options.dtype, vaeTiling: this.options.vaeTiling } };
      worker.postMessage(message);
    });
    return this.loading;
  }

  generate(requests: GenerationRequest[], signal?: AbortSignal): Promise<GenerationResult[]> {
    const run = this.tail.then(() => this.run(requests, signal));
    this.tail = run.catch(() => undefined);
    if (!signal) return run;
    // Callers hear of an abort at once, also while queued; the worker stops at its next step boundary.
    return new Promise<GenerationResult[]>((resolve, reject) => {
      const onAbort = () => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private run(requests: GenerationRequest[], signal?: AbortSignal): Promise<GenerationResult[]> {
    if (!this.info || !this.worker) return Promise.reject(new Error('engine is not loaded'));
    if (this.failure) return Promise.reject(this.failure);
    validateBatch(this.info, requests);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const id = this.nextId++;
    const abortFlag = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = () => Atomics.store(abortFlag, 0, 1);
    signal?.addEventListener('abort', onAbort, { once: true });
    const worker = this.worker;
    return new Promise<GenerationResult[]>((resolve, reject) => {
      this.pending.set(id, { requests: requests.length, images: requests.reduce((sum, r) => sum + r.n, 0), resolve, reject });
      const message: ToWorker = { type: 'generate', id, requests, abortFlag };
      worker.postMessage(message);
    }).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.failure ??= new Error('engine closed');
    await this.tail;
    if (this.exited) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
  }
}

export function createEngine(options: EngineOptions): Engine {
  return new WorkerEngine(options);
}

export { DeviceUnavailableError } from './types.js';
export type { Engine, EngineInfo, GenerationRequest, GenerationResult, RequestedDevice } from './types.js';
