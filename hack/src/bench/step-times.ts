// The engine's per-step UNet times as the benches read them: from the outside, off the debug log line the engine
// writes per batch (STEP_TIMES_MESSAGE), since results carry no benchmark fields.
import pino, { type Logger } from 'pino';
import { STEP_TIMES_MESSAGE } from '@hypergen/server/engine/index.js';

export interface StepTimes {
  /** A logger for createEngine: debug level, so the step-times lines are written, and nothing printed. */
  readonly logger: Logger;
  /** The seconds of each step of the latest batch that finished (empty before any). */
  last(): number[];
}

export function stepTimes(): StepTimes {
  let latest: number[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        const fields = JSON.parse(line) as { msg?: string; stepSeconds?: number[] };
        if (fields.msg === STEP_TIMES_MESSAGE && fields.stepSeconds) latest = fields.stepSeconds;
      },
    },
  );
  return { logger, last: () => latest };
}
