// The gateway process's assembly against the test API server (client-node watches, Secret reads): models listed from
// HyperGenModels once the watches have synced, ready on /readyz; on drain /readyz turns 503 while the API still
// answers, then the listener closes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startGateway, type RunningGateway } from '../../src/gateway/server.js';
import { createModel, get, model, settle, startHarness, waitFor, type Harness } from '../support/harness.js';

let h: Harness;
let gw: RunningGateway;

beforeAll(async () => {
  h = await startHarness();
  const op = await h.startOperator();
  await createModel(h.kube, model('first', { model: 'org/first' }));
  await settle(op);
  gw = await startGateway(parseGatewayConfig(['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], {}), h.kc, pino({ level: 'silent' }));
});
afterAll(async () => {
  await gw?.stop().catch(() => undefined);
  await h?.stop();
});

const base = () => `http://127.0.0.1:${gw.port}`;
const key = async (name: string) => Buffer.from((await get(h.kube, 'Secret', 'ml', `${name}-api-key`)).data['api-key'], 'base64').toString();

describe('gateway process', () => {
  it('is ready once its watches synced and lists a model for its own key, read from the Secret', async () => {
    expect((await fetch(`http://127.0.0.1:${gw.metricsPort}/readyz`)).status).toBe(200);
    const res = await fetch(`${base()}/v1/models`, { headers: { authorization: `Bearer ${await key('first')}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['org/first']);
    // A model created later shows up through the watch.
    const op = h.operators[0]!;
    await createModel(h.kube, model('second', { model: 'org/second' }));
    await settle(op);
    const secondKey = await key('second');
    await waitFor(async () => (await fetch(`${base()}/v1/models/org%2Fsecond`, { headers: { authorization: `Bearer ${secondKey}` } })).status === 200, 'the second model through the watch');
    const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    expect(metrics).toContain('hypergen_gateway_requests_total{route="models",code="200"}');
  });

  it('drain: /readyz 503 while requests are still answered, then the listener closes', async () => {
    const drained = gw.drain(3000);
    expect((await fetch(`http://127.0.0.1:${gw.metricsPort}/readyz`)).status).toBe(503);
    expect((await fetch(`${base()}/v1/models`, { headers: { authorization: `Bearer ${await key('first')}` } })).status).toBe(200);
    await drained;
    await expect(fetch(`${base()}/v1/models`)).rejects.toThrow();
  });
});
