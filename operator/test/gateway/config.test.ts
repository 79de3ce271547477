// Gateway configuration: flags over HYPERGEN_GATEWAY_* over defaults; bad values are ConfigErrors; the entrypoint
// prints its usage for --help and exits 2 on a bad flag.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/gateway/main.js');

describe('gateway config', () => {
  it('has defaults for every setting', () => {
    expect(parseGatewayConfig([], {})).toEqual({ namespaces: [], host: '0.0.0.0', port: 8000, metricsHost: '0.0.0.0', metricsPort: 8080, maxHeldPerModel: 32, holdTimeoutS: 300, probeIntervalMs: 1000, drainDelayS: 5, logLevel: 'info' });
  });

  it('takes flags over environment variables', () => {
    const env = { HYPERGEN_GATEWAY_PORT: '9000', HYPERGEN_GATEWAY_NAMESPACES: 'a, b', HYPERGEN_GATEWAY_API_KEY_FILE: '/keys', HYPERGEN_GATEWAY_HOLD_TIMEOUT_S: '60' };
    expect(parseGatewayConfig(['--port', '9100', '--max-held-per-model', '0'], env)).toMatchObject({ port: 9100, namespaces: ['a', 'b'], apiKeyFile: '/keys', holdTimeoutS: 60, maxHeldPerModel: 0 });
  });

  it('refuses unknown flags and bad values', () => {
    expect(() => parseGatewayConfig(['--nope', '1'], {})).toThrow(ConfigError);
    expect(() => parseGatewayConfig(['--port', 'x'], {})).toThrow(/--port: expected an integer/);
    expect(() => parseGatewayConfig(['--hold-timeout-s', '0'], {})).toThrow(ConfigError);
    expect(() => parseGatewayConfig(['--log-level', 'loud'], {})).toThrow(/unknown level/);
  });

  it('hypergen-gateway --help prints the flags; a bad flag exits 2 with the reason', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--max-held-per-model');
    expect(help.stdout).toContain('HYPERGEN_GATEWAY_HOLD_TIMEOUT_S');
    const bad = spawnSync(process.execPath, [MAIN, '--port', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--port: expected an integer from 0 to 65535, got 'nope'");
  });
});
