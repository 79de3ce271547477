// DDIMScheduler (diffusers), eta = 0.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, spacedTimesteps } from './schedule.js';
import { clip, combine, predictOriginal, type Scheduler, type StepResult } from './scheduler.js';

export class DdimScheduler implements Scheduler {
  readonly timesteps: number[];
  readonly initNoiseSigma = 1;
  private readonly alphas: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;

  constructor(private readonly config: SchedulerConfig, steps: number) {
    this.timesteps = spacedTimesteps(config, steps, true);
    this.alphas = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphas[0]!;
    this.stride = Math.floor(config.numTrainTimesteps / steps);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  needsNoise(): boolean {
    return false;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    const t = this.timesteps[stepIndex]!;
    // diffusers steps back by num_train_timesteps // steps, whatever the spacing.
    const prevT = t - this.stride;
    const alphaT = this.alphas[t]!;
    const alphaPrev = prevT >= 0 ? this.alphas[prevT]! : this.finalAlphaCumprod;
    const a = Math.sqrt(alphaT);
    const s = Math.sqrt(1 - alphaT);
    const predEpsilon = this.predictEpsilon(modelOutput, sample, a, s);
    let predOriginalSample = predictOriginal(this.config.predictionType, modelOutput, sample, a, s);
    // Clipping x0 leaves eps as predicted (diffusers' use_clipped_model_output = False).
    if (this.config.clipSample) predOriginalSample = clip(predOriginalSample, this.config.clipSampleRange);
    const prevSample = combine(Math.sqrt(alphaPrev), predOriginalSample, Math.sqrt(1 - alphaPrev), predEpsilon);
    return { prevSample, predOriginalSample };
  }

  private predictEpsilon(modelOutput: Float32Array, sample: Float32Array, a: number, s: number): Float32Array {
    switch (this.config.predictionType) {
      case 'epsilon':
        return modelOutput;
      case 'v_prediction':
        return combine(a, modelOutput, s, sample);
      case 'sample':
        return combine(1 / s, sample, -a / s, modelOutput);
    }
  }
}
