// End to end without a cluster: kubectl -> test API server -> real operator -> pods as local server processes ->
// Service proxy -> OpenAI SDK, on examples/tiny.yaml (CPU-only tiny pipeline from `make tiny-models`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import sharp from 'sharp';
import { parse } from 'yaml';
import { type Stack, startStack } from '../../src/demo/stack.js';
import { waiter } from './support.js';
import { REPO_ROOT } from '../../src/server-process.js';

const MANIFEST = join(REPO_ROOT, 'examples/tiny.yaml');
const cr = parse(readFileSync(MANIFEST, 'utf8'));
const NAME: string = cr.metadata.name;
let stack: Stack;
let baseURL: string;

const until = waiter(() => stack);

async function secretKeys(): Promise<{ name: string; key: string; value: string }> {
  const [name, key] = (await stack.kubectl.ok(['get', 'hgm', NAME, '-o', 'jsonpath={.status.apiKeySecret.name} {.status.apiKeySecret.key}'])).trim().split(' ') as [string, string];
  const b64 = await stack.kubectl.ok(['get', 'secret', name, '-o', `jsonpath={.data.${key.replace(/\./g, '\\.')}}`]);
  return { name, key, value: Buffer.from(b64, 'base64').toString() };
}

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });
const podNames = async () => (await stack.kubectl.ok(['get', 'pods', '-l', `app.kubernetes.io/instance=${NAME}`, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);

beforeAll(async () => {
  stack = await startStack();
  baseURL = `${stack.serviceUrl('default', NAME, 'http')}/v1`;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  expect(stack?.runner.processes() ?? []).toEqual([]);
});

describe('HyperGenModel end to end on the process-runner test cluster', () => {
  it('kubectl apply -> Ready; models.list() is spec.model; images.generate returns a PNG with the Secret key; a wrong key gets 401', async () => {
    await stack.kubectl.ok(['apply', '-f', MANIFEST]);
    await stack.kubectl.ok(['wait', '--for=condition=Ready', `hgm/${NAME}`, '--timeout=90s'], { timeoutMs: 100_000 });
    expect(stack.runner.processes()).toHaveLength(1);
    const { value: key } = await secretKeys();
    expect(key).toMatch(/^sk-hg-/);

    const models = await client(key).models.list();
    expect(models.data.map((m) => m.id)).toEqual([cr.spec.model]);

    const img = await client(key).images.generate({ model: cr.spec.model, prompt: 'a red bicycle', size: '64x64', response_format: 'b64_json' });
    const png = Buffer.from(img.data![0]!.b64_json!, 'base64');
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });

    await expect(client(`${key}x`).models.list()).rejects.toMatchObject({ status: 401 });
    await expect(client('sk-hg-wrong').images.generate({ prompt: 'x', size: '64x64' })).rejects.toMatchObject({ status: 401 });
  }, 120_000);

  it('kubectl scale hgm --replicas=2 -> two server processes, and requests reach both', async () => {
    await stack.kubectl.ok(['scale', `hgm/${NAME}`, '--replicas=2']);
    await until(async () => (await stack.kubectl.ok(['get', 'hgm', NAME, '-o', 'jsonpath={.status.readyReplicas}'])).trim() === '2', 'readyReplicas 2');
    const pods = await podNames();
    expect(pods).toHaveLength(2);
    expect(new Set(stack.runner.processes().map((p) => p.pod))).toEqual(new Set(pods));
    const { value: key } = await secretKeys();
    const ids = Array.from({ length: 6 }, (_, i) => `e2e-scale-${i}-${Date.now()}`);
    for (const id of ids) {
      const res = await fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': id } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe(id);
    }
    // Every pod logged some of the request ids (kubectl logs reads the processes' output).
    await until(async () => {
      const served = await Promise.all(pods.map(async (p) => (await stack.kubectl.ok(['logs', p])).split('\n').filter((l) => ids.some((id) => l.includes(id))).length));
      return served.every((n) => n > 0) && served.reduce((a, b) => a + b, 0) === ids.length;
    }, 'request ids in both pods\' logs', 10_000);
  }, 120_000);

  // Issue 13: a url image lives in the memory of the replica that made it; any replica behind the Service serves it
  // (its name is signed with the owner's pod address, and the other replica fetches it from there).
  it('url images behind the Service with 2 replicas: 40 generations, 40 fetches through the Service, 40 images', async () => {
    const { value: key } = await secretKeys();
    const service = stack.serviceUrl('default', NAME, 'http');
    const fetched: Buffer[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const img = await client(key).images.generate({ prompt: `url image ${i}`, size: '64x64', response_format: 'url' });
      // The server builds the URL from the Host it saw (the pod's; the test proxy adds no X-Forwarded-*): fetch its
      // path through the Service, whose round robin alternates the two pods, so most fetches reach the other one.
      const url = new URL(img.data![0]!.url!);
      expect(url.pathname).toMatch(/^\/v1\/images\/files\/[0-9a-f]{32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.png$/);
      const res = await fetch(`${service}${url.pathname}`);
      statuses.push(res.status);
      if (res.status === 200) fetched.push(Buffer.from(await res.arrayBuffer()));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(fetched).toHaveLength(40);
    for (const png of fetched) expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });
    expect(new Set(fetched.map((b) => b.toString('base64'))).size).toBe(40);
    // Fetches really crossed replicas: owners logged requests forwarded by their peer.
    const logs = await Promise.all((await podNames()).map((p) => stack.kubectl.ok(['logs', p])));
    const forwarded = logs.map((l) => l.split('\n').filter((line) => line.includes('"x-hypergen-forwarded":"1"')).length);
    expect(forwarded.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
  }, 180_000);

  it('a spec change rolls the pods (new ones surge, old ones go once the new ones are Ready) with no failed request', async () => {
    const { value: key } = await secretKeys();
    const before = await podNames();
    let stopLoad = false;
    const failures: number[] = [];
    const load = (async () => {
      while (!stopLoad) {
        const res = await fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
        if (res.status !== 200) failures.push(res.status);
        await res.body?.cancel();
      }
    })();
    await stack.kubectl.ok(['patch', 'hgm', NAME, '--type=merge', '-p', JSON.stringify({ spec: { serving: { defaultSteps: 3 } } })]);
    await until(async () => {
      const now = await podNames();
      return now.length === 2 && now.every((p) => !before.includes(p)) && stack.runner.processes().length === 2;
    }, 'two new pods and the old processes gone');
    await stack.kubectl.ok(['wait', '--for=condition=Ready', `hgm/${NAME}`, '--timeout=60s'], { timeoutMs: 70_000 });
    stopLoad = true;
    await load;
    expect(failures).toEqual([]);
  }, 120_000);

  it('key rotation: Secret with old+new keys, then only new: no failed request during the switch, old key refused at the end', async () => {
    const { name, key, value: oldKey } = await secretKeys();
    const newKey = `sk-hg-rotated-${Date.now()}`;
    let current = oldKey;
    let stopLoad = false;
    const failures: string[] = [];
    let done = 0;
    const load = (async () => {
      while (!stopLoad) {
        const res = await fetch(`${baseURL}/models`, { headers: { authorization: `Bearer ${current}` } }).catch((e: Error) => ({ status: 0, statusText: e.message }) as Response);
        if (res.status !== 200) failures.push(`${res.status} ${res.statusText}`);
        await (res as Response).body?.cancel();
        done++;
      }
    })();
    const setKeys = (text: string) => stack.kubectl.ok(['patch', 'secret', name, '--type=merge', '-p', JSON.stringify({ data: { [key]: Buffer.from(text).toString('base64') } })]);
    // Each pod asked directly (the proxy's round robin is shared with the load, so it cannot promise to reach both).
    const everyPod = async (k: string, want: boolean) => {
      const pods = stack.cluster.api.store.list('/pods', 'default').filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === NAME);
      const answers = await Promise.all(
        pods.map(async (p) => {
          const ep = stack.runner.endpoint(p, 8000);
          return ep ? (await fetch(`http://${ep.host}:${ep.port}/v1/models`, { headers: { authorization: `Bearer ${k}` } })).status === 200 : undefined;
        }),
      );
      return answers.length === 2 && answers.every((x) => x === want);
    };

    await setKeys(`${oldKey}\n${newKey}\n`);
    await until(() => everyPod(newKey, true), 'the new key accepted by every pod', 15_000);
    current = newKey;
    await setKeys(`${newKey}\n`);
    await until(() => everyPod(oldKey, false), 'the old key refused by every pod', 15_000);
    stopLoad = true;
    await load;
    expect(done).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    await expect(client(oldKey).models.list()).rejects.toMatchObject({ status: 401 });
    expect((await client(newKey).models.list()).data.map((m) => m.id)).toEqual([cr.spec.model]);
  }, 120_000);

  it('kubectl delete hgm -> server processes stopped, no objects left', async () => {
    await stack.kubectl.ok(['delete', `hgm/${NAME}`, '--wait=true'], { timeoutMs: 90_000 });
    await until(async () => stack.runner.processes().length === 0, 'every server process to exit', 60_000);
    await until(async () => (await stack.kubectl.ok(['get', 'deploy,svc,secret,pods,hgm', '-l', `app.kubernetes.io/instance=${NAME}`, '-o', 'name'])).trim() === '', 'owned objects to go', 30_000);
    expect((await stack.kubectl.ok(['get', 'hgm,deploy,pods,secrets,svc', '-o', 'name'])).trim().split('\n').filter((l) => l && l !== 'service/kubernetes')).toEqual([]);
    const res = await fetch(`${baseURL}/models`);
    expect(res.status).toBe(404);
  }, 120_000);
});
