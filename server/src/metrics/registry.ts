// The server's Prometheus metrics (HTTP requests and latency, queue depth, rejections, images, steps, batch sizes,
// stage times, UNet step times, model load time) with process defaults, on a registry of their own per call.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'hypergen_http_requests_total',
      help: 'HTTP requests by route, method and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'hypergen_http_request_duration_seconds',
      help: 'HTTP request latency by route and method.',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'hypergen_queue_depth',
      help: 'Generation requests admitted and not finished (waiting or running).',
      registers,
    }),
    rejected: new Counter({
      name: 'hypergen_requests_rejected_total',
      help: 'Generation requests refused or dropped, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    images: new Counter({
      name: 'hypergen_images_generated_total',
      help: 'Images generated.',
      registers,
    }),
    steps: new Counter({
      name: 'hypergen_denoising_steps_total',
      help: 'UNet denoising steps run (rate() gives steps per second).',
      registers,
    }),
    batchSize: new Histogram({
      name: 'hypergen_batch_size',
      help: 'Images per engine batch.',
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
      registers,
    }),
    stageSeconds: new Histogram({
      name: 'hypergen_generation_stage_seconds',
      help: 'Time per generation stage (tokenize, text_encoder, unet, vae, encode) per batch.',
      labelNames: ['stage'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    unetStepSeconds: new Histogram({
      name: 'hypergen_unet_step_seconds',
      help: 'Time per denoising step (one UNet call over the whole batch, plus the scheduler step).',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    modelLoadSeconds: new Gauge({
      name: 'hypergen_model_load_seconds',
      help: 'Time taken to load the model.',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
