// A whole HyperGen installation without a cluster: the test API server with the process pod runner, the CRD and
// the real operator binary, driven by the real kubectl. Shared by `make demo` and hack/test/e2e.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from '../server-process.js';
import { type TestCluster, startTestCluster } from '@hypergen/testcluster';
import { Kubectl } from '@hypergen/testcluster/kubectl';
import { ProcessPodRunner, startServiceProxy } from '@hypergen/testcluster/podrunner';

export interface Stack {
  cluster: TestCluster;
  runner: ProcessPodRunner;
  kubectl: Kubectl;
  /**
   * http://127.0.0.1:PORT/api/v1/namespaces/NS/services/NAME:PORT/proxy, on a `kubectl proxy`-like listener that
   * lets the client's API key through (append `/v1` for the OpenAI SDK).
   */
  serviceUrl(namespace: string, service: string, port: string): string;
  operatorOutput(): string;
  /** http://127.0.0.1:PORT of the gateway (operator/src/gateway), when StackOptions.gateway asked for one. */
  gatewayUrl?: string;
  /** Its metrics listener (/metrics, /readyz). */
  gatewayMetricsUrl?: string;
  gatewayOutput(): string;
  /** Stops the gateway, the operator, every pod process and the API server. */
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Host folder for PersistentVolumeClaims by name (default: { models: REPO/models }). */
  claims?: Record<string, string>;
  /** Extra operator flags (e.g. autoscaler timings). */
  operatorArgs?: string[];
  /** Also run the gateway process, with these extra flags. */
  gateway?: { args?: string[] };
}

/** Spawns a repo entrypoint, collecting its output, and waits for its start line; rejects if it exits first. */
async function spawnUntil(script: string, args: string[], home: string, started: RegExp, sink: (text: string) => void, output: () => string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, script), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => sink(b.toString()));
  child.stderr!.on('data', (b: Buffer) => sink(b.toString()));
  for (let i = 0; !started.test(output()); i++) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}:\n${output()}`);
    if (i > 600) throw new Error(`${script} did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  let runner: ProcessPodRunner | undefined;
  const cluster = await startTestCluster({
    podRunner: (api) => (runner = new ProcessPodRunner(api, { claims: opts.claims ?? { models: join(REPO_ROOT, 'models') } })),
  });
  const kubectl = new Kubectl(cluster);
  const proxy = await startServiceProxy(cluster.api, runner!);
  let operator: ChildProcess | undefined;
  let gateway: ChildProcess | undefined;
  let output = '';
  let gatewayOutput = '';
  const stop = async () => {
    await terminate(gateway);
    await terminate(operator);
    await proxy.close();
    await cluster.stop();
    await kubectl.cleanup();
  };
  try {
    await kubectl.ok(['apply', '-f', join(REPO_ROOT, 'crds')]);
    await kubectl.ok(['wait', '--for=condition=Established', 'crd/hypergenmodels.hypergen.io', '--timeout=30s']);
    operator = await spawnUntil(
      'operator/dist/main.js',
      ['--kubeconfig', cluster.kubeconfigPath, '--leader-elect', 'false', '--metrics-host', '127.0.0.1', '--metrics-port', '0', ...(opts.operatorArgs ?? [])],
      kubectl.home,
      /hypergen-operator running/,
      (t) => (output = (output + t).slice(-1_000_000)),
      () => output,
    );
    if (opts.gateway) {
      gateway = await spawnUntil(
        'operator/dist/gateway/main.js',
        ['--kubeconfig', cluster.kubeconfigPath, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--drain-delay-s', '0', ...(opts.gateway.args ?? [])],
        kubectl.home,
        /hypergen-gateway running/,
        (t) => (gatewayOutput = (gatewayOutput + t).slice(-1_000_000)),
        () => gatewayOutput,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    cluster,
    runner: runner!,
    kubectl,
    serviceUrl: (ns, svc, port) => `${proxy.url}/api/v1/namespaces/${ns}/services/${svc}:${port}/proxy`,
    operatorOutput: () => output,
    ...(gateway ? gatewayUrls(gatewayOutput) : {}),
    gatewayOutput: () => gatewayOutput,
    stop,
  };
}

/** The gateway's listeners, from its start line. */
function gatewayUrls(output: string): { gatewayUrl: string; gatewayMetricsUrl: string } {
  const line = output.split('\n').find((l) => l.includes('hypergen-gateway running'));
  const { port, metricsPort } = JSON.parse(line ?? '{}') as { port?: number; metricsPort?: number };
  if (!port || !metricsPort) throw new Error(`gateway start line without ports:\n${output}`);
  return { gatewayUrl: `http://127.0.0.1:${port}`, gatewayMetricsUrl: `http://127.0.0.1:${metricsPort}` };
}
