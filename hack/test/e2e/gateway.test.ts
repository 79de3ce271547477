// The gateway end to end on the process-runner test cluster (each pod on its own 127.x.y.z, reached by pod IP):
// one base URL for two HyperGenModels through the OpenAI SDK, auth by gateway or model key, 404 model_not_found,
// least-queue routing counted per pod.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type KubeObject, at } from '@hypergen/testcluster';
import OpenAI from 'openai';
import { type Stack, startStack } from '../../src/demo/stack.js';
import { waiter } from './support.js';

const GATEWAY_KEY = 'sk-gw-e2e-test-key';
let stack: Stack;
let dir: string;

const until = waiter(() => stack);

const tiny = (name: string, model: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'hypergen.io/v1alpha1',
  kind: 'HyperGenModel',
  metadata: { name, namespace: 'default' },
  spec: { model, source: { uri: 'pvc://models/tiny-sd' }, replicas: 1, gpu: { count: 0 }, serving: { maxBatchSize: 1, defaultSteps: 2 }, ...spec },
});

async function apply(obj: object): Promise<void> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(obj));
  await stack.kubectl.ok(['apply', '-f', file]);
}

async function modelKey(name: string): Promise<string> {
  const b64 = await stack.kubectl.ok(['get', 'secret', `${name}-api-key`, '-o', 'jsonpath={.data.api-key}']);
  return Buffer.from(b64, 'base64').toString();
}

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });

const podsOf = (name: string) => stack.cluster.api.store.list('/pods', 'default').filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === name && !p.metadata.deletionTimestamp);

/** A pod's own count of generation requests answered 200 (its /metrics, read at its pod IP). */
async function generationsServed(pod: KubeObject): Promise<number> {
  const text = await (await fetch(`http://${at(pod, 'status', 'podIP')}:8000/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('hypergen_http_requests_total{') && l.includes('route="/v1/images/generations"') && l.includes('status="200"'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const queueOf = async (pod: KubeObject) => ((await (await fetch(`http://${at(pod, 'status', 'podIP')}:8000/health`)).json()) as { queue_size: number }).queue_size;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  writeFileSync(join(dir, 'gateway-keys'), `# gateway keys\n${GATEWAY_KEY}\n`);
  stack = await startStack({ gateway: { args: ['--api-key-file', join(dir, 'gateway-keys'), '--probe-interval-ms', '200'] } });
  await apply(tiny('alpha', 'hypergen/alpha'));
  await apply(tiny('beta', 'hypergen/beta'));
  await stack.kubectl.ok(['wait', '--for=condition=Ready', 'hgm/alpha', 'hgm/beta', '--timeout=120s'], { timeoutMs: 130_000 });
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  expect(stack?.runner.processes() ?? []).toEqual([]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('gateway: one OpenAI base URL for every HyperGenModel', () => {
  it('pods listen on their own pod IP and container port', () => {
    const ips = ['alpha', 'beta'].map((n) => at(podsOf(n)[0]!, 'status', 'podIP') as string);
    expect(ips.every((ip) => /^127\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
    expect(new Set(ips).size).toBe(2);
    expect(stack.runner.endpoint(podsOf('alpha')[0]!, 8000)).toEqual({ host: ips[0], port: 8000 });
  });

  it('lists both models for a gateway key; the SDK reaches each model by `model`; an unknown one is 404 model_not_found', async () => {
    const gw = client(GATEWAY_KEY);
    expect((await gw.models.list()).data.map((m) => m.id).sort()).toEqual(['hypergen/alpha', 'hypergen/beta']);
    expect(await gw.models.retrieve('hypergen/beta')).toMatchObject({ id: 'hypergen/beta', object: 'model', owned_by: 'hypergen' });
    for (const model of ['hypergen/alpha', 'hypergen/beta']) {
      // The pod answers 404 to a `model` other than its own, so a 200 proves the request reached that model's pod.
      const img = await gw.images.generate({ model, prompt: 'a red bicycle', size: '64x64' });
      expect(Buffer.from(img.data![0]!.b64_json!, 'base64').subarray(1, 4).toString()).toBe('PNG');
    }
    const before = await Promise.all(['alpha', 'beta'].map((n) => generationsServed(podsOf(n)[0]!)));
    expect(before).toEqual([1, 1]);
    await expect(gw.images.generate({ model: 'hypergen/nope', prompt: 'x', size: '64x64' })).rejects.toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    await expect(gw.models.retrieve('hypergen/nope')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    // Two models served: `model` is required.
    await expect(gw.images.generate({ prompt: 'x', size: '64x64' })).rejects.toMatchObject({ status: 400, param: 'model' });
  }, 60_000);

  it("a model's own key sees and uses only that model; a wrong key is 401 in OpenAI's shape", async () => {
    const alphaKey = await modelKey('alpha');
    const alpha = client(alphaKey);
    expect((await alpha.models.list()).data.map((m) => m.id)).toEqual(['hypergen/alpha']);
    const img = await alpha.images.generate({ model: 'hypergen/alpha', prompt: 'a cat', size: '64x64' });
    expect(img.data).toHaveLength(1);
    await expect(alpha.images.generate({ model: 'hypergen/beta', prompt: 'a cat', size: '64x64' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const res = await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: 'Bearer sk-hg-wrong' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: 'Invalid API key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    expect((await fetch(`${stack.gatewayUrl}/v1/models`)).status).toBe(401);
    // Keys never reach the gateway's log.
    expect(stack.gatewayOutput()).not.toContain(alphaKey);
    expect(stack.gatewayOutput()).not.toContain(GATEWAY_KEY);
  }, 60_000);

  it('response_format url: the link points at the gateway, which fetches the image from the pod that made it', async () => {
    const img = await client(GATEWAY_KEY).images.generate({ model: 'hypergen/beta', prompt: 'a blue square', size: '64x64', response_format: 'url' });
    const url = new URL(img.data![0]!.url!);
    expect(url.origin).toBe(stack.gatewayUrl);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    // A name no pod signed, or one pointing elsewhere, is 404 without any fetch of the client's choosing.
    const forged = url.pathname.replace(/\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.png$/, `.${Buffer.from('169.254.169.254:80').toString('base64url')}.$1.png`);
    expect((await fetch(`${stack.gatewayUrl}${forged}`)).status).toBe(404);
  }, 60_000);

  it('least-queue routing: while one pod is busy, new requests go to the idle one', async () => {
    await stack.kubectl.ok(['scale', 'hgm/alpha', '--replicas=2']);
    await until(async () => (await stack.kubectl.ok(['get', 'hgm', 'alpha', '-o', 'jsonpath={.status.readyReplicas}'])).trim() === '2', 'two ready alpha pods');
    const pods = podsOf('alpha');
    expect(pods).toHaveLength(2);
    // Until the gateway's watch has both pods Ready, it routes to one; equal idle pods then share by round robin.
    await until(async () => {
      await client(GATEWAY_KEY).images.generate({ model: 'hypergen/alpha', prompt: 'warm up', size: '64x64' });
      return (await Promise.all(pods.map(generationsServed))).every((n) => n > 0);
    }, 'both alpha pods to serve through the gateway', 30_000);

    const slowAbort = new AbortController();
    const slow = client(GATEWAY_KEY)
      .images.generate({ model: 'hypergen/alpha', prompt: 'slow', size: '512x512', n: 1, num_inference_steps: 150 } as OpenAI.ImageGenerateParams, { signal: slowAbort.signal })
      .catch((e: Error) => e);
    const busy = await until(async () => {
      const queues = await Promise.all(pods.map(queueOf));
      const i = queues.findIndex((q) => q === 1);
      return i >= 0 && queues[1 - i] === 0 ? { busy: pods[i]!, idle: pods[1 - i]! } : undefined;
    }, 'one pod busy with the slow request', 30_000);
    const before = await Promise.all([busy.busy, busy.idle].map(generationsServed));
    for (let i = 0; i < 6; i++) await client(GATEWAY_KEY).images.generate({ model: 'hypergen/alpha', prompt: `fast ${i}`, size: '64x64' });
    // The premise held throughout: the slow request is still running on the busy pod.
    expect(await queueOf(busy.busy)).toBe(1);
    const after = await Promise.all([busy.busy, busy.idle].map(generationsServed));
    expect([after[0]! - before[0]!, after[1]! - before[1]!]).toEqual([0, 6]);
    slowAbort.abort();
    await slow;
    await stack.kubectl.ok(['scale', 'hgm/alpha', '--replicas=1']);
  }, 120_000);
});
