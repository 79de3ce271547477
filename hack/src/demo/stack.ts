// A whole HyperGen installation without a cluster: the test API server with the process pod runner, the CRD and
// the real operator binary, driven by the real kubectl. Shared by `make demo` and hack/test/e2e.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from '../server-process.js';
import { type TestCluster, startTestCluster } from '../testcluster/cluster.js';
import { Kubectl } from '../testcluster/kubectl.js';
import { ProcessPodRunner, startServiceProxy } from '../testcluster/podrunner/index.js';

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
  /** Stops the operator, every pod process and the API server. */
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Host folder for PersistentVolumeClaims by name (default: { models: REPO/models }). */
  claims?: Record<string, string>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  let runner: ProcessPodRunner | undefined;
  const cluster = await startTestCluster({
    podRunner: (api) => (runner = new ProcessPodRunner(api, { claims: opts.claims ?? { models: join(REPO_ROOT, 'models') } })),
  });
  const kubectl = new Kubectl(cluster);
  const proxy = await startServiceProxy(cluster.api, runner!);
  let operator: ChildProcess | undefined;
  let output = '';
  const stop = async () => {
    if (operator && operator.exitCode === null && operator.signalCode === null) {
      const exited = once(operator, 'exit');
      operator.kill('SIGTERM');
      const t = setTimeout(() => operator?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await proxy.close();
    await cluster.stop();
    await kubectl.cleanup();
  };
  try {
    await kubectl.ok(['apply', '-f', join(REPO_ROOT, 'crds')]);
    await kubectl.ok(['wait', '--for=condition=Established', 'crd/hypergenmodels.hypergen.io', '--timeout=30s']);
    operator = spawn(
      process.execPath,
      [join(REPO_ROOT, 'operator/dist/main.js'), '--kubeconfig', cluster.kubeconfigPath, '--leader-elect', 'false', '--metrics-host', '127.0.0.1', '--metrics-port', '0'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: kubectl.home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    operator.stdout!.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-1_000_000)));
    operator.stderr!.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-1_000_000)));
    for (let i = 0; !output.includes('hypergen-operator running'); i++) {
      if (operator.exitCode !== null) throw new Error(`operator exited with ${operator.exitCode}:\n${output}`);
      if (i > 600) throw new Error(`operator did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
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
    stop,
  };
}
