// Operator configuration from flags, then HYPERGEN_OPERATOR_* environment variables, then defaults.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

export interface OperatorConfig {
  /** Path to a kubeconfig; absent: in-cluster service account, else the default kubeconfig. */
  kubeconfig?: string;
  defaultImage: string;
  gpuResourceName: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Empty: all namespaces. */
  namespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  metricsHost: string;
  metricsPort: number;
  workers: number;
  resyncPeriodS: number;
  /** How often the autoscaler samples the pods' queues and decides (models with spec.autoscaling only). */
  autoscaleIntervalMs: number;
  /** The autoscaler averages the load over this window. */
  autoscaleWindowS: number;
  logLevel: string;
}

export const DEFAULT_IMAGE = 'ghcr.io/hypergen/hypergen:0.1.0';

const OPTIONS = {
  kubeconfig: { type: 'string', env: 'KUBECONFIG' },
  'default-image': { type: 'string', env: 'HYPERGEN_OPERATOR_DEFAULT_IMAGE' },
  'gpu-resource-name': { type: 'string', env: 'HYPERGEN_OPERATOR_GPU_RESOURCE_NAME' },
  'image-pull-policy': { type: 'string', env: 'HYPERGEN_OPERATOR_IMAGE_PULL_POLICY' },
  namespaces: { type: 'string', env: 'HYPERGEN_OPERATOR_NAMESPACES' },
  'leader-elect': { type: 'string', env: 'HYPERGEN_OPERATOR_LEADER_ELECT' },
  'leader-election-namespace': { type: 'string', env: 'HYPERGEN_OPERATOR_LEADER_ELECTION_NAMESPACE' },
  'leader-election-id': { type: 'string', env: 'HYPERGEN_OPERATOR_LEADER_ELECTION_ID' },
  identity: { type: 'string', env: 'POD_NAME' },
  'metrics-host': { type: 'string', env: 'HYPERGEN_OPERATOR_METRICS_HOST' },
  'metrics-port': { type: 'string', env: 'HYPERGEN_OPERATOR_METRICS_PORT' },
  workers: { type: 'string', env: 'HYPERGEN_OPERATOR_WORKERS' },
  'resync-period-s': { type: 'string', env: 'HYPERGEN_OPERATOR_RESYNC_PERIOD_S' },
  'autoscale-interval-ms': { type: 'string', env: 'HYPERGEN_OPERATOR_AUTOSCALE_INTERVAL_MS' },
  'autoscale-window-s': { type: 'string', env: 'HYPERGEN_OPERATOR_AUTOSCALE_WINDOW_S' },
  'log-level': { type: 'string', env: 'HYPERGEN_OPERATOR_LOG_LEVEL' },
} as const;

export const USAGE = `usage: hypergen-operator [--flag value ...]
${Object.entries(OPTIONS)
  .map(([flag, o]) => `  --${flag.padEnd(28)} env ${o.env}`)
  .join('\n')}`;

export class ConfigError extends Error {}

const int = (name: string, value: string | undefined, fallback: number, min: number, max: number) => {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ConfigError(`--${name}: expected an integer from ${min} to ${max}, got '${value}'`);
  return n;
};

const bool = (name: string, value: string | undefined, fallback: boolean) => {
  if (value === undefined || value === '') return fallback;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new ConfigError(`--${name}: expected true or false, got '${value}'`);
};

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  let values: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const get = (flag: keyof typeof OPTIONS) => values[flag] ?? env[OPTIONS[flag].env];
  const pull = get('image-pull-policy');
  if (pull !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(pull)) {
    throw new ConfigError(`--image-pull-policy: expected Always, IfNotPresent or Never, got '${pull}'`);
  }
  const level = get('log-level') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw new ConfigError(`--log-level: unknown level '${level}'`);
  return {
    kubeconfig: values.kubeconfig ?? (env.KUBECONFIG || undefined),
    defaultImage: get('default-image') || DEFAULT_IMAGE,
    gpuResourceName: get('gpu-resource-name') || 'nvidia.com/gpu',
    ...(pull ? { imagePullPolicy: pull as OperatorConfig['imagePullPolicy'] } : {}),
    namespaces: (get('namespaces') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    leaderElect: bool('leader-elect', get('leader-elect'), true),
    leaderElectionNamespace: get('leader-election-namespace') || env.POD_NAMESPACE || 'hypergen-system',
    leaderElectionId: get('leader-election-id') || 'hypergen-operator',
    identity: get('identity') || `${hostname()}-${process.pid}`,
    metricsHost: get('metrics-host') || '0.0.0.0',
    metricsPort: int('metrics-port', get('metrics-port'), 8080, 0, 65535),
    workers: int('workers', get('workers'), 4, 1, 64),
    resyncPeriodS: int('resync-period-s', get('resync-period-s'), 600, 0, 86400),
    autoscaleIntervalMs: int('autoscale-interval-ms', get('autoscale-interval-ms'), 2000, 50, 600_000),
    autoscaleWindowS: int('autoscale-window-s', get('autoscale-window-s'), 60, 1, 3600),
    logLevel: level,
  };
}
