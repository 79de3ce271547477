// What the denoising loop needs from a scheduler. Samples are flat float32 arrays over the whole batch; every
// coefficient depends only on the step, so images in a batch evolve exactly as they would alone.
import type { PredictionType, SchedulerConfig } from './config.js';

export interface StepResult {
  prevSample: Float32Array;
  /** The scheduler's estimate of the clean latents (diffusers' pred_original_sample, or LCM's denoised). */
  predOriginalSample: Float32Array;
}

export interface Scheduler {
  /** Timesteps fed to the UNet, one per step, descending. */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial latent noise. */
  readonly initNoiseSigma: number;
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** Whether step(stepIndex) consumes fresh standard-normal noise (ancestral and LCM sampling). */
  needsNoise(stepIndex: number): boolean;
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult;
}

export type SchedulerFactory = (config: SchedulerConfig, steps: number) => Scheduler;

/** Element-wise a * x + b * y into a new float32 array. */
export function combine(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = a * x[i]! + b * y[i]!;
  return out;
}

export function scale(a: number, x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = a * x[i]!;
  return out;
}

/**
 * x0 from the model output in the alpha/sigma form shared by DDIM, LCM and DPM-Solver: sample = alpha * x0 +
 * sigma * eps. v-prediction: x0 = alpha * sample - sigma * v.
 */
export function predictOriginal(
  type: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  alpha: number,
  sigma: number,
): Float32Array {
  switch (type) {
    case 'epsilon':
      return combine(1 / alpha, sample, -sigma / alpha, modelOutput);
    case 'v_prediction':
      return combine(alpha, sample, -sigma, modelOutput);
    case 'sample':
      return Float32Array.from(modelOutput);
  }
}

export function clip(x: Float32Array, range: number): Float32Array {
  return x.map((v) => Math.min(range, Math.max(-range, v)));
}

export function assertNoise(noise: Float32Array | undefined, length: number): Float32Array {
  if (!noise || noise.length !== length) throw new Error(`scheduler step needs ${length} noise values`);
  return noise;
}
