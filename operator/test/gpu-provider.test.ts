// spec.gpu.provider in the planned Deployment: the server's --device (cuda or webgpu; cpu when count is 0), the
// precision that goes with it, and a free-form GPU resource name for other vendors.
import { describe, expect, it } from '@jest/globals';
import { HASH_ANNOTATION } from '../src/resources/meta.js';
import type { HyperGenModelSpec } from '../src/api/types.js';
import { config, cr, plannedDeployment } from './support/fixtures.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const plan = (spec: Partial<HyperGenModelSpec>) => plannedDeployment(cr(spec), config) as Obj;
const server = (d: Obj) => d.spec.template.spec.containers[0] as Obj;
const argAfter = (d: Obj, flag: string) => {
  const args = server(d).args as string[];
  expect(args.filter((a) => a === flag)).toHaveLength(1);
  return args[args.indexOf(flag) + 1];
};

describe('planning: the GPU provider', () => {
  it('passes --device cuda and fp16 when no provider is given (the CRD default)', () => {
    for (const gpu of [undefined, { count: 1 }, { count: 1, provider: 'cuda' as const }]) {
      const d = plan(gpu ? { gpu } : {});
      expect(argAfter(d, '--device')).toBe('cuda');
      expect(argAfter(d, '--dtype')).toBe('fp16');
    }
  });

  it('passes --device webgpu and fp16 for provider webgpu, with the GPU limit and toleration', () => {
    const d = plan({ gpu: { count: 1, provider: 'webgpu' } });
    expect(argAfter(d, '--device')).toBe('webgpu');
    expect(argAfter(d, '--dtype')).toBe('fp16');
    expect(server(d).resources).toEqual({ limits: { 'nvidia.com/gpu': '1' } });
    expect(d.spec.template.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('takes any vendor resource name as it is (an AMD GPU through Vulkan)', () => {
    const d = plan({ gpu: { count: 2, provider: 'webgpu', resourceName: 'amd.com/gpu' } });
    expect(argAfter(d, '--device')).toBe('webgpu');
    expect(server(d).resources).toEqual({ limits: { 'amd.com/gpu': '2' } });
    expect(d.spec.template.spec.tolerations).toEqual([{ key: 'amd.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(server(plan({ gpu: { count: 1, provider: 'webgpu', resourceName: 'gpu.intel.com/i915' } })).resources.limits).toEqual({ 'gpu.intel.com/i915': '1' });
  });

  it('runs on CPU in fp32 when count is 0, whatever the provider', () => {
    const d = plan({ gpu: { count: 0, provider: 'webgpu' } });
    expect(argAfter(d, '--device')).toBe('cpu');
    expect(argAfter(d, '--dtype')).toBe('fp32');
    expect(server(d).resources).toBeUndefined();
    expect(d.spec.template.spec.tolerations).toBeUndefined();
  });

  it('keeps an explicit serving.dtype, and a provider change rolls the pods (another pod template hash)', () => {
    expect(argAfter(plan({ gpu: { count: 1, provider: 'webgpu' }, serving: { dtype: 'fp32' } }), '--dtype')).toBe('fp32');
    const hash = (d: Obj) => d.metadata.annotations[HASH_ANNOTATION] as string;
    expect(hash(plan({ gpu: { count: 1, provider: 'webgpu' } }))).not.toBe(hash(plan({ gpu: { count: 1, provider: 'cuda' } })));
  });
});
