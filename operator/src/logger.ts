// The operator's logger: pino JSON on stdout, named hypergen-operator, at the configured level.
import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Secrets never reach a log call: objects are logged by namespace/name only. */
export function createLogger(level: string): Logger {
  return pino({ name: 'hypergen-operator', level, base: { component: 'operator' } });
}
