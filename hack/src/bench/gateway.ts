// Gateway benchmarks (issue 15), on the process-runner test cluster with the real operator, gateway and server pods:
//  a) added latency of the gateway per request: GET /v1/models and a tiny generation, sequential and interleaved,
//     straight to the pod (its pod IP) vs through the gateway, p50/p99 of each and their difference;
//  b) cold start from zero: a request for a model at 0 replicas until its 200 (the gateway scales it to 1, a pod
//     starts and loads the pipeline, the held request goes on), repeated after it has scaled back to zero.
// BENCH_GATEWAY_MODELS and BENCH_GATEWAY_GENERATIONS (requests per side in a), BENCH_GATEWAY_COLD (runs of b) tune it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { at } from '@hypergen/testcluster';
import { type Stack, startStack } from '../demo/stack.js';
import { percentile } from './http-load.js';

const MODELS = Number(process.env.BENCH_GATEWAY_MODELS ?? 2000);
const GENERATIONS = Number(process.env.BENCH_GATEWAY_GENERATIONS ?? 100);
const COLD = Number(process.env.BENCH_GATEWAY_COLD ?? 3);
const KEY = 'sk-gw-bench';
const GEN_BODY = (model: string) => JSON.stringify({ model, prompt: 'a photo of a cat', size: '64x64', num_inference_steps: 2 });

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function until<T>(f: () => Promise<T | undefined | false>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Latencies (ms) of n requests each way, interleaved (direct, gateway, gateway, direct, ...) over one keep-alive
 * client, so that noise from whatever else runs on the machine lands on both sides alike.
 */
async function paired(n: number, direct: () => Promise<Response>, via: () => Promise<Response>): Promise<{ direct: number[]; via: number[] }> {
  const out = { direct: [] as number[], via: [] as number[] };
  const time = async (f: () => Promise<Response>, into: number[]) => {
    const t = performance.now();
    const res = await f();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${res.url}: ${res.status}`);
    into.push(performance.now() - t);
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      await time(direct, out.direct);
      await time(via, out.via);
    } else {
      await time(via, out.via);
      await time(direct, out.direct);
    }
  }
  out.direct.sort((a, b) => a - b);
  out.via.sort((a, b) => a - b);
  return out;
}

function row(label: string, r: { direct: number[]; via: number[] }): string {
  const [d50, d99, v50, v99] = [percentile(r.direct, 50), percentile(r.direct, 99), percentile(r.via, 50), percentile(r.via, 99)];
  return `    ${label.padEnd(28)} direct p50 ${fmt(d50)} ms p99 ${fmt(d99)} ms | gateway p50 ${fmt(v50)} ms p99 ${fmt(v99)} ms | added p50 ${fmt(v50 - d50)} ms, p99 ${fmt(v99 - d99)} ms (n=${r.direct.length} each)`;
}

async function apply(stack: Stack, dir: string, obj: object): Promise<void> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  await stack.kubectl.ok(['apply', '-f', file]);
}

const tiny = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'hypergen.io/v1alpha1',
  kind: 'HyperGenModel',
  metadata: { name, namespace: 'default' },
  spec: { model: `bench/${name}`, source: { uri: 'pvc://models/tiny-sd' }, gpu: { count: 0 }, ...spec },
});

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  writeFileSync(join(dir, 'keys'), `${KEY}\n`);
  const stack = await startStack({
    operatorArgs: ['--autoscale-interval-ms', '250', '--autoscale-window-s', '2'],
    gateway: { args: ['--api-key-file', join(dir, 'keys')] },
  });
  try {
    await apply(stack, dir, tiny('warm', { replicas: 1 }));
    await stack.kubectl.ok(['wait', '--for=condition=Ready', 'hgm/warm', '--timeout=120s'], { timeoutMs: 130_000 });
    const pod = stack.cluster.api.store.list('/pods', 'default').find((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === 'warm' && at(p, 'status', 'podIP'));
    if (!pod) throw new Error('bench gateway: no ready pod of warm');
    const direct = `http://${at(pod, 'status', 'podIP')}:8000`;
    const modelKey = Buffer.from(await stack.kubectl.ok(['get', 'secret', 'warm-api-key', '-o', 'jsonpath={.data.api-key}']), 'base64').toString();
    // The gateway's watch has the pod once a request through it succeeds.
    await until(async () => (await fetch(`${stack.gatewayUrl}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: GEN_BODY('bench/warm') })).ok, 'the gateway to route');

    console.log(`\n[a] gateway overhead: sequential requests on one keep-alive client, direct to the pod IP and through the gateway, interleaved`);
    const get = (url: string, key: string) => () => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    const post = (url: string, key: string) => () =>
      fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: GEN_BODY('bench/warm') });
    await paired(50, get(direct, modelKey), get(stack.gatewayUrl!, KEY)); // warm-up
    console.log(row('GET /v1/models', await paired(MODELS, get(direct, modelKey), get(stack.gatewayUrl!, KEY))));
    await paired(5, post(direct, modelKey), post(stack.gatewayUrl!, KEY));
    console.log(row('POST /v1/images/generations', await paired(GENERATIONS, post(direct, modelKey), post(stack.gatewayUrl!, KEY))));
    console.log('    (GET /v1/models is answered by the gateway itself from its watch cache; a generation is relayed to the pod)');

    console.log(`\n[b] cold start from zero through the gateway (request sent at 0 replicas -> its 200), ${COLD} runs`);
    await apply(stack, dir, tiny('cold', { replicas: 0, autoscaling: { minReplicas: 0, maxReplicas: 1, scaleDownDelaySeconds: 1 } }));
    const runs: number[] = [];
    for (let i = 0; i < COLD; i++) {
      await until(async () => (await stack.kubectl.ok(['get', 'hgm', 'cold', '-o', 'jsonpath={.spec.replicas} {.status.replicas}'])).trim() === '0 0' && !stack.runner.processes().some((p) => p.pod.startsWith('cold-')), 'cold at zero');
      const t = performance.now();
      const res = await fetch(`${stack.gatewayUrl}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: GEN_BODY('bench/cold') });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`cold request: ${res.status}`);
      runs.push(performance.now() - t);
    }
    const metrics = await (await fetch(`${stack.gatewayMetricsUrl}/metrics`)).text();
    const sum = Number(/hypergen_gateway_cold_start_seconds_sum\{model="bench\/cold"\} (\S+)/.exec(metrics)?.[1] ?? NaN);
    const count = Number(/hypergen_gateway_cold_start_seconds_count\{model="bench\/cold"\} (\S+)/.exec(metrics)?.[1] ?? NaN);
    console.log(`    request -> 200: ${runs.map((ms) => `${fmt(ms / 1000)} s`).join(', ')} (mean ${fmt(runs.reduce((a, b) => a + b, 0) / runs.length / 1000)} s)`);
    console.log(`    gateway's hypergen_gateway_cold_start_seconds (scale-up -> first ready pod): mean ${fmt(sum / count)} s over ${count}`);
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
