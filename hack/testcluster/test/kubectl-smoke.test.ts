// The smallest check that the real kubectl talks to the test cluster: its server version (v1.32) and namespaces.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestCluster, type TestCluster } from '../src/index.js';
import { Kubectl } from '../src/kubectl.js';

describe('test cluster with real kubectl (smoke)', () => {
  let c: TestCluster;
  let k: Kubectl;
  beforeAll(async () => {
    c = await startTestCluster();
    k = new Kubectl(c);
  });
  afterAll(async () => {
    await k.cleanup();
    await c.stop();
  });

  it('reports v1.32 and lists namespaces', async () => {
    const v = await k.run(['version', '-o', 'json']);
    expect(JSON.parse(v.stdout).serverVersion.minor).toBe('32');
    const ns = await k.run(['get', 'ns', '-o', 'name']);
    expect(ns.stdout.split('\n')).toContain('namespace/default');
  });
});
