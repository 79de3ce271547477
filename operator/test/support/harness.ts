// Integration harness: the repo's test API server (@hypergen/testcluster) with the CRD installed, and the
// operator running in-process against it through real client-node (HTTPS, token auth, watches).
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { startTestCluster, type TestCluster, type TestClusterOptions } from '@hypergen/testcluster';
import type { HyperGenModel } from '../../src/api/types.js';
import { parseConfig, type OperatorConfig } from '../../src/config.js';
import { KubeClient, resourcePath, Types } from '../../src/kube/client.js';
import { startOperator, type RunningOperator, type TuningOptions } from '../../src/operator.js';
import { CRD_FILE } from './fixtures.js';

export const TEST_AGENT = 'integration-test';
/** Fast retries so failure-recovery tests finish quickly; the logic is the production one. */
export const FAST: TuningOptions = {
  queueBackoff: { backoffInitialMs: 50, backoffMaxMs: 500 },
  watchBackoff: { initialMs: 50, maxMs: 500 },
  lease: { leaseDurationS: 2, renewDeadlineMs: 1500, retryPeriodMs: 200 },
};

export interface Harness {
  cluster: TestCluster;
  kc: KubeConfig;
  /** A client for test setup, with its own User-Agent so the operator's requests can be told apart. */
  kube: KubeClient;
  operators: RunningOperator[];
  startOperator(overrides?: Partial<OperatorConfig>, tuning?: TuningOptions): Promise<RunningOperator>;
  stop(): Promise<void>;
}

export async function installCrd(kube: KubeClient): Promise<void> {
  const crd = parse(readFileSync(CRD_FILE, 'utf8'));
  await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  await waitFor(async () => {
    try {
      await kube.request('GET', resourcePath(Types.HyperGenModel, 'default'));
      return true;
    } catch {
      return false;
    }
  }, 'the CRD to be served');
}

export async function startHarness(options: TestClusterOptions = {}): Promise<Harness> {
  const cluster = await startTestCluster({ namespaces: ['ml', 'other'], ...options });
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  const kube = new KubeClient(kc, undefined, TEST_AGENT);
  await installCrd(kube);
  const operators: RunningOperator[] = [];
  return {
    cluster,
    kc,
    kube,
    operators,
    async startOperator(overrides = {}, tuning = FAST) {
      const config: OperatorConfig = {
        ...parseConfig([], {}),
        leaderElect: false,
        metricsHost: '127.0.0.1',
        metricsPort: 0,
        workers: 2,
        resyncPeriodS: 0,
        defaultImage: 'registry.test/hypergen:test',
        ...overrides,
      };
      const op = await startOperator(config, kc, pino({ level: process.env.OPERATOR_LOG_LEVEL ?? 'silent' }), tuning);
      operators.push(op);
      return op;
    },
    async stop() {
      for (const op of operators.splice(0)) await op.stop();
      kube.close();
      await cluster.stop();
    },
  };
}

/** Polls until `check` returns something truthy; fails with `what` after the timeout (a hang guard, not a speed test). */
/** What a truthy check result can be. */
type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 30_000): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Work-queue keys waiting or in flight, read off the operator's own gauges (what its /metrics shows). */
export async function unfinishedWork(op: RunningOperator): Promise<number> {
  const value = async (gauge: typeof op.metrics.queueDepth) => (await gauge.get()).values[0]?.value ?? 0;
  return (await value(op.metrics.queueDepth)) + (await value(op.metrics.activeWorkers));
}

/** Waits until the operator has nothing queued or in flight, several checks in a row. */
export async function settle(op: RunningOperator): Promise<void> {
  let quiet = 0;
  await waitFor(async () => {
    quiet = (await unfinishedWork(op)) === 0 ? quiet + 1 : 0;
    return quiet >= 6;
  }, 'the operator to settle');
}

export const get = <T = Record<string, any>>(kube: KubeClient, type: keyof typeof Types, ns: string, name: string) => // eslint-disable-line @typescript-eslint/no-explicit-any
  kube.request<T>('GET', resourcePath(Types[type], ns, name));

export async function tryGet<T = Record<string, any>>(kube: KubeClient, type: keyof typeof Types, ns: string, name: string): Promise<T | undefined> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return await get<T>(kube, type, ns, name);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function model(name: string, spec: Partial<HyperGenModel['spec']> = {}, namespace = 'ml') {
  return { apiVersion: 'hypergen.io/v1alpha1', kind: 'HyperGenModel', metadata: { name, namespace }, spec: { model: 'org/model', gpu: { count: 0 }, ...spec } };
}

export const createModel = (kube: KubeClient, obj: ReturnType<typeof model>) =>
  kube.request<HyperGenModel>('POST', resourcePath(Types.HyperGenModel, obj.metadata.namespace), { body: obj });

/** Read-modify-write of a CR's spec, retried on conflict. */
export async function updateSpec(kube: KubeClient, ns: string, name: string, change: (spec: HyperGenModel['spec']) => void): Promise<HyperGenModel> {
  return waitFor(async () => {
    const cr = await get<HyperGenModel>(kube, 'HyperGenModel', ns, name);
    change(cr.spec);
    return kube.request<HyperGenModel>('PUT', resourcePath(Types.HyperGenModel, ns, name), { body: cr });
  }, `update of ${ns}/${name}`);
}
