// startTestCluster: a local Kubernetes API server on 127.0.0.1 over TLS with its kubeconfig, default namespaces and
// built-in controllers (workload ones with a podRunner), plus the request log, fault injection and watch controls.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { ObjectApi } from './api.js';
import { CrdController } from './controllers/crd.js';
import { GarbageCollector } from './controllers/gc.js';
import { NamespaceController } from './controllers/namespace.js';
import { DEFAULT_NODES, type NodeSpec, Scheduler, nodeObject } from './controllers/scheduler.js';
import type { PodRunner } from './pods.js';
import { DeploymentController, serviceProxy } from './podrunner/index.js';
import { type FaultRule, type RequestRecord, RequestHooks, WRITE_VERBS } from './hooks.js';
import { Registry } from './registry.js';
import { KubeHttpServer } from './server.js';
import { Store } from './store.js';
import { CA_CERT, SERVER_CERT, SERVER_KEY } from './tls.js';
import type { KubeObject } from './types.js';

export interface TestClusterOptions {
  /** Port to listen on (127.0.0.1 only). Default 0: a free port. */
  port?: number;
  /** Bearer token of the kubeconfig user. Default: random. */
  token?: string;
  /** Directory for the kubeconfig (default: a new temp dir, removed on stop). */
  dir?: string;
  /** Namespaces to create besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks=true. Default 5000 ms. */
  bookmarkIntervalMs?: number;
  /** Watch history kept before automatic compaction (events). Default 20000. */
  historyLimit?: number;
  /** Called with controller errors (default: printed to stderr). */
  onControllerError?: (where: string, err: unknown) => void;
  /**
   * Runs workloads: Deployments get pods, the scheduler binds them to a node and this runner runs them (e.g.
   * podrunner's ProcessPodRunner); Services answer on their proxy path. Default: no workload controllers.
   */
  podRunner?: (api: ObjectApi) => PodRunner;
  /** Nodes the scheduler binds pods to (with podRunner). Default: one node with 16 CPUs, 64Gi and 4 GPUs. */
  nodes?: NodeSpec[];
}

export interface TestCluster {
  /** https://127.0.0.1:PORT (certificate signed by caCert) */
  url: string;
  /** a kubeconfig file (context "testcluster", token user) */
  kubeconfigPath: string;
  /** the kubeconfig as YAML text */
  kubeconfig: string;
  token: string;
  /** PEM of the CA that signed the server certificate */
  caCert: string;
  /** Object access with API-server semantics, for test setup without HTTP (writes record managedFields). */
  api: ObjectApi;
  /** Every request received, in order. */
  requests(filter?: Partial<Pick<RequestRecord, 'verb' | 'resource' | 'subresource' | 'namespace' | 'name' | 'method'>>): RequestRecord[];
  /** Requests that wrote (create/update/patch/delete/deletecollection). */
  writes(): RequestRecord[];
  clearRequests(): void;
  /** Answer the next `times` (default 1) requests matching the rule with `status`. */
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Ends every open watch; abrupt=true resets the sockets instead of ending the streams. Returns how many. */
  dropWatches(opts?: { abrupt?: boolean }): number;
  openWatches(): number;
  /** Forgets watch history up to now: watches from older resourceVersions get 410 Expired. */
  compact(): void;
  stop(): Promise<void>;
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function kubeconfigYaml(url: string, token: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'testcluster', cluster: { server: url, 'certificate-authority-data': Buffer.from(CA_CERT).toString('base64') } }],
    users: [{ name: 'testcluster-admin', user: { token } }],
    contexts: [{ name: 'testcluster', context: { cluster: 'testcluster', user: 'testcluster-admin', namespace: 'default' } }],
    'current-context': 'testcluster',
    preferences: {},
  });
}

/** Starts a local Kubernetes API server with its built-in controllers, listening on 127.0.0.1. */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const token = opts.token ?? randomBytes(24).toString('hex');
  let ipCounter = 1;
  const allocateIP = () => {
    const n = ipCounter++;
    return `10.96.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  };
  const store = new Store(opts.historyLimit);
  const registry = new Registry(allocateIP);
  const api = new ObjectApi(store, registry);
  const hooks = new RequestHooks();
  const onError = opts.onControllerError ?? ((where: string, err: unknown) => process.stderr.write(`testcluster: ${where}: ${(err as Error)?.stack ?? String(err)}\n`));
  const errorIn = (name: string) => (key: string, e: unknown) => onError(`${name} ${key}`, e);
  const controllers: Array<{ stop(): void }> = [new CrdController(api, store, errorIn('crd')), new NamespaceController(api, store, errorIn('namespace')), new GarbageCollector(api, store, errorIn('gc'))];

  const nsDef = registry.find('', 'v1', 'namespaces')!;
  for (const ns of [...DEFAULT_NAMESPACES, ...(opts.namespaces ?? [])]) {
    if (!api.getStored(nsDef, undefined, ns)) api.create(nsDef, undefined, { metadata: { name: ns } }, { fieldManager: 'kube-apiserver' });
  }

  const runner = opts.podRunner?.(api);
  if (runner) {
    const nodeDef = registry.find('', 'v1', 'nodes')!;
    for (const n of opts.nodes ?? DEFAULT_NODES) {
      if (api.getStored(nodeDef, undefined, n.name)) continue;
      // create drops status (a subresource): the kubelet reports capacity through nodes/status.
      const created = api.create(nodeDef, undefined, nodeObject(n), { fieldManager: 'kubelet' });
      api.update(nodeDef, undefined, n.name, { ...created.obj, status: nodeObject(n).status }, { fieldManager: 'kubelet', subresource: 'status' });
    }
    controllers.push(new DeploymentController(api, store, errorIn('deployment')), new Scheduler(api, store, runner, errorIn('scheduler')));
  }

  const http = new KubeHttpServer(api, registry, hooks, {
    token,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5000,
    ...(runner ? { proxy: serviceProxy(api, runner), podLogs: (pod: KubeObject, c: string | undefined) => runner.logs?.(pod, c) ?? '' } : {}),
  });
  const server: Server = createServer({ key: SERVER_KEY, cert: SERVER_CERT }, http.handle);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('test cluster: no listening address');
  const url = `https://127.0.0.1:${addr.port}`;
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'testcluster-'));
  const kubeconfig = kubeconfigYaml(url, token);
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

  const matches = (r: RequestRecord, f: Partial<RequestRecord>) => Object.entries(f).every(([k, v]) => v === undefined || (r as unknown as Record<string, unknown>)[k] === v);
  return {
    url,
    kubeconfigPath,
    kubeconfig,
    token,
    caCert: CA_CERT,
    api,
    requests: (filter) => hooks.log.filter((r) => !filter || matches(r, filter)),
    writes: () => hooks.log.filter((r) => WRITE_VERBS.has(r.verb)),
    clearRequests: () => void hooks.log.splice(0),
    injectFault: (rule) => hooks.injectFault(rule),
    clearFaults: () => hooks.clearFaults(),
    dropWatches: (o) => http.dropWatches(o?.abrupt ?? false),
    openWatches: () => http.openWatchCount(),
    compact: () => store.compact(),
    stop: async () => {
      for (const c of controllers) c.stop();
      await runner?.close?.();
      http.dropWatches(true);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
