// Noise schedule and timestep spacing shared by the schedulers, following diffusers (float32 like torch: values
// are rounded to float32 where diffusers holds float32 tensors, so tables match its published ones).
import type { SchedulerConfig } from './config.js';

const f32 = Math.fround;

/** torch.linspace(start, end, n) in float32 (diffusers builds betas with it). */
function linspace(start: number, end: number, n: number): number[] {
  const step = (end - start) / (n - 1);
  // torch fills the second half from the end so that both endpoints are exact.
  return Array.from({ length: n }, (_, i) => f32(i < n / 2 ? start + step * i : end - step * (n - 1 - i)));
}

/** alphas_cumprod = cumprod(1 - betas) for the linear or scaled_linear beta schedule. */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const n = config.numTrainTimesteps;
  const betas =
    config.betaSchedule === 'linear'
      ? linspace(config.betaStart, config.betaEnd, n)
      : linspace(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), n).map((b) => f32(b * b));
  const out = new Float64Array(n);
  // torch.cumprod on CPU accumulates a float32 tensor in double (acc_type) and rounds each output to float32.
  let product = 1;
  for (let i = 0; i < n; i++) {
    product *= f32(1 - betas[i]!);
    out[i] = f32(product);
  }
  return out;
}

/** sigma(t) = sqrt((1 - alpha_bar) / alpha_bar), the k-diffusion parameterisation used by Euler and DPM-Solver. */
export function trainSigmas(alphas: Float64Array): Float64Array {
  return alphas.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** np.interp(t, arange(len), table) for t within the table. */
export function interpolate(table: Float64Array, t: number): number {
  const low = Math.floor(t);
  const high = Math.min(low + 1, table.length - 1);
  const frac = t - low;
  return table[low]! * (1 - frac) + table[high]! * frac;
}

/** Python's round(): half to even, as numpy's .round() does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.arange(start, stop, step) for a negative step. */
function arangeDown(start: number, stop: number, step: number): number[] {
  const count = Math.ceil((stop - start) / step);
  return Array.from({ length: count }, (_, i) => start + i * step);
}

/**
 * Discrete-time schedulers' set_timesteps (DDIM, Euler, Euler ancestral), descending. `round` is false for Euler's
 * linspace spacing, whose timesteps stay fractional (it interpolates sigmas between them).
 */
export function spacedTimesteps(config: SchedulerConfig, steps: number, round: boolean): number[] {
  const n = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace': {
      const values = Array.from({ length: steps }, (_, i) => (steps === 1 ? 0 : ((n - 1) * i) / (steps - 1)));
      return values.map((t) => (round ? roundHalfEven(t) : f32(t))).reverse();
    }
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + config.stepsOffset).reverse();
    }
    case 'trailing':
      return arangeDown(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

/**
 * DPMSolverMultistepScheduler's last_timestep: N minus the number of training timesteps whose
 * lambda(t) = log(alpha_t) - log(sigma_t) (float32, as torch) lies below lambda_min_clipped (-inf: N).
 */
function dpmLastTimestep(config: SchedulerConfig): number {
  const n = config.numTrainTimesteps;
  if (config.lambdaMinClipped === -Infinity) return n;
  const alphas = alphasCumprod(config);
  let clipped = 0;
  for (let t = 0; t < n; t++) {
    const lambda = f32(f32(Math.log(f32(Math.sqrt(alphas[t]!)))) - f32(Math.log(f32(Math.sqrt(f32(1 - alphas[t]!))))));
    if (lambda < config.lambdaMinClipped) clipped++;
  }
  return n - clipped;
}

/** DPMSolverMultistepScheduler.set_timesteps: steps + 1 points with the last (t = 0) dropped. */
export function dpmTimesteps(config: SchedulerConfig, steps: number): number[] {
  const n = config.numTrainTimesteps;
  const last = dpmLastTimestep(config);
  switch (config.timestepSpacing) {
    case 'linspace':
      return Array.from({ length: steps + 1 }, (_, i) => roundHalfEven(((last - 1) * i) / steps)).reverse().slice(0, -1);
    case 'leading': {
      const ratio = Math.floor(last / (steps + 1));
      return Array.from({ length: steps + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + config.stepsOffset);
    }
    case 'trailing':
      return arangeDown(last, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
  }
}

/**
 * use_karras_sigmas (DPMSolverMultistep, EulerDiscrete): Karras et al. (2022)'s rho = 7 ramp of `steps` sigmas from
 * sigmaMax down to sigmaMin (_convert_to_karras), each mapped back to a fractional timestep by log-sigma
 * interpolation over the float32 training sigmas `table` (_sigma_to_t).
 */
export function karrasSchedule(table: Float64Array, sigmaMin: number, sigmaMax: number, steps: number): { timesteps: number[]; sigmas: number[] } {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const logs = table.map((s) => f32(Math.log(s))); // np.log of a float32 array stays float32
  const sigmas = Array.from({ length: steps }, (_, i) => {
    const ramp = steps === 1 ? 0 : i === steps - 1 ? 1 : i * (1 / (steps - 1));
    return (maxInv + ramp * (minInv - maxInv)) ** rho;
  });
  return { timesteps: sigmas.map((sigma) => sigmaToT(sigma, logs)), sigmas };
}

/** diffusers' _sigma_to_t: the fractional timestep whose log sigma interpolates to log(sigma). */
function sigmaToT(sigma: number, logs: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let j = 0; j < logs.length; j++) if (logSigma - logs[j]! >= 0) low = j;
  low = Math.min(low, logs.length - 2);
  const w = Math.min(1, Math.max(0, (logs[low]! - logSigma) / (logs[low]! - logs[low + 1]!)));
  return (1 - w) * low + w * (low + 1);
}
