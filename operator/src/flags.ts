// Command-line flags of the operator's binaries (hypergen-operator, hypergen-gateway): one declarative table of
// string flags, each also read from its environment variable (the flag wins), parsed with node:util parseArgs; a bad
// flag or value is a ConfigError naming it.
import { parseArgs } from 'node:util';

export class ConfigError extends Error {}

/** flag name -> the environment variable that stands in for it. */
export type FlagTable = Readonly<Record<string, { readonly env: string }>>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The usage text: one line per flag with its environment variable. */
export function usage(command: string, flags: FlagTable): string {
  return `usage: ${command} [--flag value ...]
${Object.entries(flags)
  .map(([flag, o]) => `  --${flag.padEnd(28)} env ${o.env}`)
  .join('\n')}`;
}

/** Parses argv against the table; the returned getter gives a flag's value, else its environment variable's. */
export function readFlags<T extends FlagTable>(flags: T, argv: string[], env: NodeJS.ProcessEnv): (flag: keyof T & string) => string | undefined {
  let values: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(flags).map((k) => [k, { type: 'string' as const }]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  return (flag) => values[flag] ?? env[flags[flag]!.env];
}

export function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ConfigError(`--${name}: expected an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

export function bool(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new ConfigError(`--${name}: expected true or false, got '${value}'`);
}

export function logLevel(value: string | undefined): string {
  const level = value ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`--log-level: unknown level '${level}'`);
  return level;
}

/** A comma-separated namespace list; empty means all namespaces. */
export function namespaceList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
