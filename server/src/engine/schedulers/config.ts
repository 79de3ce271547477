// A model's scheduler_config.json resolved per scheduler class as diffusers v0.30.3's `XScheduler.from_config(config)`
// does: keys of X's __init__ present in the file are used, absent ones take X's own default, keys X does not take are
// ignored. Values the engine does not implement are refused with the key named, never silently approximated.
import type { SchedulerName } from '../types.js';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** scheduler_config.json as read: `_class_name` and the keys the file has (absent stays absent). */
export interface SchedulerConfigFile {
  className: string | undefined;
  values: Readonly<Record<string, unknown>>;
}

/** The settings one scheduler class runs with; fields its class does not take hold neutral values. */
export interface SchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  setAlphaToOne: boolean;
  clipSample: boolean;
  clipSampleRange: number;
  /** PNDM: PLMS only (true, what SD 1.x ships), or first the Runge-Kutta warm-up (false, the class default). */
  skipPrkSteps: boolean;
  /** LCM: the distillation schedule's step count. */
  originalInferenceSteps: number;
  /** LCM: boundary-condition timestep scaling. */
  timestepScaling: number;
  /** DPM-Solver++: 1 or 2. */
  solverOrder: 1 | 2;
  /** DPM-Solver++: the last step is first order when euler_at_final, or lower_order_final with < 15 steps, or a zero final sigma. */
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  /** DPM-Solver++: the sigma after the last step: 0, or the smallest training sigma. */
  finalSigmasType: 'zero' | 'sigma_min';
  /** DPM-Solver++: lambda(t) floor that shortens the schedule (diffusers' default -inf keeps all of it). */
  lambdaMinClipped: number;
  /** DPM-Solver++ and Euler: Karras et al.'s sigma ramp instead of the spaced timesteps. */
  useKarrasSigmas: boolean;
  /** Euler with Karras sigmas: the ramp's ends when the config sets them (sigma_min / sigma_max). */
  karrasSigmaMin: number | undefined;
  karrasSigmaMax: number | undefined;
}

/** Our API names -> the diffusers class each one is (the from_config target). */
export const SCHEDULER_CLASS_OF: Record<SchedulerName, string> = {
  euler: 'EulerDiscreteScheduler',
  euler_a: 'EulerAncestralDiscreteScheduler',
  ddim: 'DDIMScheduler',
  lcm: 'LCMScheduler',
  dpmpp_2m: 'DPMSolverMultistepScheduler',
  pndm: 'PNDMScheduler',
};

// __init__ signatures of diffusers v0.30.3 (src/diffusers/schedulers/scheduling_*.py): every key the class takes and
// its default. Keys only of interest to options we refuse (e.g. sample_max_value with thresholding) are left out.
const COMMON = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  steps_offset: 0,
};
const SIGNATURES: Record<SchedulerName, Record<string, unknown>> = {
  pndm: { ...COMMON, skip_prk_steps: false, set_alpha_to_one: false, timestep_spacing: 'leading' },
  ddim: {
    ...COMMON,
    clip_sample: true,
    set_alpha_to_one: true,
    thresholding: false,
    clip_sample_range: 1,
    timestep_spacing: 'leading',
    rescale_betas_zero_snr: false,
  },
  euler: {
    ...COMMON,
    interpolation_type: 'linear',
    use_karras_sigmas: false,
    sigma_min: null,
    sigma_max: null,
    timestep_spacing: 'linspace',
    timestep_type: 'discrete',
    rescale_betas_zero_snr: false,
    final_sigmas_type: 'zero',
  },
  euler_a: { ...COMMON, timestep_spacing: 'linspace', rescale_betas_zero_snr: false },
  lcm: {
    ...COMMON,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    original_inference_steps: 50,
    clip_sample: false,
    clip_sample_range: 1,
    set_alpha_to_one: true,
    thresholding: false,
    timestep_spacing: 'leading',
    timestep_scaling: 10,
    rescale_betas_zero_snr: false,
  },
  dpmpp_2m: {
    ...COMMON,
    solver_order: 2,
    thresholding: false,
    algorithm_type: 'dpmsolver++',
    solver_type: 'midpoint',
    lower_order_final: true,
    euler_at_final: false,
    use_karras_sigmas: false,
    use_lu_lambdas: false,
    final_sigmas_type: 'zero',
    lambda_min_clipped: -Infinity,
    variance_type: null,
    timestep_spacing: 'linspace',
    rescale_betas_zero_snr: false,
  },
};

/** Options of later diffusers releases that change sampling; a config that turns one on is refused. */
const NEWER_OPTIONS: Partial<Record<SchedulerName, string[]>> = {
  euler: ['use_exponential_sigmas', 'use_beta_sigmas'],
  dpmpp_2m: ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting'],
};

/** What each option must be for the engine to reproduce the class (`undefined`: any value of the right type). */
const SUPPORTED: Record<string, readonly unknown[]> = {
  beta_schedule: ['linear', 'scaled_linear'],
  trained_betas: [null],
  prediction_type: ['epsilon', 'v_prediction', 'sample'],
  timestep_spacing: ['leading', 'trailing', 'linspace'],
  rescale_betas_zero_snr: [false],
  thresholding: [false],
  interpolation_type: ['linear'],
  use_karras_sigmas: [false, null],
  use_lu_lambdas: [false, null],
  timestep_type: ['discrete'],
  solver_order: [1, 2],
  algorithm_type: ['dpmsolver++'],
  solver_type: ['midpoint'],
  variance_type: [null],
};

/** Per-class exceptions to SUPPORTED. */
const SUPPORTED_BY: Partial<Record<SchedulerName, Record<string, readonly unknown[]>>> = {
  dpmpp_2m: { use_karras_sigmas: [false, null, true] },
  euler: { use_karras_sigmas: [false, null, true] },
};


/** Reads scheduler_config.json's object; nothing is defaulted here (that depends on the class it is used for). */
export function parseSchedulerConfig(json: unknown): SchedulerConfigFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('scheduler config must be a JSON object');
  const values = json as Record<string, unknown>;
  const className = values._class_name;
  return { className: typeof className === 'string' ? className : undefined, values };
}

function fail(name: SchedulerName, key: string, value: unknown, why?: string): never {
  const shown = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
  throw new Error(`scheduler config: ${SCHEDULER_CLASS_OF[name]} ${key} ${shown} is not supported${why ? ` (${why})` : ''}`);
}

/** The config `name`'s class runs with for this file, as from_config builds it; throws on what we do not implement. */
export function resolveSchedulerConfig(name: SchedulerName, file: SchedulerConfigFile): SchedulerConfig {
  const signature = SIGNATURES[name];
  const has = (key: string) => Object.prototype.hasOwnProperty.call(file.values, key);
  const get = (key: string): unknown => (has(key) ? file.values[key] : signature[key]);
  for (const key of Object.keys(signature)) {
    const allowed = SUPPORTED_BY[name]?.[key] ?? SUPPORTED[key];
    if (allowed && !allowed.includes(get(key))) fail(name, key, get(key));
  }
  for (const key of NEWER_OPTIONS[name] ?? []) {
    if (has(key) && file.values[key] !== false && file.values[key] !== null) fail(name, key, file.values[key], 'an option of diffusers releases after 0.30.3');
  }
  const number = (key: string, check: (v: number) => boolean, fallback: number): number => {
    if (!(key in signature)) return fallback;
    const value = get(key);
    if (typeof value !== 'number' || Number.isNaN(value) || !check(value)) fail(name, key, value);
    return value;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    if (!(key in signature)) return fallback;
    const value = get(key);
    if (typeof value !== 'boolean') fail(name, key, value, 'must be true or false');
    return value;
  };
  const positiveInteger = (v: number) => Number.isInteger(v) && v > 0;
  const optionalPositive = (key: string): number | undefined =>
    key in signature && get(key) !== null ? number(key, (v) => v > 0 && Number.isFinite(v), 0) : undefined;
  const predictionType = get('prediction_type') as PredictionType;
  const finalSigmasType = 'final_sigmas_type' in signature ? (get('final_sigmas_type') ?? 'zero') : 'zero';
  if (name === 'dpmpp_2m' ? finalSigmasType !== 'zero' && finalSigmasType !== 'sigma_min' : finalSigmasType !== 'zero') {
    fail(name, 'final_sigmas_type', finalSigmasType);
  }
  return {
    numTrainTimesteps: number('num_train_timesteps', positiveInteger, 1000),
    betaStart: number('beta_start', (v) => v > 0 && v < 1, 0.0001),
    betaEnd: number('beta_end', (v) => v > 0 && v < 1, 0.02),
    betaSchedule: get('beta_schedule') as SchedulerConfig['betaSchedule'],
    predictionType,
    timestepSpacing: get('timestep_spacing') as TimestepSpacing,
    stepsOffset: number('steps_offset', (v) => Number.isInteger(v) && v >= 0, 0),
    setAlphaToOne: flag('set_alpha_to_one', false),
    skipPrkSteps: flag('skip_prk_steps', true),
    clipSample: flag('clip_sample', false),
    clipSampleRange: number('clip_sample_range', (v) => v > 0, 1),
    originalInferenceSteps: number('original_inference_steps', positiveInteger, 50),
    timestepScaling: number('timestep_scaling', (v) => v > 0, 10),
    solverOrder: number('solver_order', (v) => v === 1 || v === 2, 2) as 1 | 2,
    lowerOrderFinal: flag('lower_order_final', true),
    eulerAtFinal: flag('euler_at_final', false),
    finalSigmasType: finalSigmasType as SchedulerConfig['finalSigmasType'],
    lambdaMinClipped: number('lambda_min_clipped', () => true, -Infinity),
    useKarrasSigmas: (name === 'dpmpp_2m' || name === 'euler') && get('use_karras_sigmas') === true,
    karrasSigmaMin: optionalPositive('sigma_min'),
    karrasSigmaMax: optionalPositive('sigma_max'),
  };
}
