// Schedulers against tables and denoising loops recorded from upstream diffusers (fixtures/README.md), and, for
// configs the fixture does not cover (trailing spacing, v-prediction), against diffusers' formulas evaluated here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { SchedulerName } from '../../src/engine/types.js';
import { createScheduler, parseSchedulerConfig } from '../../src/engine/schedulers/index.js';
import { alphasCumprod } from '../../src/engine/schedulers/schedule.js';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from '../../src/engine/schedulers/config.js';

interface LoopStep {
  i: number;
  t: number;
  scaled_input: number[];
  model_output: number[];
  prev_sample: number[];
  pred_original_sample?: number[];
  denoised?: number[];
  noise?: number[];
}
interface StepsEntry {
  timesteps: number[];
  sigmas?: number[];
  init_noise_sigma: number;
  initial_latents?: number[];
  loop?: LoopStep[];
  final_sample?: number[];
}
interface Fixture {
  _meta: { base_latents: number[] };
  _alphas_cumprod_sd15: { full: number[] };
  [scheduler: string]: unknown;
}

const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/schedulers-sd15.json'), 'utf8')) as Fixture;
// Relative 1e-5 (fixtures/README.md), per value or of the vector's largest value: elements that cancel to near
// zero inherit float32 rounding from their large operands (measured worst: 1e-6 of the vector's largest value,
// in the 20-step ancestral and LCM loops, where small elements sit next to large ones).
const REL = 1e-5;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = REL): void {
  expect(actual.length).toBe(expected.length);
  const largest = Math.max(...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Math.abs(a - e) > rel * Math.max(Math.abs(e), largest)) {
      throw new Error(`index ${i}: ${a} vs ${e} (rel ${Math.abs(a - e) / Math.abs(e)})`);
    }
  }
}

const CASES: [SchedulerName, string][] = [
  ['ddim', 'DDIMScheduler'],
  ['euler', 'EulerDiscreteScheduler'],
  ['euler_a', 'EulerAncestralDiscreteScheduler'],
  ['lcm', 'LCMScheduler'],
  ['dpmpp_2m', 'DPMSolverMultistepScheduler'],
];

function entry(cls: string, steps: number): { config: SchedulerConfig; data: StepsEntry } {
  const sd15 = (FIXTURE[cls] as { sd15: { config: Record<string, unknown>; steps: Record<string, StepsEntry> } }).sd15;
  return { config: parseSchedulerConfig(sd15.config), data: sd15.steps[String(steps)]! };
}

describe('noise schedule', () => {
  it('alphas_cumprod matches diffusers for SD 1.5 (all 1000 values)', () => {
    expectClose(alphasCumprod(DEFAULT_SCHEDULER_CONFIG), FIXTURE._alphas_cumprod_sd15.full);
  });
});

describe.each(CASES)('%s (diffusers %s, SD 1.5 config)', (name, cls) => {
  it.each([1, 4, 20, 50])('timesteps, sigmas and init_noise_sigma for %i steps', (steps) => {
    const { config, data } = entry(cls, steps);
    const scheduler = createScheduler(name, config, steps);
    expect([...scheduler.timesteps]).toEqual(data.timesteps);
    expectClose([scheduler.initNoiseSigma], [data.init_noise_sigma]);
    if (data.sigmas) expectClose((scheduler as unknown as { sigmas: number[] }).sigmas, data.sigmas);
  });

  it.each([1, 4, 20])('full denoising loop of %i steps', (steps) => {
    const { config, data } = entry(cls, steps);
    const scheduler = createScheduler(name, config, steps);
    // prepare_latents: base latents * init_noise_sigma.
    let latents: Float32Array = Float32Array.from(FIXTURE._meta.base_latents, (v) => v * scheduler.initNoiseSigma);
    expectClose(latents, data.initial_latents!);
    for (const record of data.loop!) {
      const t = scheduler.timesteps[record.i]!;
      expect(t).toBe(record.t);
      const scaled = scheduler.scaleModelInput(latents, record.i);
      expectClose(scaled, record.scaled_input);
      const modelOutput = scaled.map((v) => 0.1 * v + (0.05 * t) / 1000);
      expectClose(modelOutput, record.model_output);
      expect(scheduler.needsNoise(record.i)).toBe(record.noise !== undefined);
      const noise = record.noise ? Float32Array.from(record.noise) : undefined;
      const { prevSample, predOriginalSample } = scheduler.step(modelOutput, record.i, latents, noise);
      expectClose(prevSample, record.prev_sample);
      const expectedOriginal = record.pred_original_sample ?? record.denoised;
      if (expectedOriginal) expectClose(predOriginalSample, expectedOriginal);
      latents = prevSample;
    }
    expectClose(latents, data.final_sample!);
  });
});

describe('configs beyond the SD 1.5 fixture (diffusers formulas)', () => {
  const trailing: SchedulerConfig = { ...DEFAULT_SCHEDULER_CONFIG, timestepSpacing: 'trailing', stepsOffset: 0 };
  const alphas = alphasCumprod(DEFAULT_SCHEDULER_CONFIG);
  const sigmaAt = (t: number) => Math.sqrt((1 - alphas[t]!) / alphas[t]!);

  it('trailing spacing: np.round(np.arange(N, 0, -N / steps)) - 1 (DDIM, Euler; SDXL Turbo)', () => {
    expect(createScheduler('ddim', trailing, 4).timesteps).toEqual([999, 749, 499, 249]);
    expect(createScheduler('euler_a', trailing, 1).timesteps).toEqual([999]);
    expect(createScheduler('euler', trailing, 3).timesteps).toEqual([999, 666, 332]);
    expect(createScheduler('dpmpp_2m', trailing, 4).timesteps).toEqual([999, 749, 499, 249]);
  });

  it('trailing spacing: init_noise_sigma is the largest sigma, not sqrt(sigma^2 + 1)', () => {
    const euler = createScheduler('euler_a', trailing, 1);
    expectClose([euler.initNoiseSigma], [sigmaAt(999)]);
    expectClose([euler.initNoiseSigma], [14.614647]);
  });

  it('linspace spacing: np.linspace(0, N - 1, steps)[::-1], fractional for Euler', () => {
    const linspace = { ...DEFAULT_SCHEDULER_CONFIG, timestepSpacing: 'linspace' as const };
    expectClose(createScheduler('euler', linspace, 4).timesteps, [999, 666, 333, 0]);
    expectClose(createScheduler('euler', linspace, 3).timesteps, [999, 499.5, 0]);
    expect(createScheduler('ddim', linspace, 3).timesteps).toEqual([999, 500, 0]);
  });

  it('v-prediction, Euler: x0 = v * (-sigma / sqrt(sigma^2 + 1)) + sample / (sigma^2 + 1)', () => {
    // EulerDiscreteScheduler.step, prediction_type == "v_prediction"; one step to sigma 0 lands on x0.
    const config = { ...trailing, predictionType: 'v_prediction' as const };
    const scheduler = createScheduler('euler', config, 1);
    const sigma = sigmaAt(999);
    const sample = Float32Array.from([1, -2, 0.5]);
    const v = Float32Array.from([0.3, 0.1, -0.7]);
    const expected = [...sample].map((x, i) => v[i]! * (-sigma / Math.sqrt(sigma ** 2 + 1)) + x / (sigma ** 2 + 1));
    const { prevSample, predOriginalSample } = scheduler.step(v, 0, sample);
    expectClose(predOriginalSample, expected);
    expectClose(prevSample, expected);
  });

  it('v-prediction, DDIM: x0 = sqrt(a) * sample - sqrt(1 - a) * v, eps = sqrt(a) * v + sqrt(1 - a) * sample', () => {
    const config = { ...trailing, predictionType: 'v_prediction' as const };
    const scheduler = createScheduler('ddim', config, 4);
    const a = alphas[999]!;
    const aPrev = alphas[749]!;
    const sample = Float32Array.from([1, -2, 0.5]);
    const v = Float32Array.from([0.3, 0.1, -0.7]);
    const x0 = [...sample].map((x, i) => Math.sqrt(a) * x - Math.sqrt(1 - a) * v[i]!);
    const eps = [...sample].map((x, i) => Math.sqrt(a) * v[i]! + Math.sqrt(1 - a) * x);
    const expected = x0.map((x, i) => Math.sqrt(aPrev) * x + Math.sqrt(1 - aPrev) * eps[i]!);
    const { prevSample, predOriginalSample } = scheduler.step(v, 0, sample);
    expectClose(predOriginalSample, x0);
    expectClose(prevSample, expected);
  });

  it('v-prediction, DPM++ 2M and LCM use x0 = alpha_t * sample - sigma_t * v', () => {
    const config = { ...DEFAULT_SCHEDULER_CONFIG, predictionType: 'v_prediction' as const };
    const dpm = createScheduler('dpmpp_2m', config, 4) as unknown as { sigmas: number[] } & ReturnType<typeof createScheduler>;
    const sigma = dpm.sigmas[0]!;
    const alpha = 1 / Math.sqrt(sigma ** 2 + 1);
    const sample = Float32Array.from([1, -2]);
    const v = Float32Array.from([0.3, 0.1]);
    expectClose(dpm.step(v, 0, sample).predOriginalSample, [alpha * 1 - sigma * alpha * 0.3, alpha * -2 - sigma * alpha * 0.1]);
    const lcm = createScheduler('lcm', config, 1);
    const a = alphas[999]!;
    // Last step: denoised = c_out * x0 + c_skip * sample, c_skip = 0.25 / ((10 t)^2 + 0.25), c_out = 10 t / sqrt((10 t)^2 + 0.25).
    const st = 9990;
    const x0 = [Math.sqrt(a) * 1 - Math.sqrt(1 - a) * 0.3, Math.sqrt(a) * -2 - Math.sqrt(1 - a) * 0.1];
    const expected = x0.map((x, i) => (st / Math.sqrt(st ** 2 + 0.25)) * x + (0.25 / (st ** 2 + 0.25)) * sample[i]!);
    expectClose(lcm.step(v, 0, sample).prevSample, expected);
  });

  it('sample prediction is rejected by Euler ancestral, as in diffusers', () => {
    expect(() => createScheduler('euler_a', { ...DEFAULT_SCHEDULER_CONFIG, predictionType: 'sample' }, 4)).toThrow(/sample/);
  });

  it('linear betas: linspace(beta_start, beta_end)', () => {
    const linear = alphasCumprod({ ...DEFAULT_SCHEDULER_CONFIG, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    expectClose([linear[0]!, linear[1]!], [1 - 0.0001, (1 - 0.0001) * (1 - (0.0001 + 0.0199 / 999))]);
  });

  it('parses scheduler_config.json and rejects unsupported variants', () => {
    expect(parseSchedulerConfig({ prediction_type: 'v_prediction', timestep_spacing: 'trailing', steps_offset: 0 })).toMatchObject({
      predictionType: 'v_prediction',
      timestepSpacing: 'trailing',
      stepsOffset: 0,
    });
    expect(() => parseSchedulerConfig({ beta_schedule: 'squaredcos_cap_v2' })).toThrow(/beta_schedule/);
    expect(() => parseSchedulerConfig({ rescale_betas_zero_snr: true })).toThrow(/rescale/);
  });
});
