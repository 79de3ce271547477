// `--device` on a machine without a usable GPU (CI, this one): auto falls back to CPU with every provider's reason
// in /health; an explicit webgpu or cuda exits 2 with the reason. Real server processes on 127.0.0.1.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCli, startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';
import { cudaProviderPath } from '../../src/engine/pipeline/sessions.js';

const MODEL = 'models/tiny-sd';
// However the machine's Vulkan is set up, these make the loader find no driver: no WebGPU adapter here.
const NO_ADAPTER = { VK_ICD_FILENAMES: '/nonexistent/hypergen-no-icd.json', VK_DRIVER_FILES: '/nonexistent/hypergen-no-icd.json' };
const WEBGPU_UNAVAILABLE = /WebGPU execution provider not available: .*(adapter|WebGPU)/;

describe('--device auto without a usable GPU', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(['serve', MODEL, '--device', 'auto'], NO_ADAPTER);
    await server.ready();
  });
  afterAll(() => server?.stop('SIGKILL'));

  it('tries CUDA, then WebGPU, then loads on CPU, saying why in /health and in the log', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as { device: string; device_reason: string };
    expect(health.device).toBe('cpu');
    expect(health.device_reason).toMatch(WEBGPU_UNAVAILABLE);
    expect(health.device_reason).toMatch(/; using CPU/);
    // CI installs onnxruntime-node without its CUDA provider; where the provider exists CUDA loads instead.
    expect(existsSync(cudaProviderPath())).toBe(false);
    const cuda = health.device_reason.indexOf('CUDA execution provider not available');
    expect(cuda).toBeGreaterThanOrEqual(0);
    expect(cuda).toBeLessThan(health.device_reason.indexOf('WebGPU execution provider not available'));
    const logged = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; deviceReason?: string })
      .find((line) => line.msg === 'engine loaded');
    expect(logged?.deviceReason).toBe(health.device_reason);
  });

  it('generates on the CPU it fell back to', async () => {
    const res = await fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red square', size: '64x64', num_inference_steps: 2, seed: 3 }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
  });
});

describe('an explicit --device that cannot load', () => {
  const serve = (device: string, env: NodeJS.ProcessEnv = {}) =>
    runCli(['serve', MODEL, '--device', device, '--host', '127.0.0.1', '--port', '0'], { ...process.env, ...NO_ADAPTER, ...env });

  it('webgpu exits 2 with the reason', async () => {
    const { code, stderr } = await serve('webgpu');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^hypergen: --device webgpu: /m);
    expect(stderr).toMatch(WEBGPU_UNAVAILABLE);
  });

  it('webgpu from HYPERGEN_DEVICE exits 2 the same way', async () => {
    const { code, stderr } = await runCli(['serve', MODEL, '--host', '127.0.0.1', '--port', '0'], { ...process.env, ...NO_ADAPTER, HYPERGEN_DEVICE: 'webgpu' });
    expect(code).toBe(2);
    expect(stderr).toMatch(WEBGPU_UNAVAILABLE);
  });

  it('cuda exits 2 with the reason (the provider library is missing here)', async () => {
    const { code, stderr } = await serve('cuda');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^hypergen: --device cuda: CUDA execution provider not available: .+is missing/m);
  });
});
