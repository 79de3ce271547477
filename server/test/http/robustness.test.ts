// Issue "serving under load": overload and fuzzing against a real server process on the tiny SD pipeline.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

const MODEL = 'models/tiny-sd';

/** Small deterministic PRNG (mulberry32) so a failing fuzz case can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, -0.0001, 1e308, -1e308, 2 ** 53, Number.MAX_SAFE_INTEGER, '', ' ', 'x'.repeat(70_000),
  '\u0000', '\ud800', '😀'.repeat(5000), [], [1, 2], {}, { a: { b: { c: 1 } } }, '512x512', 'NaN', 'Infinity', '1e3',
];
const FIELDS = ['prompt', 'model', 'n', 'size', 'response_format', 'output_format', 'output_compression', 'quality', 'style',
  'user', 'negative_prompt', 'num_inference_steps', 'guidance_scale', 'seed', 'scheduler', '__proto__', 'constructor', 'extra'];
const SIZES = ['0x0', '8x8', '99999x99999', '512X512', ' 512x512', '512x512x3', '1e3x512', '-8x-8', '256x', 'x256', '256*256', '257x256', '256x256 '];

interface Case {
  body: string;
  contentType: string | undefined;
  method: string;
}

function makeCase(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const kind = Math.floor(rand() * 6);
  let body: string;
  if (kind === 0) {
    // Random bytes and truncated JSON.
    const valid = JSON.stringify({ prompt: 'a cat', size: '64x64', num_inference_steps: 1 });
    body = rand() < 0.5 ? valid.slice(0, Math.floor(rand() * valid.length)) : Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256))).toString('latin1');
  } else if (kind === 1) {
    body = '['.repeat(1 + Math.floor(rand() * 100_000)) + ']'.repeat(Math.floor(rand() * 3));
  } else if (kind === 2) {
    body = JSON.stringify({ prompt: 'a cat', size: pick(SIZES), num_inference_steps: 1 });
  } else {
    // An object with 1-4 fields of odd values; always at least one that cannot validate.
    const object: Record<string, unknown> = {};
    for (let i = 0; i < 1 + Math.floor(rand() * 4); i++) object[pick(FIELDS)] = pick(ODD_VALUES);
    object[pick(['n', 'seed', 'num_inference_steps', 'guidance_scale', 'output_compression'])] = pick([-5, 1e9, 'many', 0.5, [3]]);
    body = JSON.stringify(object);
  }
  const contentType = pick([
    'application/json', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded',
    undefined, 'application/json; charset=utf-16',
  ]);
  const method = rand() < 0.95 ? 'POST' : pick(['PUT', 'PATCH', 'DELETE']);
  return { body, contentType, method };
}

describe('robustness (real process)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(['serve', MODEL, '--device', 'cpu', '--max-queue-size', '8', '--max-batch-size', '4']);
    await server.ready();
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('answers 3,000 malformed requests with 4xx only and stays up', async () => {
    const rand = prng(20261128);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const cases = Array.from({ length: 3000 }, () => makeCase(rand));
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const headers: Record<string, string> = c.contentType ? { 'Content-Type': c.contentType } : {};
          const res = await fetch(`${server.url}/v1/images/generations`, { method: c.method, headers, body: c.body });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status < 400 || res.status >= 500) failures.push(`${res.status} for ${c.method} ${c.contentType} ${c.body.slice(0, 120)}: ${text.slice(0, 200)}`);
          else expect(() => JSON.parse(text)).not.toThrow();
        }
      }),
    );
    expect(failures).toEqual([]);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
  });

  it('under overload (200 concurrent over a queue of 8) answers only 200 or 429 with Retry-After, memory bounded', async () => {
    const body = JSON.stringify({ prompt: 'overload', size: '64x64', num_inference_steps: 2 });
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${server.url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }),
      ),
    );
    const counts = { ok: 0, busy: 0 };
    for (const res of responses) {
      expect([200, 429]).toContain(res.status);
      if (res.status === 429) {
        counts.busy++;
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
      } else {
        counts.ok++;
        await res.arrayBuffer();
      }
    }
    expect(counts.ok).toBeGreaterThanOrEqual(9);
    expect(counts.busy).toBeGreaterThan(0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const rss = Number(/^process_resident_memory_bytes (\S+)/m.exec(metrics)?.[1]);
    expect(rss).toBeLessThan(2 * 1024 ** 3);
    expect(metrics).toMatch(/hypergen_requests_rejected_total\{reason="queue_full"\} [1-9]/);
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
  });
});
