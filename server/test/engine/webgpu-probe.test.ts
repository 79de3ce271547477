// The WebGPU probe: its hand-encoded ONNX graph runs and checks out (on the CPU provider here), a missing adapter is a
// reason string, and a probe past its deadline is killed and says so. Real child processes.
import { describe, expect, it } from '@jest/globals';
import { probeProvider, probeWebGpu } from '../../src/engine/pipeline/webgpu-probe.js';

describe('WebGPU probe', () => {
  it('reports ok, float16 included, where the provider runs its graph (the CPU provider here)', async () => {
    // The same child process, ONNX graph and result check as on WebGPU, on the provider every machine has.
    expect(await probeProvider('cpu')).toEqual({ ok: true, fp16: true, seconds: expect.any(Number) });
  });

  it('on a machine without an adapter, gives the reason (Dawn names what is missing)', async () => {
    // However the machine's Vulkan is set up, the loader then finds no driver (the child inherits process.env).
    Object.assign(process.env, { VK_ICD_FILENAMES: '/nonexistent/hypergen-no-icd.json', VK_DRIVER_FILES: '/nonexistent/hypergen-no-icd.json' });
    const probe = await probeWebGpu();
    expect(probe).toMatchObject({ ok: false, reason: expect.stringMatching(/adapter/i) });
  });

  it('kills a probe that does not answer within its deadline', async () => {
    // 1 ms is less than a Node process needs to start, let alone to load onnxruntime.
    expect(await probeWebGpu(1)).toEqual({ ok: false, reason: expect.stringMatching(/did not finish within 0\.001 s/) });
  });
});
