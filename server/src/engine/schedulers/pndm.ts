// PNDMScheduler (diffusers v0.30.3): with skip_prk_steps (what SD 1.x ships) the pseudo linear multistep (PLMS) loop,
// steps + 1 UNet calls (the second repeats a timestep); without, 12 Runge-Kutta (PRK) warm-up calls over the last 4
// timesteps and then PLMS, steps + 9 calls. float32 like torch.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, spacedTimesteps } from './schedule.js';
import type { Scheduler, StepResult } from './scheduler.js';

const f32 = Math.fround;

/** sum of coefficient * array, element-wise, each operation rounded to float32 as torch's tensor arithmetic. */
function weighted(terms: [number, Float32Array][], divisor: number): Float32Array {
  const out = new Float32Array(terms[0]![1].length);
  for (let k = 0; k < out.length; k++) {
    let acc = f32(terms[0]![0] * terms[0]![1][k]!);
    for (let j = 1; j < terms.length; j++) acc = f32(acc + f32(terms[j]![0] * terms[j]![1][k]!));
    out[k] = f32(acc / divisor);
  }
  return out;
}

export class PndmScheduler implements Scheduler {
  readonly timesteps: number[];
  readonly initNoiseSigma = 1;
  private readonly alphas: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;
  /** Model outputs of earlier steps (diffusers' ets, at most 4 kept). */
  private ets: Float32Array[] = [];
  private curSample: Float32Array | undefined;
  /** PRK: the running 1/6, 1/3, 1/3, 1/6 combination of a 4-call group (diffusers' cur_model_output). */
  private curModelOutput: Float32Array | undefined;
  private readonly prkCalls: number;
  private readonly halfStride: number;
  private counter = 0;

  constructor(private readonly config: SchedulerConfig, steps: number) {
    if (config.predictionType === 'sample') throw new Error('pndm supports prediction_type epsilon and v_prediction (as in diffusers)');
    this.stride = Math.floor(config.numTrainTimesteps / steps);
    this.halfStride = Math.floor(this.stride / 2);
    // set_timesteps, from the spaced timesteps in ascending order.
    const ascending = spacedTimesteps(config, steps, true).reverse();
    if (config.skipPrkSteps) {
      // plms = [t[:-1], t[-2], t[-1]], reversed
      this.timesteps = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
      this.prkCalls = 0;
    } else {
      // diffusers' broadcasting fails below 4 steps (pndm_order).
      if (steps < 4) throw new Error('pndm with skip_prk_steps false needs at least 4 steps');
      // prk = (t[-4:].repeat(2) + tile([0, stride // 2], 4))[:-1].repeat(2)[1:-1] reversed; plms = t[:-3] reversed.
      const pairs = ascending.slice(-4).flatMap((t) => [t, t + this.halfStride]);
      const prk = pairs.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1).reverse();
      this.timesteps = [...prk, ...ascending.slice(0, -3).reverse()];
      this.prkCalls = prk.length;
    }
    this.alphas = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphas[0]!;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  needsNoise(): boolean {
    return false;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    if (stepIndex !== this.counter) throw new Error('pndm steps must run in order');
    return this.counter < this.prkCalls ? this.stepPrk(modelOutput, sample) : this.stepPlms(modelOutput, sample);
  }

  /** step_prk: four calls per timestep pair, combined 1/6, 1/3, 1/3, 1/6 from the group's first sample. */
  private stepPrk(modelOutput: Float32Array, sample: Float32Array): StepResult {
    const prevTimestep = this.timesteps[this.counter]! - (this.counter % 2 ? 0 : this.halfStride);
    const timestep = this.timesteps[Math.floor(this.counter / 4) * 4]!;
    let output = modelOutput;
    const sixth = f32(1 / 6);
    const third = f32(1 / 3);
    switch (this.counter % 4) {
      case 0:
        this.curModelOutput = modelOutput.map((v) => f32(sixth * v));
        this.ets.push(modelOutput);
        this.curSample = sample;
        break;
      case 1:
      case 2:
        this.curModelOutput = this.curModelOutput!.map((c, k) => f32(c + f32(third * modelOutput[k]!)));
        break;
      case 3:
        output = this.curModelOutput!.map((c, k) => f32(c + f32(sixth * modelOutput[k]!)));
        this.curModelOutput = undefined;
        break;
    }
    const from = this.curSample ?? sample;
    const prevSample = this.previousSample(from, timestep, prevTimestep, output);
    this.counter++;
    return { prevSample, predOriginalSample: this.originalSample(from, timestep, output) };
  }

  private stepPlms(modelOutput: Float32Array, sample: Float32Array): StepResult {
    let timestep = this.timesteps[this.counter]!;
    let prevTimestep = timestep - this.stride;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      prevTimestep = timestep;
      timestep = timestep + this.stride;
    }
    const e = this.ets;
    let output: Float32Array;
    let from = sample;
    if (e.length === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = sample;
    } else if (e.length === 1 && this.counter === 1) {
      output = weighted([[1, modelOutput], [1, e[0]!]], 2);
      from = this.curSample!;
      this.curSample = undefined;
    } else if (e.length === 2) {
      output = weighted([[3, e[1]!], [-1, e[0]!]], 2);
    } else if (e.length === 3) {
      output = weighted([[23, e[2]!], [-16, e[1]!], [5, e[0]!]], 12);
    } else {
      // (1 / 24) * (55 e1 - 59 e2 + 37 e3 - 9 e4)
      const sum = weighted([[55, e[3]!], [-59, e[2]!], [37, e[1]!], [-9, e[0]!]], 1);
      output = sum.map((v) => f32(f32(1 / 24) * v));
    }
    const prevSample = this.previousSample(from, timestep, prevTimestep, output);
    this.counter++;
    return { prevSample, predOriginalSample: this.originalSample(from, timestep, output) };
  }

  /** _get_prev_sample: formula (9) of the PNDM paper, in torch's float32 scalar and tensor operations. */
  private previousSample(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array): Float32Array {
    const a = this.alphas[timestep]!;
    const aPrev = prevTimestep >= 0 ? this.alphas[prevTimestep]! : this.finalAlphaCumprod;
    const beta = f32(1 - a);
    const betaPrev = f32(1 - aPrev);
    const eps = this.epsilon(sample, modelOutput, a, beta);
    const sampleCoeff = f32(Math.sqrt(f32(aPrev / a)));
    const denominator = f32(f32(a * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(a * beta) * aPrev))));
    const difference = f32(aPrev - a);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < out.length; k++) out[k] = f32(f32(sampleCoeff * sample[k]!) - f32(f32(difference * eps[k]!) / denominator));
    return out;
  }

  /** v_prediction: the model output is turned into epsilon first (sqrt(a) * v + sqrt(1 - a) * sample). */
  private epsilon(sample: Float32Array, modelOutput: Float32Array, a: number, beta: number): Float32Array {
    if (this.config.predictionType !== 'v_prediction') return modelOutput;
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(beta));
    return modelOutput.map((v, k) => f32(f32(sa * v) + f32(sb * sample[k]!)));
  }

  /** Not part of diffusers' PNDM output: x0 = (sample - sqrt(1 - a) eps) / sqrt(a), for callers that preview. */
  private originalSample(sample: Float32Array, timestep: number, modelOutput: Float32Array): Float32Array {
    const a = this.alphas[timestep]!;
    const eps = this.epsilon(sample, modelOutput, a, f32(1 - a));
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    return sample.map((x, k) => (x - sb * eps[k]!) / sa);
  }
}
