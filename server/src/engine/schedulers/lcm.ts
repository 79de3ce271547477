// LCMScheduler (diffusers): consistency-model sampling on the distillation schedule.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod } from './schedule.js';
import { assertNoise, clip, combine, predictOriginal, type Scheduler, type StepResult } from './scheduler.js';

const SIGMA_DATA = 0.5;

export class LcmScheduler implements Scheduler {
  readonly timesteps: number[];
  readonly initNoiseSigma = 1;
  private readonly alphas: Float64Array;
  private readonly finalAlphaCumprod: number;

  constructor(private readonly config: SchedulerConfig, steps: number) {
    const original = config.originalInferenceSteps;
    if (steps > original) throw new Error(`lcm supports at most ${original} steps (original_inference_steps)`);
    const k = Math.floor(config.numTrainTimesteps / original);
    // The original schedule k-1, 2k-1, ... descending, sampled at floor(linspace(0, len, steps, endpoint=False)).
    const origin = Array.from({ length: original }, (_, i) => (original - i) * k - 1);
    this.timesteps = Array.from({ length: steps }, (_, i) => origin[Math.floor((i * original) / steps)]!);
    this.alphas = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphas[0]!;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  needsNoise(stepIndex: number): boolean {
    return stepIndex !== this.timesteps.length - 1;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult {
    const t = this.timesteps[stepIndex]!;
    const prevT = this.timesteps[stepIndex + 1] ?? t;
    const alphaT = this.alphas[t]!;
    const alphaPrev = prevT >= 0 ? this.alphas[prevT]! : this.finalAlphaCumprod;
    const scaled = t * this.config.timestepScaling;
    const cSkip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled ** 2 + SIGMA_DATA ** 2);
    let x0 = predictOriginal(this.config.predictionType, modelOutput, sample, Math.sqrt(alphaT), Math.sqrt(1 - alphaT));
    if (this.config.clipSample) x0 = clip(x0, this.config.clipSampleRange);
    const denoised = combine(cOut, x0, cSkip, sample);
    const prevSample = this.needsNoise(stepIndex)
      ? combine(Math.sqrt(alphaPrev), denoised, Math.sqrt(1 - alphaPrev), assertNoise(noise, sample.length))
      : denoised;
    return { prevSample, predOriginalSample: denoised };
  }
}
