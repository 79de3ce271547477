// Operator bench: N HyperGenModels on the local test API server, the real operator binary in its own process.
// Pods are scheduled and reported ready by the test cluster's simulated kubelet, so "converged" means every CR is
// Ready and the writes include the status changes that readiness brings.
// Figures: time to converge, API writes per CR, writes during a full resync of unchanged CRs, operator peak RSS.
// Targets (issue 5): < 20 s for 1,000 CRs, <= 5 writes per CR, 0 writes on resync, < 150 MB.
// Usage: node hack/dist/bench/cli.js operator [--crs=N]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { nodeRuntime } from '../chart/dockerfile.js';
import { type KubeObject, SimulatedPodRunner, at, objectsOf, startTestCluster, type TestCluster } from '@hypergen/testcluster';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const NS = 'bench';
const OPERATOR_AGENT = 'hypergen-operator';

/** Peak resident set of a process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function scrape(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every CR Ready at its generation, and its objects there (read in place: this runs every poll). */
function converged(cluster: TestCluster, n: number): boolean {
  const storage = (g: string, v: string, r: string) => cluster.api.registry.find(g, v, r)!.storage;
  const count = (s: string, keep: (o: KubeObject) => boolean = () => true) => {
    let found = 0;
    cluster.api.store.scan(s, (o) => {
      if (o.metadata.namespace === NS && keep(o)) found++;
    });
    return found;
  };
  const ready = (m: KubeObject) =>
    at(m, 'status', 'observedGeneration') === m.metadata.generation && objectsOf(at(m, 'status', 'conditions')).some((c) => c.type === 'Ready' && c.status === 'True');
  return (
    count(storage('hypergen.io', 'v1alpha1', 'hypergenmodels'), ready) >= n &&
    count(storage('apps', 'v1', 'deployments')) >= n &&
    count(storage('', 'v1', 'services')) >= n &&
    count(storage('', 'v1', 'secrets')) >= n
  );
}

export async function run(args: string[]): Promise<void> {
  const n = Number(args.find((a) => a.startsWith('--crs='))?.split('=')[1] ?? 1000);
  // One node with room for every pod: the figures are about the operator, not about scheduling.
  const node = { name: 'bench-node', capacity: { cpu: String(64 * n), memory: `${64 * n}Gi`, 'nvidia.com/gpu': String(n), pods: String(2 * n) } };
  const cluster = await startTestCluster({ namespaces: [NS], onControllerError: () => {}, podRunner: () => new SimulatedPodRunner(true), nodes: [node] });
  const crdDef = cluster.api.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  cluster.api.create(crdDef, undefined, parse(readFileSync(join(REPO, 'crds/hypergen.io_hypergenmodels.yaml'), 'utf8')), { fieldManager: 'bench' });
  await until(() => !!cluster.api.registry.find('hypergen.io', 'v1alpha1', 'hypergenmodels'), 'the CRD', 30_000);
  const hgm = cluster.api.registry.find('hypergen.io', 'v1alpha1', 'hypergenmodels')!;
  for (let i = 0; i < n; i++) {
    cluster.api.create(
      hgm,
      NS,
      { apiVersion: 'hypergen.io/v1alpha1', kind: 'HyperGenModel', metadata: { name: `m${i}`, namespace: NS }, spec: { model: `org/model-${i}`, replicas: 1, gpu: { count: i % 2 } } },
      { fieldManager: 'bench' },
    );
  }

  const resyncS = 15;
  // Node's flags and NODE_OPTIONS as operator/Dockerfile starts it.
  const runtime = nodeRuntime(readFileSync(join(REPO, 'operator/Dockerfile'), 'utf8'));
  const child = spawn(
    process.execPath,
    [...runtime.flags, join(REPO, 'operator/dist/main.js'), '--kubeconfig', cluster.kubeconfigPath, '--leader-elect', 'false', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--resync-period-s', String(resyncS), '--log-level', 'info'],
    { env: { PATH: process.env.PATH, HOME: '/nonexistent', ...(runtime.nodeOptions ? { NODE_OPTIONS: runtime.nodeOptions } : {}) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // The start log line carries the metrics port (it was asked for port 0).
  child.stdout.setEncoding('utf8');
  let port = 0;
  child.stdout.on('data', (d: string) => {
    const m = /"port":(\d+)/.exec(d);
    if (m && port === 0) port = Number(m[1]);
  });
  try {
    const started = Date.now();
    await until(() => converged(cluster, n), `${n} CRs to converge`, 300_000);
    const convergeS = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1000)); // let trailing status writes land
    const writes = cluster.writes().filter((w) => w.userAgent === OPERATOR_AGENT);
    const eventWrites = writes.filter((w) => w.resource === 'events').length;
    const perCr = (writes.length - eventWrites) / n;

    cluster.clearRequests();
    let resyncWrites = Number.NaN;
    if (port > 0) {
      const before = await scrape(port, 'hypergen_operator_reconcile_total');
      await until(async () => (await scrape(port, 'hypergen_operator_reconcile_total')) - before >= n, 'a full resync', (resyncS + 60) * 1000);
      await until(async () => (await scrape(port, 'hypergen_operator_queue_depth')) === 0, 'the queue to drain', 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      resyncWrites = cluster.writes().filter((w) => w.userAgent === OPERATOR_AGENT).length;
    }
    const rss = peakRssMb(child.pid!);
    const rows: [string, string, string][] = [
      ['CRs', String(n), ''],
      ['time to converge (every CR Ready)', `${convergeS.toFixed(1)} s`, '< 20 s'],
      ['API writes per CR (excluding Events)', perCr.toFixed(2), '<= 5'],
      ['Event writes in total', String(eventWrites), ''],
      ['writes during a full resync', Number.isNaN(resyncWrites) ? 'n/a (metrics port unknown)' : String(resyncWrites), '0'],
      ['operator peak RSS', `${rss.toFixed(0)} MB`, '< 150 MB'],
    ];
    for (const [what, value, target] of rows) console.log(`${what.padEnd(42)} ${value.padStart(12)}   ${target}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await cluster.stop();
  }
}
