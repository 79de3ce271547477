// PNDMScheduler (diffusers v0.30.3) with skip_prk_steps: the pseudo linear multistep (PLMS) loop SD 1.x ships. Its
// schedule has steps + 1 UNet calls (the second repeats the first timestep below the top), float32 like torch.
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
  private counter = 0;

  constructor(private readonly config: SchedulerConfig, steps: number) {
    if (config.predictionType === 'sample') throw new Error('pndm supports prediction_type epsilon and v_prediction (as in diffusers)');
    // set_timesteps: the spaced timesteps ascending, then plms = [t[:-1], t[-2], t[-1]] reversed.
    const ascending = spacedTimesteps(config, steps, true).reverse();
    const plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)];
    this.timesteps = plms.reverse();
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

  /** step_plms. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    if (stepIndex !== this.counter) throw new Error('pndm steps must run in order');
    let timestep = this.timesteps[stepIndex]!;
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
