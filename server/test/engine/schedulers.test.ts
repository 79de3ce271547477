// Schedulers against tables and denoising loops recorded from upstream diffusers (fixtures/README.md), and, for
// configs the fixture does not cover (trailing spacing, v-prediction), against diffusers' formulas evaluated here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { SchedulerName } from '../../src/engine/types.js';
import { createScheduler, parseSchedulerConfig, resolveSchedulerConfig } from '../../src/engine/schedulers/index.js';
import { alphasCumprod } from '../../src/engine/schedulers/schedule.js';
import type { SchedulerConfig } from '../../src/engine/schedulers/config.js';
import { parsePythonJson } from '../../src/json/python-json.js';

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
  ['pndm', 'PNDMScheduler'],
];

/** The SD 1.5 scheduler config (leading spacing, steps_offset 1), resolved for DDIM-style fields. */
const SD15: SchedulerConfig = resolveSchedulerConfig(
  'ddim',
  parseSchedulerConfig({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', steps_offset: 1, clip_sample: false, set_alpha_to_one: false }),
);

function entry(name: SchedulerName, cls: string, steps: number): { config: SchedulerConfig; data: StepsEntry } {
  const sd15 = (FIXTURE[cls] as { sd15: { config: Record<string, unknown>; steps: Record<string, StepsEntry> } }).sd15;
  // The fixture writes Python's -inf as the string '-inf'.
  const json = Object.fromEntries(Object.entries(sd15.config).map(([k, v]) => [k, v === '-inf' ? -Infinity : v]));
  return { config: resolveSchedulerConfig(name, parseSchedulerConfig(json)), data: sd15.steps[String(steps)]! };
}

describe('noise schedule', () => {
  it('alphas_cumprod matches diffusers for SD 1.5 (all 1000 values)', () => {
    expectClose(alphasCumprod(SD15), FIXTURE._alphas_cumprod_sd15.full);
  });
});

describe.each(CASES)('%s (diffusers %s, SD 1.5 config)', (name, cls) => {
  it.each([1, 4, 20, 50])('timesteps, sigmas and init_noise_sigma for %i steps', (steps) => {
    const { config, data } = entry(name, cls, steps);
    const scheduler = createScheduler(name, config, steps);
    expect([...scheduler.timesteps]).toEqual(data.timesteps);
    expectClose([scheduler.initNoiseSigma], [data.init_noise_sigma]);
    if (data.sigmas) expectClose((scheduler as unknown as { sigmas: number[] }).sigmas, data.sigmas);
  });

  it.each([1, 4, 20])('full denoising loop of %i steps', (steps) => {
    const { config, data } = entry(name, cls, steps);
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
  const trailing: SchedulerConfig = { ...SD15, timestepSpacing: 'trailing', stepsOffset: 0 };
  const alphas = alphasCumprod(SD15);
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
    const linspace = { ...SD15, timestepSpacing: 'linspace' as const };
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
    const config = { ...SD15, predictionType: 'v_prediction' as const };
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
    expect(() => createScheduler('euler_a', { ...SD15, predictionType: 'sample' }, 4)).toThrow(/sample/);
  });

  it('linear betas: linspace(beta_start, beta_end)', () => {
    const linear = alphasCumprod({ ...SD15, betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
    expectClose([linear[0]!, linear[1]!], [1 - 0.0001, (1 - 0.0001) * (1 - (0.0001 + 0.0199 / 999))]);
  });

  it('keeps parsed keys and their absence', () => {
    expect(parseSchedulerConfig({ _class_name: 'DDIMScheduler', steps_offset: 1 })).toEqual({ className: 'DDIMScheduler', values: { _class_name: 'DDIMScheduler', steps_offset: 1 } });
    expect(() => parseSchedulerConfig([])).toThrow(/object/);
  });
});

const DEMO_SCHEDULER = join(import.meta.dirname, '../../../hack/demo-model/shapes-pipeline/scheduler/scheduler_config.json');
const resolve = (name: SchedulerName, json: Record<string, unknown>) => resolveSchedulerConfig(name, parseSchedulerConfig(json));

describe('scheduler_config.json resolved per class (diffusers v0.30.3 from_config)', () => {
  it('absent timestep_spacing: linspace for Euler, Euler a and DPM++ 2M; leading for DDIM, PNDM and LCM', () => {
    const spacing = (name: SchedulerName) => resolve(name, { _class_name: 'PNDMScheduler', skip_prk_steps: true }).timestepSpacing;
    expect((['euler', 'euler_a', 'dpmpp_2m'] as const).map(spacing)).toEqual(['linspace', 'linspace', 'linspace']);
    expect((['ddim', 'pndm', 'lcm'] as const).map(spacing)).toEqual(['leading', 'leading', 'leading']);
    // And it changes the schedule: 4 Euler steps on a config without the key.
    expectClose(createScheduler('euler', resolve('euler', {}), 4).timesteps, [999, 666, 333, 0]);
  });

  it('absent keys take the class signature: betas 0.0001..0.02 linear, steps_offset 0; DDIM clips and sets alpha to one; LCM has SD betas', () => {
    expect(resolve('euler', {})).toMatchObject({ betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', stepsOffset: 0, predictionType: 'epsilon' });
    expect(resolve('ddim', {})).toMatchObject({ clipSample: true, setAlphaToOne: true, clipSampleRange: 1 });
    expect(resolve('pndm', { skip_prk_steps: true })).toMatchObject({ setAlphaToOne: false, stepsOffset: 0 });
    expect(resolve('pndm', {}).skipPrkSteps).toBe(false);
    expect(resolve('lcm', {})).toMatchObject({ betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', setAlphaToOne: true, originalInferenceSteps: 50 });
    expect(resolve('dpmpp_2m', {})).toMatchObject({ solverOrder: 2, lowerOrderFinal: true, finalSigmasType: 'zero', lambdaMinClipped: -Infinity });
  });

  it('present keys win, including keys another class would default differently; keys a class does not take are ignored', () => {
    const sd15 = { _class_name: 'PNDMScheduler', timestep_spacing: 'leading', steps_offset: 1, clip_sample: false, skip_prk_steps: true };
    expect(resolve('euler', sd15)).toMatchObject({ timestepSpacing: 'leading', stepsOffset: 1 });
    expect(resolve('ddim', sd15).clipSample).toBe(false);
    // Euler takes no skip_prk_steps and no clip_sample: a PRK config still gives a working Euler.
    expect(() => resolve('euler', { skip_prk_steps: false, thresholding: true })).not.toThrow();
    expect(() => resolve('ddim', { final_sigmas_type: 'sigma_min', use_karras_sigmas: true })).not.toThrow();
  });

  it('refuses, naming the key, what the engine does not implement', () => {
    expect(() => resolve('euler', { interpolation_type: 'log_linear' })).toThrow(/interpolation_type/);
    expect(() => resolve('euler', { final_sigmas_type: 'sigma_min' })).toThrow(/final_sigmas_type/);
    expect(() => resolve('euler', { use_beta_sigmas: true })).toThrow(/use_beta_sigmas/);
    expect(() => resolve('dpmpp_2m', { solver_order: 3 })).toThrow(/solver_order/);
    expect(() => resolve('dpmpp_2m', { algorithm_type: 'sde-dpmsolver++' })).toThrow(/algorithm_type/);
    expect(() => resolve('dpmpp_2m', { solver_type: 'heun' })).toThrow(/solver_type/);
    expect(() => resolve('dpmpp_2m', { use_lu_lambdas: true })).toThrow(/use_lu_lambdas/);
    expect(() => resolve('dpmpp_2m', { variance_type: 'learned_range' })).toThrow(/variance_type/);
    expect(() => resolve('ddim', { thresholding: true })).toThrow(/thresholding/);
    expect(() => resolve('ddim', { rescale_betas_zero_snr: true })).toThrow(/rescale_betas_zero_snr/);
    expect(() => resolve('ddim', { beta_schedule: 'squaredcos_cap_v2' })).toThrow(/beta_schedule/);
    expect(() => resolve('ddim', { trained_betas: [0.1, 0.2] })).toThrow(/trained_betas/);
    expect(() => resolve('ddim', { steps_offset: 'one' })).toThrow(/steps_offset/);
    expect(() => createScheduler('pndm', { ...SD15, predictionType: 'sample' }, 4)).toThrow(/prediction_type/);
  });

  it("reads the demo model's DPMSolverMultistep config (Python json: lambda_min_clipped -Infinity)", () => {
    const json = parsePythonJson(readFileSync(DEMO_SCHEDULER, 'utf8')) as Record<string, unknown>;
    expect(json.lambda_min_clipped).toBe(-Infinity);
    const config = resolveSchedulerConfig('dpmpp_2m', parseSchedulerConfig(json));
    expect(config).toMatchObject({ lambdaMinClipped: -Infinity, timestepSpacing: 'linspace', solverOrder: 2 });
    expect(createScheduler('dpmpp_2m', config, 4).timesteps).toEqual([999, 749, 500, 250]);
  });

  it('DPM++: a finite lambda_min_clipped shortens the schedule; solver_order 1 is first order throughout; sigma_min final sigma', () => {
    const base = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' };
    // lambda(t) = log(alpha_t / sigma_t) falls below -2.5 for the last training timesteps of SD's schedule (-2.68 at 999).
    const clipped = createScheduler('dpmpp_2m', resolve('dpmpp_2m', { ...base, lambda_min_clipped: -2.5 }), 4).timesteps;
    const full = createScheduler('dpmpp_2m', resolve('dpmpp_2m', base), 4).timesteps;
    expect(clipped[0]!).toBeLessThan(full[0]!);
    const a = alphasCumprod(SD15);
    const lambdaAt = (t: number) => Math.log(Math.sqrt(a[t]!)) - Math.log(Math.sqrt(1 - a[t]!));
    expect(lambdaAt(clipped[0]!)).toBeGreaterThanOrEqual(-2.5);
    const sample = Float32Array.from([1, -2]);
    const out = Float32Array.from([0.3, 0.1]);
    const first = createScheduler('dpmpp_2m', resolve('dpmpp_2m', { ...base, solver_order: 1 }), 4);
    const second = createScheduler('dpmpp_2m', resolve('dpmpp_2m', base), 4);
    for (const s of [first, second]) s.step(out, 0, sample);
    expect([...first.step(out, 1, sample).prevSample]).not.toEqual([...second.step(out, 1, sample).prevSample]);
    const sigmaMin = createScheduler('dpmpp_2m', resolve('dpmpp_2m', { ...base, final_sigmas_type: 'sigma_min' }), 4) as unknown as { sigmas: number[] };
    expectClose([sigmaMin.sigmas.at(-1)!], [Math.sqrt((1 - a[0]!) / a[0]!)]);
  });
});

describe('use_karras_sigmas, DPM++ 2M and Euler (diffusers v0.30.3 set_timesteps, fixtures/dpm-karras-sd15.json)', () => {
  const KARRAS = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/dpm-karras-sd15.json'), 'utf8')) as {
    steps: Record<string, { timesteps: number[]; sigmas: number[] }>;
    euler_leading: Record<string, { timesteps: number[]; sigmas: number[] }>;
  };
  const SD15_JSON = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', timestep_spacing: 'leading', steps_offset: 1 };
  const config = resolve('dpmpp_2m', { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', use_karras_sigmas: true });

  it.each([4, 20, 50])('%i steps: the Karras ramp of sigmas and the timesteps they map to', (steps) => {
    const scheduler = createScheduler('dpmpp_2m', config, steps) as unknown as { timesteps: number[]; sigmas: number[] };
    expect(scheduler.timesteps).toEqual(KARRAS.steps[String(steps)]!.timesteps);
    expectClose(scheduler.sigmas, KARRAS.steps[String(steps)]!.sigmas, 1e-6);
  });

  it.each([4, 20])('Euler, %i steps on SD 1.5 leading spacing: the ramp between the spaced sigmas, fractional timesteps', (steps) => {
    const euler = resolve('euler', { ...SD15_JSON, use_karras_sigmas: true });
    const scheduler = createScheduler('euler', euler, steps) as unknown as { timesteps: number[]; sigmas: number[] };
    const expected = KARRAS.euler_leading[String(steps)]!;
    expectClose(scheduler.timesteps, expected.timesteps, 1e-5);
    expectClose(scheduler.sigmas, expected.sigmas, 1e-6);
  });

  it('Euler honours sigma_min / sigma_max; Euler ancestral takes no use_karras_sigmas (ignored, as from_config does)', () => {
    const euler = createScheduler('euler', resolve('euler', { ...SD15_JSON, use_karras_sigmas: true, sigma_min: 0.1, sigma_max: 10 }), 4) as unknown as {
      sigmas: number[];
    };
    expectClose([euler.sigmas[0]!, euler.sigmas[3]!], [10, 0.1], 1e-6);
    expect(resolve('euler_a', { use_karras_sigmas: true }).useKarrasSigmas).toBe(false);
  });
});

describe('PNDM with and without the PRK warm-up (diffusers v0.30.3 PNDMScheduler run by fixtures/pndm_sd15.py)', () => {
  interface Run {
    timesteps: number[];
    loop: { i: number; t: number; prev_sample: number[] }[];
  }
  const PNDM = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/pndm-sd15.json'), 'utf8')) as Record<'prk' | 'skip_prk_steps', Record<string, Run>>;
  const SD15_PNDM = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', timestep_spacing: 'leading', steps_offset: 1 };

  it.each([
    ['prk', false, 4],
    ['prk', false, 10],
    ['prk', false, 20],
    ['skip_prk_steps', true, 10],
  ] as const)('%s, %i steps: timesteps and every prev_sample of the loop', (kind, skip, steps) => {
    const run = PNDM[kind][String(steps)]!;
    const scheduler = createScheduler('pndm', resolve('pndm', { ...SD15_PNDM, skip_prk_steps: skip }), steps);
    expect([...scheduler.timesteps]).toEqual(run.timesteps);
    expect(scheduler.timesteps.length).toBe(skip ? steps + 1 : steps + 9);
    let latents: Float32Array = Float32Array.from(FIXTURE._meta.base_latents);
    for (const record of run.loop) {
      const t = scheduler.timesteps[record.i]!;
      const modelOutput = latents.map((v) => 0.1 * v + (0.05 * t) / 1000);
      latents = scheduler.step(modelOutput, record.i, latents).prevSample;
      expectClose(latents, record.prev_sample);
    }
  });

  it('the PRK warm-up needs 4 steps (diffusers fails below)', () => {
    expect(() => createScheduler('pndm', resolve('pndm', SD15_PNDM), 3)).toThrow(/at least 4 steps/);
  });
});
