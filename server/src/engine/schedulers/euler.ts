// EulerDiscreteScheduler (optionally use_karras_sigmas) and EulerAncestralDiscreteScheduler (diffusers v0.30.3),
// s_churn = 0, final sigma 0.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, interpolate, karrasSchedule, spacedTimesteps, trainSigmas } from './schedule.js';
import { assertNoise, combine, scale, type Scheduler, type StepResult } from './scheduler.js';

abstract class EulerBase implements Scheduler {
  readonly timesteps: number[];
  readonly sigmas: number[];
  readonly initNoiseSigma: number;

  constructor(protected readonly config: SchedulerConfig, steps: number) {
    const spaced = spacedTimesteps(config, steps, false);
    const table = trainSigmas(alphasCumprod(config));
    const interpolated = spaced.map((t) => interpolate(table, t));
    if (config.useKarrasSigmas) {
      // EulerDiscrete: the ramp spans the spaced sigmas (or sigma_min / sigma_max); timesteps stay fractional.
      const sigmaMin = config.karrasSigmaMin ?? interpolated[interpolated.length - 1]!;
      const sigmaMax = config.karrasSigmaMax ?? interpolated[0]!;
      const karras = karrasSchedule(table, sigmaMin, sigmaMax, steps);
      this.timesteps = karras.timesteps.map(Math.fround);
      this.sigmas = [...karras.sigmas.map(Math.fround), 0];
    } else {
      this.timesteps = spaced;
      this.sigmas = [...interpolated.map(Math.fround), 0];
    }
    const max = Math.max(...this.sigmas);
    // diffusers: plain max sigma for linspace/trailing, (max ** 2 + 1) ** 0.5 for leading (float32 tensors).
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.fround(Math.sqrt(Math.fround(Math.fround(max * max) + 1))) : max;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    const sigma = this.sigmas[stepIndex]!;
    return scale(1 / Math.sqrt(sigma * sigma + 1), sample);
  }

  protected predictOriginal(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    switch (this.config.predictionType) {
      case 'epsilon':
        return combine(1, sample, -sigma, modelOutput);
      case 'v_prediction':
        return combine(1 / (sigma * sigma + 1), sample, -sigma / Math.sqrt(sigma * sigma + 1), modelOutput);
      case 'sample':
        return Float32Array.from(modelOutput);
    }
  }

  abstract needsNoise(stepIndex: number): boolean;
  abstract step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult;
}

export class EulerScheduler extends EulerBase {
  needsNoise(): boolean {
    return false;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    const sigma = this.sigmas[stepIndex]!;
    const dt = this.sigmas[stepIndex + 1]! - sigma;
    const predOriginalSample = this.predictOriginal(modelOutput, sample, sigma);
    // derivative = (sample - x0) / sigma; prev = sample + derivative * dt
    const prevSample = combine(1 + dt / sigma, sample, -dt / sigma, predOriginalSample);
    return { prevSample, predOriginalSample };
  }
}

export class EulerAncestralScheduler extends EulerBase {
  constructor(config: SchedulerConfig, steps: number) {
    if (config.predictionType === 'sample') throw new Error('euler_a does not support prediction_type "sample" (as in diffusers)');
    super(config, steps);
  }

  needsNoise(): boolean {
    return true;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult {
    const sigmaFrom = this.sigmas[stepIndex]!;
    const sigmaTo = this.sigmas[stepIndex + 1]!;
    const sigmaUp = Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2);
    const sigmaDown = Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2);
    const predOriginalSample = this.predictOriginal(modelOutput, sample, sigmaFrom);
    const dt = sigmaDown - sigmaFrom;
    const deterministic = combine(1 + dt / sigmaFrom, sample, -dt / sigmaFrom, predOriginalSample);
    const prevSample = combine(1, deterministic, sigmaUp, assertNoise(noise, sample.length));
    return { prevSample, predOriginalSample };
  }
}
