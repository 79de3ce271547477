import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import { runCli, startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

const MODEL = 'models/tiny-sd';
const KEY = 'sk-hg-process-test-9f8e7d6c5b4a';

describe('hypergen CLI usage', () => {
  it('prints its version and help, exit 0', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--model-id', '--api-key-file', '--max-batch-size', '--batch-wait-ms', '--max-queue-size', '--device', '--dtype']) {
      expect(help.stdout).toContain(flag);
    }
  });

  it.each([
    ['an unknown flag', ['serve', MODEL, '--colour', 'blue'], /unknown option '--colour'/],
    ['a bad port', ['serve', MODEL, '--port', 'eighty'], /--port.*expected an integer/],
    ['a bad device', ['serve', MODEL, '--device', 'tpu'], /--device.*tpu/],
    ['a bad batch size', ['serve', MODEL, '--max-batch-size', '0'], /--max-batch-size/],
    ['both key options', ['serve', MODEL, '--api-key', 'a', '--api-key-file', '/dev/null'], /cannot be used with/],
    ['a missing model', ['serve'], /missing required argument 'MODEL'/],
    ['a folder that does not exist', ['serve', 'models/does-not-exist'], /no such folder/],
    ['a folder without model_index.json', ['serve', 'server'], /model_index\.json is missing/],
    ['an unknown command', ['launch'], /unknown command 'launch'/],
  ])('exits 2 with a clear message on %s', async (_name, args, message) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});

describe('hypergen serve (real process, tiny-sd)', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'hg-serve-'));
  const keyFile = join(dir, 'keys');

  beforeAll(async () => {
    writeFileSync(keyFile, `${KEY}\n`);
    server = await startServerProcess(['serve', MODEL, '--model-id', 'acme/tiny-diffusion', '--api-key-file', keyFile, '--device', 'cpu']);
    await server.ready();
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });

  it('lists the model with the official OpenAI client', async () => {
    const models = await client(KEY).models.list();
    expect(models.data).toHaveLength(1);
    expect(models.data[0]).toMatchObject({ id: 'acme/tiny-diffusion', object: 'model', owned_by: 'hypergen' });
    expect(models.data[0]!.created).toBeGreaterThan(1_700_000_000);
  });

  it('makes the SDK raise a 401 on a wrong key', async () => {
    await expect(client('sk-wrong').models.list()).rejects.toMatchObject({ status: 401 });
    const res = await fetch(`${server.url}/v1/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: 'Invalid API key' });
  });

  it('follows key-file rotation without a restart', async () => {
    const NEW = 'sk-hg-rotated-1a2b3c4d5e6f';
    writeFileSync(keyFile, `${KEY}\n${NEW}\n`);
    await client(KEY).models.list();
    await client(NEW).models.list();
    writeFileSync(keyFile, `# rotated\n${NEW}\n`);
    await expect(client(KEY).models.list()).rejects.toMatchObject({ status: 401 });
    await client(NEW).models.list();
    writeFileSync(keyFile, `${KEY}\n`);
  });

  it('reports health, liveness, readiness and metrics', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'healthy', model: 'acme/tiny-diffusion', queue_size: 0, device: 'cpu' });
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('hypergen_model_load_seconds');
  });

  it('never writes the key to its output', async () => {
    await fetch(`${server.url}/v1/models`, { headers: { Authorization: `Bearer ${KEY}` } });
    await fetch(`${server.url}/v1/models`, { headers: { Authorization: `Bearer ${KEY}x` } });
    await fetch(`${server.url}/v1/models`, { headers: { Authorization: `Basic ${KEY}`, 'X-Api-Key': KEY } });
    await new Promise((r) => setTimeout(r, 200));
    expect(server.output()).toContain('"msg":"request completed"');
    expect(server.output()).not.toContain(KEY);
    expect(server.output()).not.toContain('sk-hg-rotated');
  });
});

describe('graceful stop', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
  });

  it('lets a slow in-flight request finish on SIGTERM, refuses readiness meanwhile, exits 0', async () => {
    // A generous grace: on a loaded machine the slow request may need most of it (the drain delay comes out of it).
    server = await startServerProcess(['serve', MODEL, '--device', 'cpu', '--api-key', KEY, '--drain-delay-s', '1', '--shutdown-grace-s', '120']);
    await server.ready();
    const slow = fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ prompt: 'a slow one', size: '512x512', num_inference_steps: 40, seed: 1 }),
    });
    // Wait until the request is running.
    for (let i = 0; i < 200; i++) {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { queue_size: number };
      if (health.queue_size === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const readiness = await fetch(`${server.url}/readyz`).catch(() => undefined);
    if (readiness) expect(readiness.status).toBe(503); // or the listener is already closed
    const res = await slow;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ b64_json: string }> };
    expect(body.data).toHaveLength(1);
    expect(await server.stop()).toBe(0);
    expect(server.output()).toContain('"msg":"draining"');
    expect(server.output()).not.toContain(KEY);
  }, 150_000);
});
