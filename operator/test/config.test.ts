import { describe, expect, it } from '@jest/globals';
import { ConfigError, DEFAULT_IMAGE, parseConfig } from '../src/config.js';

describe('operator config', () => {
  it('has defaults', () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({ defaultImage: DEFAULT_IMAGE, gpuResourceName: 'nvidia.com/gpu', namespaces: [], leaderElect: true, metricsPort: 8080, workers: 4 });
  });
  it('reads env, and flags win over env', () => {
    const env = { HYPERGEN_OPERATOR_NAMESPACES: 'a, b', HYPERGEN_OPERATOR_LEADER_ELECT: 'false', HYPERGEN_OPERATOR_DEFAULT_IMAGE: 'env:1', POD_NAMESPACE: 'sys' };
    const c = parseConfig(['--default-image', 'flag:2', '--metrics-port', '9090', '--gpu-resource-name', 'amd.com/gpu'], env);
    expect(c).toMatchObject({ namespaces: ['a', 'b'], leaderElect: false, defaultImage: 'flag:2', metricsPort: 9090, gpuResourceName: 'amd.com/gpu', leaderElectionNamespace: 'sys' });
  });
  it.each([
    [['--metrics-port', 'x']],
    [['--leader-elect', 'maybe']],
    [['--image-pull-policy', 'Sometimes']],
    [['--no-such-flag', '1']],
    [['--workers', '0']],
  ])('rejects %j with a clear error', (argv) => {
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
  });
});
