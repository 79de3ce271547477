// The playground in a real browser (Debian's Chromium through playwright-core) against the real Express app with
// the scripted engine: the page loads under a strict CSP, generates, shows images with their seeds, asks for a key
// when the server has one, and works under a path prefix (as behind the Service proxy or an Ingress).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startAppServer } from '../support/app-server.js';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'sk-playground-test-key';

let browser: BrowserContext;
let profile: string;
const shots = mkdtempSync(join(tmpdir(), 'hypergen-playground-'));

beforeAll(async () => {
  profile = mkdtempSync(join(tmpdir(), 'hypergen-chromium-'));
  // A fresh profile folder per run (playwright passes it to Chromium as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
});

/** A page that records every console message and failed request, so CSP violations or 404s fail the test. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/v1/images/generations')) problems.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(url);
  await page.waitForSelector('#generate:not([disabled])');
  return { page, problems };
}

/** A reverse proxy that serves the app under /some/prefix/, as the Service proxy path or an Ingress prefix does. */
async function prefixProxy(target: string, prefix: string): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (!req.url?.startsWith(prefix)) {
      res.writeHead(404).end();
      return;
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: `/${req.url.slice(prefix.length)}`, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('playground', () => {
  it('generates from a typed prompt and shows each image with its seed, under a strict CSP', async () => {
    const app = await startAppServer();
    try {
      await app.load();
      const page = await fetch(`${app.url}/`);
      expect(page.status).toBe(200);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      const html = await page.text();
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
      expect(html).not.toMatch(/\son[a-z]+=/i); // no inline handlers

      const { page: tab, problems } = await openPage(`${app.url}/`);
      expect(await tab.isVisible('#key-row')).toBe(false);
      await tab.fill('#prompt', 'a red circle on a blue background');
      await tab.fill('#seed', '7');
      await tab.fill('#n', '2');
      await tab.click('#generate');
      await tab.waitForSelector('#results figure:nth-child(2) img');
      const captions = await tab.$$eval('#results figcaption', (nodes) => nodes.map((n) => n.textContent ?? ''));
      expect(captions.some((c) => c.includes('seed 7'))).toBe(true);
      expect(captions.some((c) => c.includes('seed 8'))).toBe(true);
      const loaded = await tab.$$eval('#results img', (images) => images.map((img) => (img as unknown as { naturalWidth: number }).naturalWidth));
      expect(loaded).toEqual([64, 64]);
      const sent = app.engine.requests.at(-1)!;
      expect(sent).toMatchObject({ prompt: 'a red circle on a blue background', seed: 7, n: 2, width: 64, height: 64, steps: 4, scheduler: 'euler' });
      const shot = join(shots, 'playground.png');
      await tab.screenshot({ path: shot, fullPage: true });
      console.log(`playground screenshot: ${shot}`);
      expect(problems).toEqual([]);
      await tab.close();
    } finally {
      await app.close();
    }
  });

  it('asks for the key when the server has one: a wrong key shows the 401 message, the right one generates', async () => {
    const app = await startAppServer({ keys: [KEY] });
    try {
      await app.load();
      const { page: tab } = await openPage(`${app.url}/`);
      expect(await tab.isVisible('#key-row')).toBe(true);
      await tab.fill('#prompt', 'a green star');
      await tab.fill('#api-key', 'sk-wrong');
      await tab.click('#generate');
      await tab.waitForSelector('#error:not([hidden])');
      expect(await tab.textContent('#error')).toBe('Invalid API key');
      expect(await tab.$$('#results img')).toHaveLength(0);

      await tab.fill('#api-key', KEY);
      await tab.click('#generate');
      await tab.waitForSelector('#results img');
      expect(await tab.isHidden('#error')).toBe(true);
      // The key stays in the page's memory: nothing in storage, nothing in the URL.
      type PageGlobals = { localStorage: Storage; sessionStorage: Storage; document: { cookie: string }; location: { href: string } };
      type Storage = { length: number };
      expect(await tab.evaluate(() => {
        const page = globalThis as unknown as PageGlobals;
        return [page.localStorage.length, page.sessionStorage.length, page.document.cookie, page.location.href];
      })).toEqual([0, 0, '', `${app.url}/`]);
      await tab.close();
    } finally {
      await app.close();
    }
  });

  it('works under a path prefix (relative URLs only)', async () => {
    const app = await startAppServer();
    const proxy = await prefixProxy(app.url, '/some/prefix/');
    try {
      await app.load();
      const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/some/prefix/`;
      const { page: tab, problems } = await openPage(base);
      await tab.fill('#prompt', 'a yellow heart');
      await tab.click('#generate');
      await tab.waitForSelector('#results img');
      expect(problems).toEqual([]);
      await tab.close();
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      await app.close();
    }
  });

  it('is not served with --no-playground', async () => {
    const app = await startAppServer({ playground: false });
    try {
      await app.load();
      for (const path of ['/', '/playground/playground.js', '/playground/config.json']) {
        const res = await fetch(`${app.url}${path}`);
        expect(res.status).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_url');
      }
    } finally {
      await app.close();
    }
  });

  it('reports loading, then the model defaults, in playground/config.json', async () => {
    const app = await startAppServer({ keys: [KEY] });
    try {
      const loading = (await (await fetch(`${app.url}/playground/config.json`)).json()) as Record<string, unknown>;
      expect(loading).toEqual({ model: app.modelId, ready: false, auth: true });
      await app.load();
      const ready = (await (await fetch(`${app.url}/playground/config.json`)).json()) as Record<string, unknown>;
      expect(ready).toMatchObject({
        model: app.modelId, ready: true, auth: true, family: 'sd',
        defaults: { width: 64, height: 64, steps: 4, guidance_scale: 7.5, scheduler: 'euler' },
        limits: { size_multiple: 8, min_size: 64, max_size: 512, max_steps: 50 },
      });
      expect(ready.schedulers).toContain('euler');
    } finally {
      await app.close();
    }
  });
});
