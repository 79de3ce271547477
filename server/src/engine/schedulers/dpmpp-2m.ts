// DPMSolverMultistepScheduler (diffusers v0.30.3) with algorithm_type dpmsolver++, solver_type midpoint, solver_order
// 1 or 2, final_sigmas_type zero or sigma_min, lower_order_final / euler_at_final, lambda_min_clipped and
// use_karras_sigmas as configured.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, dpmTimesteps, interpolate, karrasSchedule, roundHalfEven, trainSigmas } from './schedule.js';
import { combine, predictOriginal, type Scheduler, type StepResult } from './scheduler.js';

/** alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t) - log(sigma_t). */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

export class DpmSolverPlusPlus2MScheduler implements Scheduler {
  readonly timesteps: number[];
  readonly sigmas: number[];
  readonly initNoiseSigma = 1;
  /** x0 predictions of earlier steps (the multistep history). */
  private previous: Float32Array | undefined;
  private lastStepIndex = -1;

  constructor(private readonly config: SchedulerConfig, steps: number) {
    const table = trainSigmas(alphasCumprod(config));
    // sigma_min: the smallest training sigma, ((1 - alphas_cumprod[0]) / alphas_cumprod[0]) ** 0.5.
    const last = config.finalSigmasType === 'sigma_min' ? table[0]! : 0;
    if (config.useKarrasSigmas) {
      // DPM-Solver: the ramp spans the whole training range; timesteps are rounded.
      const karras = karrasSchedule(table, table[0]!, table[table.length - 1]!, steps);
      this.timesteps = karras.timesteps.map(roundHalfEven);
      this.sigmas = [...karras.sigmas.map(Math.fround), last];
    } else {
      this.timesteps = dpmTimesteps(config, steps);
      this.sigmas = [...this.timesteps.map((t) => Math.fround(interpolate(table, t))), last];
    }
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  needsNoise(): boolean {
    return false;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    if (stepIndex !== this.lastStepIndex + 1) throw new Error('dpmpp_2m steps must run in order');
    this.lastStepIndex = stepIndex;
    const s0 = alphaSigma(this.sigmas[stepIndex]!);
    const t = alphaSigma(this.sigmas[stepIndex + 1]!);
    const x0 = predictOriginal(this.config.predictionType, modelOutput, sample, s0.alpha, s0.sigmaT);
    const h = t.lambda - s0.lambda;
    const ratio = t.sigmaT / s0.sigmaT;
    const coef = -t.alpha * Math.expm1(-h);
    const { eulerAtFinal, lowerOrderFinal, finalSigmasType, solverOrder } = this.config;
    const firstOrderFinal =
      stepIndex === this.timesteps.length - 1 && (eulerAtFinal || (lowerOrderFinal && this.timesteps.length < 15) || finalSigmasType === 'zero');
    let prevSample: Float32Array;
    if (solverOrder === 1 || this.previous === undefined || firstOrderFinal) {
      prevSample = combine(ratio, sample, coef, x0);
    } else {
      const s1 = alphaSigma(this.sigmas[stepIndex - 1]!);
      const r0 = (s0.lambda - s1.lambda) / h;
      // D0 = x0, D1 = (x0 - x0_prev) / r0; x_t = ratio * sample + coef * (D0 + D1 / 2)
      const d = combine(1 + 0.5 / r0, x0, -0.5 / r0, this.previous);
      prevSample = combine(ratio, sample, coef, d);
    }
    this.previous = x0;
    return { prevSample, predOriginalSample: x0 };
  }
}
