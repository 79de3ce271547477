import type { Logger } from 'pino';
import type { Engine, GenerationRequest, GenerationResult } from '../engine/types.js';
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
  maxQueueSize: number;
  timeoutS: number;
}

interface Job {
  request: GenerationRequest;
  signal: AbortSignal;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

/**
 * Admission control in front of the engine: a bounded FIFO of waiting requests, one running at a time. A full queue
 * refuses at once (the caller answers 429) instead of blocking; a request whose client goes away leaves the queue,
 * or stops at the next step boundary when it already runs.
 */
export class GenerationQueue {
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  private closed = false;
  /** Aborts the running request when the shutdown grace period is over. */
  private readonly shutdownController = new AbortController();
  private idle: (() => void) | undefined;
  /** Smoothed seconds per request, for Retry-After. */
  private secondsPerJob = 1;

  constructor(
    private readonly engine: Engine,
    private readonly options: QueueOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Requests admitted and not finished. */
  get size(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  submit(request: GenerationRequest, clientSignal: AbortSignal): Promise<GenerationResult> {
    if (this.closed) {
      this.metrics.rejected.inc({ reason: 'shutting_down' });
      return Promise.reject(new ShuttingDownError());
    }
    if (this.waiting.length >= this.options.maxQueueSize) {
      this.metrics.rejected.inc({ reason: 'queue_full' });
      const retryAfterS = Math.max(1, Math.ceil(this.secondsPerJob * (this.waiting.length + 1)));
      return Promise.reject(new QueueFullError(retryAfterS));
    }
    const signal = AbortSignal.any([
      clientSignal,
      AbortSignal.timeout(this.options.timeoutS * 1000),
      this.shutdownController.signal,
    ]);
    return new Promise<GenerationResult>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(job);
        if (index < 0) return; // running: the engine sees the signal at its next step
        this.waiting.splice(index, 1);
        this.updateDepth();
        this.fail(job, signal.reason);
      };
      const job: Job = { request, signal, resolve, reject, detach: () => signal.removeEventListener('abort', onAbort) };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(job);
      this.updateDepth();
      this.pump();
    });
  }

  /**
   * Stops admitting. Waits up to graceMs for admitted requests to finish; then queued ones are refused with
   * ShuttingDownError and the running one is aborted. Resolves when nothing is left.
   */
  async drain(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.size === 0) return;
    const done = new Promise<void>((resolve) => (this.idle = resolve));
    const timer = setTimeout(() => {
      const refused = this.waiting.splice(0);
      for (const job of refused) this.fail(job, new ShuttingDownError(), 'shutting_down');
      this.updateDepth();
      this.shutdownController.abort(new ShuttingDownError());
      this.logger.warn({ refused: refused.length, aborted: this.running ? 1 : 0 }, 'grace period over: refused queued requests, aborted the running one');
    }, graceMs);
    await done;
    clearTimeout(timer);
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) {
      this.idle?.();
      return;
    }
    this.running = job;
    void this.run(job);
  }

  private async run(job: Job): Promise<void> {
    const started = performance.now();
    try {
      const result = await this.engine.generate(job.request, job.signal);
      this.record(job.request, result);
      job.detach();
      job.resolve(result);
    } catch (error) {
      this.fail(job, job.signal.aborted ? job.signal.reason : error);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.secondsPerJob = 0.8 * this.secondsPerJob + 0.2 * seconds;
      this.running = undefined;
      this.updateDepth();
      this.pump();
    }
  }

  private record(request: GenerationRequest, result: GenerationResult): void {
    this.metrics.images.inc(result.images.length);
    this.metrics.steps.inc(request.steps);
    this.metrics.batchSize.observe(result.images.length);
    for (const [stage, seconds] of Object.entries(result.timings)) this.metrics.stageSeconds.observe({ stage }, seconds);
  }

  private fail(job: Job, reason: unknown, metricReason?: string): void {
    job.detach();
    const error = reason instanceof DOMException && reason.name === 'TimeoutError' ? new GenerationTimeoutError(this.options.timeoutS) : reason;
    const label =
      metricReason ??
      (error instanceof GenerationTimeoutError ? 'timeout' : error instanceof ShuttingDownError ? 'shutting_down' : job.signal.aborted ? 'client_disconnect' : undefined);
    if (label) this.metrics.rejected.inc({ reason: label });
    job.reject(error);
  }

  private updateDepth(): void {
    this.metrics.queueDepth.set(this.size);
  }
}
