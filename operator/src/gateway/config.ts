// Gateway configuration from flags, then HYPERGEN_GATEWAY_* environment variables, then defaults.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.js';

export interface GatewayConfig {
  kubeconfig?: string;
  /** Empty: all namespaces. */
  namespaces: string[];
  host: string;
  port: number;
  metricsHost: string;
  metricsPort: number;
  /** A file of gateway keys (one per line) that may use every model; absent: only the models' own keys. */
  apiKeyFile?: string;
  maxHeldPerModel: number;
  holdTimeoutS: number;
  probeIntervalMs: number;
  /** On SIGTERM, how long /readyz is 503 while requests are still served, before the listener closes. */
  drainDelayS: number;
  logLevel: string;
}

const OPTIONS = {
  kubeconfig: { env: 'KUBECONFIG' },
  namespaces: { env: 'HYPERGEN_GATEWAY_NAMESPACES' },
  host: { env: 'HYPERGEN_GATEWAY_HOST' },
  port: { env: 'HYPERGEN_GATEWAY_PORT' },
  'metrics-host': { env: 'HYPERGEN_GATEWAY_METRICS_HOST' },
  'metrics-port': { env: 'HYPERGEN_GATEWAY_METRICS_PORT' },
  'api-key-file': { env: 'HYPERGEN_GATEWAY_API_KEY_FILE' },
  'max-held-per-model': { env: 'HYPERGEN_GATEWAY_MAX_HELD_PER_MODEL' },
  'hold-timeout-s': { env: 'HYPERGEN_GATEWAY_HOLD_TIMEOUT_S' },
  'probe-interval-ms': { env: 'HYPERGEN_GATEWAY_PROBE_INTERVAL_MS' },
  'drain-delay-s': { env: 'HYPERGEN_GATEWAY_DRAIN_DELAY_S' },
  'log-level': { env: 'HYPERGEN_GATEWAY_LOG_LEVEL' },
} as const;

export const GATEWAY_USAGE = `usage: hypergen-gateway [--flag value ...]
${Object.entries(OPTIONS)
  .map(([flag, o]) => `  --${flag.padEnd(28)} env ${o.env}`)
  .join('\n')}`;

const int = (name: string, value: string | undefined, fallback: number, min: number, max: number) => {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ConfigError(`--${name}: expected an integer from ${min} to ${max}, got '${value}'`);
  return n;
};

export function parseGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  let values: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const get = (flag: keyof typeof OPTIONS) => values[flag] ?? env[OPTIONS[flag].env];
  const level = get('log-level') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw new ConfigError(`--log-level: unknown level '${level}'`);
  const apiKeyFile = get('api-key-file');
  return {
    kubeconfig: values.kubeconfig ?? (env.KUBECONFIG || undefined),
    namespaces: (get('namespaces') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    host: get('host') || '0.0.0.0',
    port: int('port', get('port'), 8000, 0, 65535),
    metricsHost: get('metrics-host') || '0.0.0.0',
    metricsPort: int('metrics-port', get('metrics-port'), 8080, 0, 65535),
    ...(apiKeyFile ? { apiKeyFile } : {}),
    maxHeldPerModel: int('max-held-per-model', get('max-held-per-model'), 32, 0, 100_000),
    holdTimeoutS: int('hold-timeout-s', get('hold-timeout-s'), 300, 1, 86_400),
    probeIntervalMs: int('probe-interval-ms', get('probe-interval-ms'), 1000, 50, 60_000),
    drainDelayS: int('drain-delay-s', get('drain-delay-s'), 5, 0, 3600),
    logLevel: level,
  };
}
