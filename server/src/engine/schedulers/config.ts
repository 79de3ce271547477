// The subset of a diffusers scheduler_config.json that the supported schedulers read. Every scheduler is built
// from the model's own config, as diffusers' `Scheduler.from_config(pipe.scheduler.config)` does.

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

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
  /** LCM: the distillation schedule's step count (diffusers default 50). */
  originalInferenceSteps: number;
  /** LCM: boundary-condition timestep scaling (diffusers default 10). */
  timestepScaling: number;
}

/** Diffusers' defaults for SD-style schedulers. */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 1,
  setAlphaToOne: false,
  clipSample: false,
  clipSampleRange: 1,
  originalInferenceSteps: 50,
  timestepScaling: 10,
};

function pick<T>(value: unknown, allowed: readonly T[], key: string, fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (!allowed.includes(value as T)) throw new Error(`scheduler config: unsupported ${key} ${JSON.stringify(value)}`);
  return value as T;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** Reads diffusers' snake_case scheduler_config.json; unsupported variants fail loudly rather than drift. */
export function parseSchedulerConfig(json: Record<string, unknown>): SchedulerConfig {
  if (json.rescale_betas_zero_snr === true) throw new Error('scheduler config: rescale_betas_zero_snr is not supported');
  if (Array.isArray(json.trained_betas)) throw new Error('scheduler config: trained_betas is not supported');
  const d = DEFAULT_SCHEDULER_CONFIG;
  return {
    numTrainTimesteps: num(json.num_train_timesteps, d.numTrainTimesteps),
    betaStart: num(json.beta_start, d.betaStart),
    betaEnd: num(json.beta_end, d.betaEnd),
    betaSchedule: pick(json.beta_schedule, ['scaled_linear', 'linear'] as const, 'beta_schedule', d.betaSchedule),
    predictionType: pick(json.prediction_type, ['epsilon', 'v_prediction', 'sample'] as const, 'prediction_type', d.predictionType),
    timestepSpacing: pick(json.timestep_spacing, ['leading', 'trailing', 'linspace'] as const, 'timestep_spacing', d.timestepSpacing),
    stepsOffset: num(json.steps_offset, d.stepsOffset),
    setAlphaToOne: typeof json.set_alpha_to_one === 'boolean' ? json.set_alpha_to_one : d.setAlphaToOne,
    clipSample: typeof json.clip_sample === 'boolean' ? json.clip_sample : d.clipSample,
    clipSampleRange: num(json.clip_sample_range, d.clipSampleRange),
    originalInferenceSteps: num(json.original_inference_steps, d.originalInferenceSteps),
    timestepScaling: num(json.timestep_scaling, d.timestepScaling),
  };
}
