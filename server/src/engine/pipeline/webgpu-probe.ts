// Whether onnxruntime's WebGPU provider can run here: a two-op float32 + float16 graph run in a child process
// under a deadline, so a missing adapter is a reason string, Dawn's native warnings stay out of the server's log,
// and a hanging driver cannot stall the load. Run as a script, this file is the child.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ProbedProvider = 'webgpu' | 'cpu';
export type WebGpuProbe = { ok: true; fp16: boolean; seconds: number } | { ok: false; reason: string };

/** The compiled child, resolved against the package root (found from server/dist and from server/src under ts-jest). */
export const PROBE_PATH = fileURLToPath(new URL('../../../dist/engine/pipeline/webgpu-probe.js', import.meta.url));
export const PROBE_TIMEOUT_MS = 60_000;

// A minimal ONNX model in protobuf: c = a + b over float[4] (elem 1 = FLOAT, 10 = FLOAT16), opset 17.
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
};
const field = (number: number, value: number | string | number[]): number[] => {
  if (typeof value === 'number') return [...varint(number << 3), ...varint(value)];
  const bytes = typeof value === 'string' ? [...Buffer.from(value)] : value;
  return [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
};
const valueInfo = (name: string, elem: number) =>
  [...field(1, name), ...field(2, field(1, [...field(1, elem), ...field(2, field(1, field(1, 4)))]))];

function addModel(elem: 1 | 10): Uint8Array {
  const node = [...field(1, 'a'), ...field(1, 'b'), ...field(2, 'c'), ...field(4, 'Add')];
  const graph = [...field(1, node), ...field(2, 'probe'), ...field(11, valueInfo('a', elem)), ...field(11, valueInfo('b', elem)), ...field(12, valueInfo('c', elem))];
  return Uint8Array.from([...field(1, 8), ...field(7, graph), ...field(8, field(2, 17))]);
}

/** Child side: runs the graph on `provider` only (no CPU fallback for its nodes) and prints one JSON line. */
async function child(provider: ProbedProvider): Promise<void> {
  const { default: ort } = await import('onnxruntime-node');
  const started = performance.now();
  const options = { executionProviders: [provider], extra: { session: { disable_cpu_ep_fallback: provider === 'cpu' ? '0' : '1' } } };
  const run = async (elem: 1 | 10) => {
    const session = await ort.InferenceSession.create(addModel(elem), options);
    const type = elem === 1 ? 'float32' : 'float16';
    // float16 data are bit patterns: 1.0 = 0x3c00, 2.0 = 0x4000, 3.0 = 0x4200.
    const [a, b, want] = elem === 1 ? [[1, 1, 1, 1], [2, 2, 2, 2], 3] : [[0x3c00, 0x3c00, 0x3c00, 0x3c00], [0x4000, 0x4000, 0x4000, 0x4000], 0x4200];
    const array = (values: number[]) => (elem === 1 ? Float32Array.from(values) : Uint16Array.from(values));
    const { c } = await session.run({ a: new ort.Tensor(type, array(a), [4]), b: new ort.Tensor(type, array(b), [4]) });
    await session.release();
    if (!c || Array.from(c.data as ArrayLike<number>).some((v) => v !== want)) throw new Error(`the ${provider} provider computed ${type} 1 + 2 wrongly`);
  };
  try {
    await run(1);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, reason: shorten((error as Error).message.split('\n')[0]!).slice(0, 300) })}\n`);
    return;
  }
  const fp16 = await run(10).then(() => true, () => false);
  process.stdout.write(`${JSON.stringify({ ok: true, fp16, seconds: (performance.now() - started) / 1000 })}\n`);
}

/** onnxruntime's messages carry a source path and an assertion; the part after the last ' was false. ' says why. */
function shorten(reason: string): string {
  const cut = reason.lastIndexOf(' was false. ');
  return cut >= 0 ? reason.slice(cut + ' was false. '.length).trim() : reason.trim();
}

/** Dawn's warnings (e.g. "Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file") say what is missing. */
function dawnWarnings(stderr: string): string[] {
  return [...new Set(stderr.split('\n').filter((line) => line.startsWith('Warning: ')).map((line) => line.slice('Warning: '.length).trim()))].slice(0, 2);
}

/** Parent side: spawns the child with this process's environment (LD_LIBRARY_PATH, VK_* included). */
export function probeWebGpu(timeoutMs = PROBE_TIMEOUT_MS): Promise<WebGpuProbe> {
  return probeProvider('webgpu', timeoutMs);
}

/** The same probe on any provider ('cpu' shows the probe itself works where no GPU is). */
export function probeProvider(provider: ProbedProvider, timeoutMs = PROBE_TIMEOUT_MS): Promise<WebGpuProbe> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [PROBE_PATH, provider], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: `the WebGPU probe could not start: ${error.message}` });
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const warnings = dawnWarnings(stderr);
      const dawn = warnings.length > 0 ? ` (Dawn: ${warnings.join('; ')})` : '';
      if (timedOut) return resolve({ ok: false, reason: `the WebGPU probe did not finish within ${timeoutMs / 1000} s (adapter or driver hang)${dawn}` });
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        const result = JSON.parse(line) as WebGpuProbe;
        if (result.ok) return resolve(result);
        return resolve({ ok: false, reason: `${result.reason}${dawn}` });
      } catch {
        const last = stderr.trim().split('\n').at(-1) ?? '';
        return resolve({ ok: false, reason: `the WebGPU probe exited with ${signal ?? `code ${code}`}${last ? `: ${last.slice(0, 300)}` : ''}${dawn}` });
      }
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await child(process.argv[2] === 'cpu' ? 'cpu' : 'webgpu');
