// ONNX Runtime sessions for the pipeline's components, on CUDA when asked for and loadable, else on CPU.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { DeviceKind } from '../types.js';

export type Component = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder';

export interface LoadedSessions {
  sessions: Partial<Record<Component, ort.InferenceSession>>;
  device: DeviceKind;
  deviceReason: string;
}

function create(path: string, device: DeviceKind): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    executionProviders: device === 'cuda' ? [{ name: 'cuda', deviceId: 0 }, 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
  });
}

async function createAll(dir: string, components: Component[], device: DeviceKind): Promise<LoadedSessions['sessions']> {
  const sessions: LoadedSessions['sessions'] = {};
  for (const component of components) {
    const path = join(dir, component, 'model.onnx');
    if (!existsSync(path)) throw new Error(`model folder is missing ${path}`);
    sessions[component] = await create(path, device);
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

/**
 * 'auto' and 'cuda' try the CUDA execution provider first. onnxruntime-node throws (rather than falling back)
 * when the provider or its CUDA libraries are missing; we then load on CPU and say why.
 */
export async function loadSessions(dir: string, components: Component[], requested: 'auto' | 'cuda' | 'cpu'): Promise<LoadedSessions> {
  if (requested === 'cpu') return { sessions: await createAll(dir, components, 'cpu'), device: 'cpu', deviceReason: 'CPU requested' };
  // Only 'auto' trusts the path (it follows onnxruntime-node 1.30's layout); an explicit 'cuda' always tries.
  const provider = cudaProviderPath();
  if (requested === 'auto' && !existsSync(provider)) {
    const why = `the onnxruntime-node CUDA provider is not installed (${provider} is missing)`;
    return { sessions: await createAll(dir, components, 'cpu'), device: 'cpu', deviceReason: `CUDA execution provider not available: ${why}; using CPU` };
  }
  try {
    const sessions = await createAll(dir, components, 'cuda');
    return { sessions, device: 'cuda', deviceReason: `CUDA execution provider loaded (device ${requested} requested)` };
  } catch (error) {
    const why = (error as Error).message.split('\n')[0]!.slice(0, 300);
    const sessions = await createAll(dir, components, 'cpu');
    return { sessions, device: 'cpu', deviceReason: `CUDA execution provider not available: ${why}; using CPU` };
  }
}
