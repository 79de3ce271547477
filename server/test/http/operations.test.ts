// Issue 13 (operating it for real), in-process with the scripted engine: client disconnects, forwarded headers only
// from trusted proxies, Cache-Control from --image-ttl-s, case-insensitive bearer, 415 for non-JSON bodies, 404 for
// unknown routes whatever their content type (the OpenAI SDK's images.edit), signed url image names.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI, { toFile } from 'openai';
import { ImageLinks } from '../../src/serving/image-links.js';
import { startAppServer } from '../support/app-server.js';

type AppServer = Awaited<ReturnType<typeof startAppServer>>;
const KEY = 'sk-hg-ops-test-0123456789';
const JSON_HEADERS = { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` };

describe('operations (in-process, scripted engine)', () => {
  let srv: AppServer;
  beforeAll(async () => {
    srv = await startAppServer({ keys: [KEY], imageTtlS: 90 });
    await srv.load();
  });
  afterAll(async () => srv.close());

  const generate = (body: object, headers: Record<string, string> = {}) =>
    fetch(`${srv.url}/v1/images/generations`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });

  it('accepts the bearer scheme in any case (RFC 7235), on the fast path and in Express', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
      expect((await fetch(`${srv.url}/v1/models`, { headers: { Authorization: `${scheme} ${KEY}` } })).status).toBe(200);
      expect((await fetch(`${srv.url}/v1/models/${srv.modelId}`, { headers: { Authorization: `${scheme} ${KEY}` } })).status).toBe(200);
    }
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['no Content-Type', undefined],
  ])('refuses %s on a JSON endpoint with 415 in the OpenAI error shape', async (_name, type) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${KEY}`, ...(type ? { 'Content-Type': type } : {}) };
    const before = srv.engine.requests.length;
    const res = await fetch(`${srv.url}/v1/images/generations`, { method: 'POST', headers, body: JSON.stringify({ prompt: 'a cat' }) });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ error: { message: expect.stringContaining('application/json'), type: 'invalid_request_error', param: null, code: 'unsupported_media_type' } });
    expect(srv.engine.requests.length).toBe(before); // nothing was generated
  });

  it('answers unknown routes with 404 whatever the content type; the SDK images.edit gets a 404 NotFoundError', async () => {
    for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await fetch(`${srv.url}/v1/images/edits`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': type }, body: 'not json {' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'unknown_url', type: 'invalid_request_error' } });
    }
    const client = new OpenAI({ apiKey: KEY, baseURL: `${srv.url}/v1`, maxRetries: 0 });
    const image = await toFile(Buffer.from('not really a png'), 'in.png', { type: 'image/png' });
    await expect(client.images.edit({ image, prompt: 'add a hat' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('sets Cache-Control from --image-ttl-s (what is left of it), not a fixed hour', async () => {
    const res = await generate({ prompt: 'p', response_format: 'url' });
    const { data } = (await res.json()) as { data: Array<{ url: string }> };
    const image = await fetch(`${srv.url}${new URL(data[0]!.url).pathname}`);
    expect(image.status).toBe(200);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(image.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(80);
    expect(maxAge).toBeLessThanOrEqual(90);
  });

  it('ignores X-Forwarded-Host/-Proto/-Prefix from a peer not in --trusted-proxies', async () => {
    const res = await generate({ prompt: 'p', response_format: 'url' }, {
      'X-Forwarded-Host': 'evil.example.com', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Prefix': '/../../x',
    });
    const url = new URL(((await res.json()) as { data: Array<{ url: string }> }).data[0]!.url);
    expect(url.origin).toBe(srv.url);
    expect(url.pathname).toMatch(/^\/v1\/images\/files\/[0-9a-f]{32}\.png$/);
  });

  it('logs a client that goes away at info level with a reason, with no error line and no stack', async () => {
    srv.engine.delayMs = 400;
    const lines = srv.logLines.length;
    try {
      const aborts = Array.from({ length: 5 }, async () => {
        const gone = new AbortController();
        const pending = generate({ prompt: 'slow' }).catch(() => undefined);
        setTimeout(() => gone.abort(), 50);
        await fetch(`${srv.url}/v1/images/generations`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ prompt: 'p' }), signal: gone.signal }).catch(() => undefined);
        await pending;
      });
      await Promise.all(aborts);
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      srv.engine.delayMs = 0;
    }
    const logged = srv.logLines.slice(lines).map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string; err?: { stack?: string } });
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(logged.some((l) => l.err?.stack)).toBe(false);
    const disconnects = logged.filter((l) => l.reason === 'client_disconnect');
    expect(disconnects.length).toBeGreaterThanOrEqual(5);
    expect(disconnects.every((l) => l.level === 30)).toBe(true);
  });
});

describe('trusted proxies', () => {
  it('honours X-Forwarded-* from a trusted peer, still refusing a dot-dot prefix', async () => {
    const srv = await startAppServer({ trustedProxies: ['127.0.0.0/8'] });
    try {
      await srv.load();
      const post = (headers: Record<string, string>) =>
        fetch(`${srv.url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ prompt: 'p', response_format: 'url' }) })
          .then(async (r) => new URL(((await r.json()) as { data: Array<{ url: string }> }).data[0]!.url));
      const ok = await post({ 'X-Forwarded-Host': 'img.example.com', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Prefix': '/team-a/' });
      expect(ok.origin).toBe('https://img.example.com');
      expect(ok.pathname).toMatch(/^\/team-a\/v1\/images\/files\//);
      for (const prefix of ['/../../x', '/a/%2e%2e/b', '/a/./b']) {
        expect((await post({ 'X-Forwarded-Host': 'img.example.com', 'X-Forwarded-Prefix': prefix })).pathname).toMatch(/^\/v1\/images\/files\//);
      }
    } finally {
      await srv.close();
    }
  });
});

describe('signed url image names (ImageLinks)', () => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const a = new ImageLinks(() => '10.0.0.1:8000', key);
  const local = `${'ab'.repeat(16)}.png`;

  it('round-trips its own names and a peer with the same key reads the owner', () => {
    const name = a.name(local);
    expect(name).not.toBe(local);
    expect(a.parse(name)).toEqual({ local, owner: '10.0.0.1:8000' });
    expect(new ImageLinks(() => '10.0.0.2:8000', key).parse(name)).toEqual({ local, owner: '10.0.0.1:8000' });
  });

  it('refuses forged owners, another key, and malformed names', () => {
    const [hex, , sig, ext] = a.name(local).split('.');
    const forged = `${hex}.${Buffer.from('169.254.169.254:80').toString('base64url')}.${sig}.${ext}`;
    expect(a.parse(forged)).toBeUndefined();
    expect(new ImageLinks(() => '10.0.0.2:8000', Buffer.from('another key, 32 bytes long......')).parse(a.name(local))).toBeUndefined();
    for (const bad of ['', 'x', `${local}.png`, '../etc/passwd', `${hex}.${ext}.x.y`]) expect(a.parse(bad)).toBeUndefined();
    // Unsigned (single replica) servers read only plain names.
    expect(new ImageLinks(undefined, undefined).parse(a.name(local))).toBeUndefined();
    expect(new ImageLinks(undefined, undefined).parse(local)).toEqual({ local });
  });
});
