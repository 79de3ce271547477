// One UNet session in its own process, with the onnxruntime session options named on the command line, so a bench
// can compare them (an SD 1.x UNet: 768-wide text context): session creation seconds, the seconds of each CFG-batch-2 call
// after a warm-up, and peak RSS, as one JSON line.
// Usage: node hack/dist/bench/session-options-child.js UNET_ONNX SIZE CALLS [arena=0] [pattern=0] [threads=N]
//        [level=disabled|basic|extended|all] [save=PATH]   (defaults: onnxruntime's, level all, as the engine has)
import ort from 'onnxruntime-node';

const [path, size, calls, ...flags] = process.argv.slice(2) as [string, string, string, ...string[]];
const flag = (name: string): string | undefined => flags.find((f) => f.startsWith(`${name}=`))?.slice(name.length + 1);
const options: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: (flag('level') ?? 'all') as ort.InferenceSession.SessionOptions['graphOptimizationLevel'],
};
if (flag('arena') === '0') options.enableCpuMemArena = false;
if (flag('pattern') === '0') options.enableMemPattern = false;
if (flag('threads') !== undefined) options.intraOpNumThreads = Number(flag('threads'));
if (flag('save') !== undefined) options.optimizedModelFilePath = flag('save');

let started = performance.now();
const session = await ort.InferenceSession.create(path, options);
const createSeconds = (performance.now() - started) / 1000;
const latent = Number(size) / 8;
const elem = (name: string): string => {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta !== undefined && meta.isTensor ? meta.type : 'float32';
};
const random = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
const feeds: Record<string, ort.Tensor> = {
  sample: new ort.Tensor('float32', random(2 * 4 * latent * latent), [2, 4, latent, latent]),
  timestep:
    elem('timestep') === 'int64' ? new ort.Tensor('int64', BigInt64Array.of(500n, 500n), [2]) : new ort.Tensor('float32', Float32Array.of(500, 500), [2]),
  encoder_hidden_states: new ort.Tensor('float32', random(2 * 77 * 768), [2, 77, 768]),
};
await session.run(feeds); // warm-up: the first call at a shape allocates and plans
const seconds: number[] = [];
for (let i = 0; i < Number(calls); i++) {
  started = performance.now();
  await session.run(feeds);
  seconds.push((performance.now() - started) / 1000);
}
await session.release();
process.stdout.write(`${JSON.stringify({ flags, createSeconds, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
