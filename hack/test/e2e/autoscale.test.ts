// Autoscaling end to end on the process-runner test cluster: scale from zero through the gateway (held requests,
// cap -> 429 + Retry-After, back to zero after the delay, ScaledToZero), dropped and timed-out holds, and scaling
// up to maxReplicas under load and back down. Real operator, gateway and server processes; the OpenAI SDK.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import { GATEWAY_RBAC_RULES } from '@hypergen/operator/gateway/rbac.js';
import { allows } from '@hypergen/operator/rbac.js';
import { type Stack, startStack } from '../../src/demo/stack.js';
import { waiter } from './support.js';
import { REPO_ROOT } from '../../src/server-process.js';

const GATEWAY_KEY = 'sk-gw-autoscale-test';
const HOLD_TIMEOUT_S = 30;
let stack: Stack;
let dir: string;

const until = waiter(() => stack);

const model = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'hypergen.io/v1alpha1',
  kind: 'HyperGenModel',
  metadata: { name, namespace: 'default' },
  spec: { model: `hypergen/${name}`, source: { uri: 'pvc://models/tiny-sd' }, gpu: { count: 0 }, serving: { maxBatchSize: 1, defaultSteps: 2 }, ...spec },
});

async function apply(obj: object): Promise<void> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  await stack.kubectl.ok(['apply', '-f', file]);
}

const jsonpath = async (name: string, path: string) => (await stack.kubectl.ok(['get', 'hgm', name, '-o', `jsonpath=${path}`])).trim();
const readyReason = (name: string) => jsonpath(name, '{.status.conditions[?(@.type=="Ready")].reason}');
const processesOf = (name: string) => stack.runner.processes().filter((p) => p.pod.startsWith(`${name}-`));
const client = () => new OpenAI({ apiKey: GATEWAY_KEY, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });

async function gatewayMetric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${stack.gatewayMetricsUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function eventReasons(name: string): Promise<string[]> {
  const out = await stack.kubectl.ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={.items[*].reason}']);
  return out.split(' ').filter(Boolean);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoscale-e2e-'));
  writeFileSync(join(dir, 'gateway-keys'), `${GATEWAY_KEY}\n`);
  stack = await startStack({
    operatorArgs: ['--autoscale-interval-ms', '250', '--autoscale-window-s', '2'],
    gateway: { args: ['--api-key-file', join(dir, 'gateway-keys'), '--max-held-per-model', '8', '--hold-timeout-s', String(HOLD_TIMEOUT_S), '--probe-interval-ms', '200'] },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  expect(stack?.runner.processes() ?? []).toEqual([]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('autoscaling on queue depth, scale from zero through the gateway', () => {
  it('examples/autoscaled.yaml is a valid HyperGenModel (server-side dry run)', async () => {
    const out = await stack.kubectl.ok(['apply', '--dry-run=server', '-f', join(REPO_ROOT, 'examples/autoscaled.yaml')]);
    expect(out).toContain('hypergenmodel.hypergen.io/tiny-autoscaled created (server dry run)');
    await expect(stack.kubectl.ok(['apply', '--dry-run=server', '-f', '-'], { stdin: JSON.stringify(model('bad', { autoscaling: { minReplicas: 3, maxReplicas: 2 } })) })).rejects.toThrow(
      /minReplicas must not exceed autoscaling.maxReplicas/,
    );
  });

  it('minReplicas 0: 20 requests at zero with a cap of 8 -> 8 held then 200, 12 get 429 + Retry-After; back to 0 after the delay (ScaledToZero)', async () => {
    await apply(model('zero', { replicas: 0, autoscaling: { minReplicas: 0, maxReplicas: 1, targetQueuePerReplica: 2, scaleDownDelaySeconds: 3 } }));
    await until(async () => (await readyReason('zero')) === 'ScaledToZero', 'zero to report ScaledToZero');
    expect(await jsonpath('zero', '{.status.conditions[?(@.type=="Degraded")].status}')).toBe('False');
    expect(processesOf('zero')).toEqual([]);

    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client()
          .images.generate({ model: 'hypergen/zero', prompt: `cold ${i}`, size: '64x64' })
          .then(
            (r) => ({ status: 200, retryAfter: undefined as string | undefined, images: r.data?.length ?? 0 }),
            (e: { status?: number; headers?: Headers }) => ({ status: e.status ?? 0, retryAfter: e.headers?.get('retry-after') ?? undefined, images: 0 }),
          ),
      ),
    );
    const coldStartMs = Date.now() - started;
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect([ok.length, refused.length]).toEqual([8, 12]);
    expect(ok.every((r) => r.images === 1)).toBe(true);
    expect(refused.every((r) => Number(r.retryAfter) >= 1)).toBe(true);
    expect(await gatewayMetric('hypergen_gateway_scale_from_zero_total', { model: 'hypergen/zero' })).toBe(1);
    expect(await gatewayMetric('hypergen_gateway_held_requests_total', { model: 'hypergen/zero', outcome: 'released' })).toBe(8);
    expect(await gatewayMetric('hypergen_gateway_held_requests_total', { model: 'hypergen/zero', outcome: 'rejected' })).toBe(12);
    expect(await gatewayMetric('hypergen_gateway_cold_start_seconds_count', { model: 'hypergen/zero' })).toBe(1);
    process.stdout.write(`cold start from zero (first 200s after the burst): ${coldStartMs} ms\n`);

    // No traffic: after scaleDownDelaySeconds the autoscaler writes 0 through the scale subresource.
    await until(async () => (await jsonpath('zero', '{.spec.replicas}')) === '0' && processesOf('zero').length === 0, 'zero back to 0 replicas');
    await until(async () => (await readyReason('zero')) === 'ScaledToZero', 'ScaledToZero again');
    expect(await eventReasons('zero')).toEqual(expect.arrayContaining(['ScaledFromZero', 'ScaledToZero']));
  }, 180_000);

  it('a held request whose client disconnects is dropped; one that outlives the hold timeout gets 504', async () => {
    // A model whose pods never become ready (its pipeline folder does not exist): requests stay held.
    await apply(model('broken', { replicas: 0, source: { uri: 'pvc://models/no-such-pipeline' }, autoscaling: { minReplicas: 0, maxReplicas: 1, scaleDownDelaySeconds: 3 } }));
    await until(async () => (await readyReason('broken')) === 'ScaledToZero', 'broken to report ScaledToZero');
    const abort = new AbortController();
    const dropped = client()
      .images.generate({ model: 'hypergen/broken', prompt: 'x', size: '64x64' }, { signal: abort.signal })
      .catch((e: Error) => e);
    await until(async () => (await gatewayMetric('hypergen_gateway_held_requests', { model: 'hypergen/broken' })) === 1, 'the request to be held');
    abort.abort();
    await dropped;
    await until(async () => (await gatewayMetric('hypergen_gateway_held_requests_total', { model: 'hypergen/broken', outcome: 'dropped' })) === 1, 'the held request to be dropped');
    expect(await gatewayMetric('hypergen_gateway_held_requests', { model: 'hypergen/broken' })).toBe(0);

    const res = await fetch(`${stack.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hypergen/broken', prompt: 'x', size: '64x64' }),
    });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { type: 'timeout_error', code: 'model_start_timeout' } });
    // It never became ready, so the autoscaler does not scale it down under a gateway that may hold requests for it.
    expect(await jsonpath('broken', '{.spec.replicas}')).toBe('1');
    await stack.kubectl.ok(['delete', 'hgm/broken', '--wait=true'], { timeoutMs: 60_000 });
  }, 120_000);

  it('load on 1 replica with targetQueuePerReplica 2 scales up to maxReplicas, and back down after the delay; a model without autoscaling is left alone', async () => {
    await apply(model('manual', { replicas: 0 }));
    await apply(model('busy', { replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 3, targetQueuePerReplica: 2, scaleDownDelaySeconds: 3 } }));
    await stack.kubectl.ok(['wait', '--for=condition=Ready', 'hgm/busy', '--timeout=90s'], { timeoutMs: 100_000 });

    let stop = false;
    const statuses: number[] = [];
    const worker = async () => {
      while (!stop) {
        const status = await client()
          .images.generate({ model: 'hypergen/busy', prompt: 'load', size: '256x256', num_inference_steps: 20 } as OpenAI.ImageGenerateParams)
          .then(
            () => 200,
            (e: { status?: number }) => e.status ?? 0,
          );
        statuses.push(status);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await until(async () => (await jsonpath('busy', '{.spec.replicas} {.status.readyReplicas}')) === '3 3', 'busy at 3 ready replicas', 120_000);
    stop = true;
    await Promise.all(workers);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await until(async () => (await jsonpath('busy', '{.spec.replicas}')) === '1' && processesOf('busy').length === 1, 'busy back to 1 replica', 60_000);
    const reasons = await eventReasons('busy');
    expect(reasons).toContain('ScaledUp');
    expect(reasons).toContain('ScaledDown');

    // Without spec.autoscaling nothing scales it, and the gateway does not wake it: 503 at once.
    expect(await jsonpath('manual', '{.spec.replicas}')).toBe('0');
    const res = await fetch(`${stack.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hypergen/manual', prompt: 'x', size: '64x64' }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'model_unavailable' } });
    expect(await jsonpath('manual', '{.spec.replicas}')).toBe('0');
  }, 240_000);
});

describe('gateway RBAC', () => {
  it("every API request the gateway made is granted by operator/src/gateway/rbac.ts (the chart's gateway role)", () => {
    const made = stack.cluster.requests().filter((r) => r.userAgent === 'hypergen-gateway' && r.resource);
    const denied = made.filter((r) => !allows(GATEWAY_RBAC_RULES, r.group ?? '', r.subresource ? `${r.resource}/${r.subresource}` : r.resource!, r.verb));
    expect(denied.map((r) => `${r.verb} ${r.path}`)).toEqual([]);
    // It did read key Secrets and wake models through the scale subresource.
    expect(made.some((r) => r.resource === 'secrets' && r.verb === 'get')).toBe(true);
    expect(made.some((r) => r.subresource === 'scale' && r.verb === 'update')).toBe(true);
  });
});
