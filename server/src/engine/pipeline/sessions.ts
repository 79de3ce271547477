// ONNX Runtime sessions for the pipeline's components on the device asked for: CUDA, WebGPU or CPU, or the first
// of them that loads for 'auto'; the reason for the choice is returned with them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { DeviceUnavailableError, type DeviceKind, type RequestedDevice } from '../types.js';
import { probeWebGpu } from './webgpu-probe.js';

export type Component = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder';

export interface LoadedSessions {
  sessions: Partial<Record<Component, ort.InferenceSession>>;
  device: DeviceKind;
  deviceReason: string;
}

type GpuDevice = Exclude<DeviceKind, 'cpu'>;
const PROVIDER: Record<GpuDevice, string> = { cuda: 'CUDA', webgpu: 'WebGPU' };

/**
 * onnxruntime's CPU memory arena, per component. The UNet runs every step at one shape, and with the arena its peak
 * is its steady state (measured at 512x512: 3.74 GiB with the arena, 4.28 GiB without). The VAE decoder runs once per
 * image with the largest activations of the pipeline (128 channels at full image size): with an arena it keeps them
 * reserved after the call (2.2 GiB at 512x512, on top of the UNet's), without one they go back to the system, so the
 * process peaks at the UNet's memory plus one decode instead of both arenas.
 */
const CPU_ARENA: Record<Component, boolean> = { text_encoder: true, text_encoder_2: true, unet: true, vae_decoder: false };

function create(path: string, component: Component, device: DeviceKind): Promise<ort.InferenceSession> {
  const providers: Record<DeviceKind, ort.InferenceSession.ExecutionProviderConfig[]> = {
    cuda: [{ name: 'cuda', deviceId: 0 }, 'cpu'],
    // Nodes the WebGPU provider has no kernel for run on the CPU provider.
    webgpu: [{ name: 'webgpu' }, 'cpu'],
    cpu: ['cpu'],
  };
  return ort.InferenceSession.create(path, { executionProviders: providers[device], graphOptimizationLevel: 'all', enableCpuMemArena: CPU_ARENA[component] });
}

async function createAll(dir: string, components: Component[], device: DeviceKind): Promise<LoadedSessions['sessions']> {
  const sessions: LoadedSessions['sessions'] = {};
  try {
    for (const component of components) {
      const path = join(dir, component, 'model.onnx');
      if (!existsSync(path)) throw new Error(`model folder is missing ${path}`);
      sessions[component] = await create(path, component, device);
    }
  } catch (error) {
    // A provider that failed on a later component must not keep the earlier ones' device memory.
    await Promise.all(Object.values(sessions).map((session) => session.release()));
    throw error;
  }
  return sessions;
}

/**
 * Where onnxruntime-node's install script puts the CUDA provider (it skips it with ONNXRUNTIME_NODE_INSTALL=skip).
 * Checked first because a failed provider load also prints an unstructured ERROR line from native code.
 */
export function cudaProviderPath(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return join(packageDir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
}

const firstLine = (error: unknown) => ((error as Error).message ?? String(error)).split('\n')[0]!.slice(0, 300);

/** Why `device` cannot be used, before any model session is made; undefined when it is worth trying. */
async function precheck(device: GpuDevice, requested: RequestedDevice): Promise<{ why?: string; note?: string }> {
  if (device === 'cuda') {
    // Only 'auto' trusts the path (it follows onnxruntime-node 1.30's layout); an explicit 'cuda' always tries.
    const provider = cudaProviderPath();
    if (requested === 'auto' && !existsSync(provider)) return { why: `the onnxruntime-node CUDA provider is not installed (${provider} is missing)` };
    return {};
  }
  if (!ort.listSupportedBackends().some((backend) => backend.name === 'webgpu')) return { why: 'this onnxruntime-node build has no WebGPU provider' };
  const probe = await probeWebGpu();
  if (!probe.ok) return { why: probe.reason };
  return { note: probe.fp16 ? '' : '; the WebGPU adapter cannot run float16 kernels (fp16 exports run their nodes on the CPU provider)' };
}

/**
 * 'cpu' loads on CPU. 'cuda' and 'webgpu' load on that provider or throw DeviceUnavailableError saying why.
 * 'auto' tries CUDA, then WebGPU, then CPU, and the reason lists why each one it passed over could not load.
 * onnxruntime-node throws (rather than falling back) when a provider or its libraries are missing; WebGPU is
 * probed first in a child process under a deadline (see webgpu-probe.ts).
 */
export async function loadSessions(dir: string, components: Component[], requested: RequestedDevice): Promise<LoadedSessions> {
  if (requested === 'cpu') return { sessions: await createAll(dir, components, 'cpu'), device: 'cpu', deviceReason: 'CPU requested' };
  const order: GpuDevice[] = requested === 'auto' ? ['cuda', 'webgpu'] : [requested];
  const passedOver: string[] = [];
  for (const device of order) {
    const { why: skip, note = '' } = await precheck(device, requested);
    let why = skip;
    if (why === undefined) {
      try {
        const sessions = await createAll(dir, components, device);
        const before = passedOver.length > 0 ? `${passedOver.join('; ')}; ` : '';
        return { sessions, device, deviceReason: `${before}${PROVIDER[device]} execution provider loaded (device ${requested} requested)${note}` };
      } catch (error) {
        why = firstLine(error);
        if (device === 'cuda' && !existsSync(cudaProviderPath())) why += ` (the onnxruntime-node CUDA provider is not installed: ${cudaProviderPath()} is missing)`;
      }
    }
    const reason = `${PROVIDER[device]} execution provider not available: ${why}`;
    if (requested !== 'auto') throw new DeviceUnavailableError(`--device ${requested}: ${reason}`);
    passedOver.push(reason);
  }
  const sessions = await createAll(dir, components, 'cpu');
  return { sessions, device: 'cpu', deviceReason: `${passedOver.join('; ')}; using CPU` };
}
