// One engine in its own process, so the bench reads its peak RSS: loads MODEL on the CPU, warms up with a 1-step
// generation, then times RUNS generations (Euler, guidance 7.5, batch 1) and prints one JSON line of figures.
// Usage: node hack/dist/bench/generate-child.js MODEL SIZE STEPS RUNS
import { createEngine } from '@hypergen/server/engine/index.js';
import type { GenerationRequest } from '@hypergen/server/engine/types.js';
import { stepTimes } from './step-times.js';

export interface GenerateFigures {
  readonly device: string;
  /** Each run's total seconds, and its UNet step seconds (one list per run). */
  readonly totals: number[];
  readonly steps: number[][];
  readonly vae: number[];
  readonly loadSeconds: number;
  readonly maxRssBytes: number;
}

const [model, size, steps, runs] = process.argv.slice(2) as [string, string, string, string];
const telemetry = stepTimes();
const engine = createEngine({ modelDir: model, device: 'cpu', dtype: 'fp32', logger: telemetry.logger });
const started = performance.now();
const info = await engine.load();
const loadSeconds = (performance.now() - started) / 1000;
const request: GenerationRequest = {
  prompt: 'a photo of an astronaut riding a horse on the moon',
  n: 1,
  width: Number(size),
  height: Number(size),
  steps: Number(steps),
  guidanceScale: 7.5,
  seed: 42,
  scheduler: 'euler',
  outputFormat: 'png',
};
await engine.generate([{ ...request, steps: 1 }]);
const figures: GenerateFigures = { device: info.device, totals: [], steps: [], vae: [], loadSeconds, maxRssBytes: 0 };
for (let r = 0; r < Number(runs); r++) {
  const [result] = await engine.generate([request]);
  figures.totals.push(result!.timings.total ?? 0);
  figures.steps.push(telemetry.last());
  figures.vae.push(result!.timings.vae ?? 0);
}
await engine.close();
process.stdout.write(`${JSON.stringify({ ...figures, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
process.exit(0);
