// Scheduler registry: the API names of types.ts mapped onto diffusers' schedulers.
import type { SchedulerName } from '../types.js';
import { SCHEDULER_CLASS_OF, type SchedulerConfig } from './config.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverPlusPlus2MScheduler } from './dpmpp-2m.js';
import { EulerAncestralScheduler, EulerScheduler } from './euler.js';
import { LcmScheduler } from './lcm.js';
import { PndmScheduler } from './pndm.js';
import type { Scheduler } from './scheduler.js';

export { parseSchedulerConfig, resolveSchedulerConfig, type SchedulerConfig, type SchedulerConfigFile } from './config.js';
export type { Scheduler, StepResult } from './scheduler.js';

export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  if (!Number.isInteger(steps) || steps < 1 || steps > config.numTrainTimesteps) {
    throw new Error(`steps must be an integer in 1..${config.numTrainTimesteps}`);
  }
  switch (name) {
    case 'euler':
      return new EulerScheduler(config, steps);
    case 'euler_a':
      return new EulerAncestralScheduler(config, steps);
    case 'ddim':
      return new DdimScheduler(config, steps);
    case 'lcm':
      return new LcmScheduler(config, steps);
    case 'dpmpp_2m':
      return new DpmSolverPlusPlus2MScheduler(config, steps);
    case 'pndm':
      return new PndmScheduler(config, steps);
  }
}

/** diffusers scheduler class names -> our names (what a model's scheduler_config.json asks for by default). */
export const DIFFUSERS_SCHEDULER_CLASSES: Record<string, SchedulerName> = Object.fromEntries(
  Object.entries(SCHEDULER_CLASS_OF).map(([name, cls]) => [cls, name as SchedulerName]),
);
