// The hypergen-operator binary: config errors, JSON logs, health/metrics endpoints, reconciling, clean SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createModel, model, startHarness, tryGet, waitFor, type Harness } from '../support/harness.js';
import { REPO } from '../support/fixtures.js';

const BIN = join(REPO, 'operator/dist/main.js');
let h: Harness;
let child: ChildProcess | undefined;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await h?.stop();
});

describe('hypergen-operator binary', () => {
  it('rejects bad flags with exit code 2 and a clear message', () => {
    const r = spawnSync(process.execPath, [BIN, '--metrics-port', 'nope'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--metrics-port: expected an integer from 0 to 65535, got 'nope'");
  });

  it('serves health and metrics, reconciles, logs JSON, and exits 0 on SIGTERM', async () => {
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', HYPERGEN_OPERATOR_LEADER_ELECT: 'true', POD_NAMESPACE: 'default', POD_NAME: 'bin-op' };
    child = spawn(process.execPath, [BIN, '--kubeconfig', h.cluster.kubeconfigPath, '--metrics-host', '127.0.0.1', '--metrics-port', '0'], { env });
    const lines: Record<string, unknown>[] = [];
    let buffer = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const p of parts) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const running = await waitFor(() => lines.find((l) => l.msg === 'hypergen-operator running'), 'the start log line');
    expect(running).toMatchObject({ level: 30, name: 'hypergen-operator', leaderElect: true, identity: 'bin-op' });
    const base = `http://127.0.0.1:${running.port as number}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'readyz');
    await createModel(h.kube, model('from-binary'));
    await waitFor(() => tryGet(h.kube, 'Deployment', 'ml', 'from-binary'), 'the Deployment');
    // The Deployment is written inside the reconcile; the counter moves only once that reconcile returns.
    const reconciled = /hypergen_operator_reconcile_total\{result="success"\} [1-9]/;
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return reconciled.test(text) ? text : undefined;
    }, 'a successful reconcile in the metrics');
    expect(metrics).toMatch(/hypergen_operator_leader 1/);
    expect(metrics).toContain('hypergen_operator_reconcile_duration_seconds_bucket');
    expect(metrics).toContain('hypergen_operator_queue_depth');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.msg === 'became leader')).toBe(true);
    // Keys never appear in logs.
    expect(JSON.stringify(lines)).not.toContain('sk-hg-');
  });
});
