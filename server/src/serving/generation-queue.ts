// Admission and dynamic batching between the HTTP layer and the engine: a bounded FIFO (full: QueueFullError with
// Retry-After), batches by batchKey, per-request timeouts, client aborts, and a drain that finishes admitted work.
import type { Logger } from 'pino';
import { batchKey, type Engine, type GenerationRequest, type GenerationResult } from '../engine/types.js';
import type { Metrics } from '../metrics/registry.js';

export class QueueFullError extends Error {
  constructor(readonly retryAfterS: number) {
    super('The server is at capacity; retry later.');
    this.name = 'QueueFullError';
  }
}

export class ShuttingDownError extends Error {
  constructor() {
    super('The server is shutting down; retry on another replica.');
    this.name = 'ShuttingDownError';
  }
}

export class GenerationTimeoutError extends Error {
  constructor(readonly timeoutS: number) {
    super(`Generation did not finish within ${timeoutS} s.`);
    this.name = 'GenerationTimeoutError';
  }
}

export interface QueueOptions {
  /** Requests allowed to wait; beyond that, submit() refuses at once. */
  maxQueueSize: number;
  /** Most images in one engine batch. */
  maxBatchSize: number;
  /**
   * Right after a batch, how long the next one may wait for the clients of that batch to come back (0: never). A
   * request reaching an engine idle for longer starts at once; requests arriving while a batch runs always gather
   * into the next one, which costs them nothing: the engine is busy anyway.
   */
  batchWaitMs: number;
  timeoutS: number;
}

interface Job {
  request: GenerationRequest;
  key: string;
  enqueuedAt: number;
  signal: AbortSignal;
  settled: boolean;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

/**
 * Admission and dynamic batching in front of the engine. Waiting requests form a bounded FIFO: a full queue
 * refuses at once (the caller answers 429) rather than blocking. An idle engine starts on the oldest waiting request at
 * once; while it runs, arrivals wait, and the oldest leads the next batch, joined by later requests with the same
 * batchKey up to maxBatchSize images. One exception keeps closed-loop clients in step: when a batch ends, the next
 * waits up to batchWaitMs for as many requests as were waiting plus the batch's own (its clients, about to send
 * their next request); without it, 8 such clients settle into batches of 1 and 7. A lone client never waits: the
 * company expected is itself.
 * A client that goes away leaves the queue at once; in a running batch its result is dropped, and the batch stops
 * at the next step boundary only when no client is left.
 */
export class GenerationQueue {
  private readonly waiting: Job[] = [];
  private running: Job[] = [];
  private closed = false;
  private idle: (() => void) | undefined;
  private fillTimer: NodeJS.Timeout | undefined;
  /** After a batch: how many requests the next one waits for, and until when (performance.now() ms). */
  private gather = { requests: 0, until: 0 };
  /** Measured engine throughput (images per second, smoothed over batches), for Retry-After; none until a batch ran. */
  private imagesPerSecond: number | undefined;
  private readonly shutdownController = new AbortController();

  constructor(
    private readonly engine: Engine,
    private readonly options: QueueOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Requests admitted and not finished. */
  get size(): number {
    return this.waiting.length + this.running.length;
  }

  submit(request: GenerationRequest, clientSignal: AbortSignal): Promise<GenerationResult> {
    if (this.closed) {
      this.metrics.rejected.inc({ reason: 'shutting_down' });
      return Promise.reject(new ShuttingDownError());
    }
    if (this.waiting.length >= this.options.maxQueueSize) {
      this.metrics.rejected.inc({ reason: 'queue_full' });
      return Promise.reject(new QueueFullError(this.retryAfterS()));
    }
    const signal = AbortSignal.any([clientSignal, AbortSignal.timeout(this.options.timeoutS * 1000)]);
    return new Promise<GenerationResult>((resolve, reject) => {
      const job: Job = {
        request, key: batchKey(request), enqueuedAt: performance.now(), signal, settled: false, resolve, reject,
        detach: () => signal.removeEventListener('abort', onAbort),
      };
      const onAbort = () => this.abandon(job);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(job);
      this.updateDepth();
      this.pump();
    });
  }

  /**
   * Stops admitting. Waits up to graceMs for admitted requests to finish; then waiting ones are refused with
   * ShuttingDownError and the running batch is aborted. Resolves when nothing is left.
   */
  async drain(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.size === 0) return;
    const done = new Promise<void>((resolve) => (this.idle = resolve));
    const timer = setTimeout(() => {
      const refused = this.waiting.splice(0);
      for (const job of refused) this.settle(job, new ShuttingDownError());
      this.updateDepth();
      this.shutdownController.abort(new ShuttingDownError());
      this.logger.warn({ refused: refused.length, aborted: this.running.length }, 'grace period over: refused waiting requests, aborted the running batch');
    }, graceMs);
    await done;
    clearTimeout(timer);
  }

  private pump(): void {
    if (this.running.length > 0) return;
    const head = this.waiting[0];
    if (!head) {
      this.idle?.();
      return;
    }
    const batch = this.compatibleWith(head);
    const images = batch.reduce((sum, job) => sum + job.request.n, 0);
    const leftMs = this.gather.until - performance.now();
    if (leftMs > 0 && batch.length < this.gather.requests && images < this.options.maxBatchSize && !this.closed) {
      this.fillTimer ??= setTimeout(() => {
        this.fillTimer = undefined;
        this.pump();
      }, leftMs);
      return;
    }
    clearTimeout(this.fillTimer);
    this.fillTimer = undefined;
    for (const job of batch) this.waiting.splice(this.waiting.indexOf(job), 1);
    this.running = batch;
    void this.run(batch, images);
  }

  /** The head and the later waiting jobs that fit its batch, in arrival order. */
  private compatibleWith(head: Job): Job[] {
    const batch = [head];
    let images = head.request.n;
    for (const job of this.waiting.slice(1)) {
      if (job.key !== head.key || images + job.request.n > this.options.maxBatchSize) continue;
      batch.push(job);
      images += job.request.n;
    }
    return batch;
  }

  private async run(batch: Job[], images: number): Promise<void> {
    const started = performance.now();
    // The batch stops only when every client has gone, or at the end of the shutdown grace period.
    const stop = new AbortController();
    const stopWhenAbandoned = () => {
      if (batch.every((job) => job.settled)) stop.abort(new DOMException('all clients gone', 'AbortError'));
    };
    const abortOnShutdown = () => stop.abort(this.shutdownController.signal.reason);
    this.shutdownController.signal.addEventListener('abort', abortOnShutdown, { once: true });
    for (const job of batch) job.signal.addEventListener('abort', stopWhenAbandoned, { once: true });
    try {
      const requests = batch.map((job) => job.request);
      const results = await this.engine.generate(requests, stop.signal);
      this.record(batch, results, images);
      batch.forEach((job, i) => this.settle(job, undefined, results[i]));
    } catch (error) {
      for (const job of batch) this.settle(job, stop.signal.aborted ? stop.signal.reason : error);
    } finally {
      this.shutdownController.signal.removeEventListener('abort', abortOnShutdown);
      for (const job of batch) job.signal.removeEventListener('abort', stopWhenAbandoned);
      const perSecond = images / Math.max(1e-3, (performance.now() - started) / 1000);
      this.imagesPerSecond = this.imagesPerSecond === undefined ? perSecond : 0.7 * this.imagesPerSecond + 0.3 * perSecond;
      this.running = [];
      this.gather = { requests: this.waiting.length + batch.length, until: performance.now() + this.options.batchWaitMs };
      this.updateDepth();
      this.pump();
    }
  }

  /** Seconds until the admitted work is done at the measured throughput (1 s per image before any measurement). */
  private retryAfterS(): number {
    const images = [...this.waiting, ...this.running].reduce((sum, job) => sum + job.request.n, 0);
    const seconds = images / (this.imagesPerSecond ?? 1);
    return Math.min(this.options.timeoutS, Math.max(1, Math.ceil(seconds)));
  }

  /** A client went away or timed out: out of the queue if waiting; its result dropped if running. */
  private abandon(job: Job): void {
    const index = this.waiting.indexOf(job);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.updateDepth();
      if (index === 0) this.pump();
    }
    this.settle(job, job.signal.reason);
  }

  private settle(job: Job, error: unknown, result?: GenerationResult): void {
    if (job.settled) return;
    job.settled = true;
    job.detach();
    if (result) return job.resolve(result);
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    const reason = timedOut ? 'timeout' : error instanceof ShuttingDownError ? 'shutting_down' : job.signal.aborted ? 'client_disconnect' : undefined;
    if (reason) this.metrics.rejected.inc({ reason });
    job.reject(timedOut ? new GenerationTimeoutError(this.options.timeoutS) : error);
  }

  private record(batch: Job[], results: GenerationResult[], images: number): void {
    this.metrics.images.inc(images);
    this.metrics.batchSize.observe(images);
    this.metrics.steps.inc(batch[0]!.request.steps);
    // Stage timings are per batch: take them from the first result, which the engine fills for the whole batch.
    for (const [stage, seconds] of Object.entries(results[0]?.timings ?? {})) this.metrics.stageSeconds.observe({ stage }, seconds);
  }

  private updateDepth(): void {
    this.metrics.queueDepth.set(this.size);
  }
}
