// Gateway configuration from flags, then HYPERGEN_GATEWAY_* environment variables, then defaults.
import { int, logLevel, namespaceList, readFlags, usage } from '../flags.js';

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

export const GATEWAY_USAGE = usage('hypergen-gateway', OPTIONS);

export function parseGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const get = readFlags(OPTIONS, argv, env);
  const level = logLevel(get('log-level'));
  const apiKeyFile = get('api-key-file');
  return {
    kubeconfig: get('kubeconfig') || undefined,
    namespaces: namespaceList(get('namespaces')),
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
