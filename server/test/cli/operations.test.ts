// Issue 13 against real server processes on the tiny SD pipeline: the drain on SIGTERM (readiness 503 while the
// listener still answers, in-flight requests all 200, exit 0 within the grace period) and key redaction by value
// (the key sent in every header and query parameter that may carry one never reaches the log).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

const MODEL = 'models/tiny-sd';
const KEY = 'sk-hg-ops-7f6e5d4c3b2a1908';
const GENERATE = { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` } };
const body = (seed: number) => JSON.stringify({ prompt: 'in flight', size: '256x256', num_inference_steps: 8, seed });

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
});

describe('drain on SIGTERM', () => {
  it('turns readiness 503 while still serving, finishes in-flight requests with 200, exits 0 within the grace period', async () => {
    const GRACE_S = 60; // generous: a loaded machine may be slow; the assertion is that the exit comes inside it
    server = await startServerProcess(['serve', MODEL, '--device', 'cpu', '--api-key', KEY, '--max-batch-size', '1', '--drain-delay-s', '2', '--shutdown-grace-s', String(GRACE_S)]);
    await server.ready();
    const url = server.url;
    const inFlight = [1, 2, 3, 4].map((seed) => fetch(`${url}/v1/images/generations`, { ...GENERATE, body: body(seed) }));
    for (let i = 0; i < 400; i++) {
      const health = (await (await fetch(`${url}/health`)).json()) as { queue_size: number };
      if (health.queue_size === 4) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const signalled = Date.now();
    const exited = server.stop('SIGTERM');

    // Draining: the listener answers, readiness says 503, /livez stays 200, new work is still taken.
    for (let i = 0; i < 100 && (await fetch(`${url}/readyz`)).status !== 503; i++) await new Promise((r) => setTimeout(r, 10));
    const readiness: number[] = [];
    for (let i = 0; i < 5; i++) {
      readiness.push((await fetch(`${url}/readyz`)).status);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(readiness).toEqual([503, 503, 503, 503, 503]);
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    const duringDelay = await fetch(`${url}/v1/images/generations`, { ...GENERATE, body: body(9) });
    expect(duringDelay.status).toBe(200);
    expect(duringDelay.headers.get('connection')).toBe('close');

    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const res of responses) expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(GRACE_S * 1000);
    const output = server.output();
    expect(output).toContain('"msg":"draining"');
    expect(output).toContain('no longer accepting connections');
    expect(output).not.toMatch(/"level":50/);
  }, 120_000);
});

/** A raw GET, so that header names and the query string go out exactly as written. */
function rawGet(url: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('key redaction by value', () => {
  it.each([
    ['--api-key', (key: string) => ['--api-key', key]],
    ['--api-key-file', (key: string, dir: string) => (writeFileSync(join(dir, 'keys'), `${key}\n`), ['--api-key-file', join(dir, 'keys')])],
  ])('never writes the key (%s) to the log, whatever header or query parameter carried it', async (_name, flags) => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-redact-'));
    try {
      server = await startServerProcess(['serve', MODEL, '--device', 'cpu', ...flags(KEY, dir)]);
      await server.ready();
      const headers = ['api-key', 'x-goog-api-key', 'openai-api-key', 'x-auth-token', 'x-api-key', 'proxy-authorization', 'cookie', 'x-custom-credential'];
      for (const path of ['/health', '/v1/models', '/v1/models/x', '/nope']) {
        for (const name of headers) await rawGet(server.url, path, { [name]: KEY });
        await rawGet(server.url, path, { authorization: `Bearer ${KEY}` });
        await rawGet(server.url, path, { authorization: `bearer ${KEY}` });
        await rawGet(server.url, path, { authorization: `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}`, 'x-note': `key=${KEY}` });
        for (const query of [`?api_key=${KEY}`, `?key=${KEY}`, `?x=1&token=${encodeURIComponent(KEY)}`, `?unrelated=${KEY}`]) {
          await rawGet(server.url, `${path}${query}`, {});
        }
      }
      // In a JSON body too (an error echoing the field, say).
      await fetch(`${server.url}/v1/images/generations`, { ...GENERATE, body: JSON.stringify({ prompt: KEY, n: 99 }) });
      await new Promise((r) => setTimeout(r, 300));
      const output = server.output();
      expect(output).toContain('"msg":"request completed"');
      expect(output).toContain('[REDACTED]');
      expect(output).not.toContain(KEY);
      expect(output).not.toContain(KEY.slice(6)); // nor the part after the prefix
      // The lines are still JSON.
      for (const line of output.split('\n').filter((l) => l.startsWith('{'))) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
