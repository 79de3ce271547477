// Side by side (issue 19): HyperGen against diffusers on torch, the same sd15-shape pipeline (real SD 1.5 layer
// sizes, random weights; diffusers safetensors, converted by `hypergen convert`) and request (Euler, guidance 7.5,
// batch 1, warm) at 256x256 and 512x512, each run in its own process, interleaved; medians of s/image, s per UNet
// step and peak RSS, and the UNet's share of onnxruntime's MatMul peak. The diffusers row is skipped, saying why,
// where no python with torch and diffusers is found (BENCH_TORCH_PYTHON, default python3). BENCH_SIDE_RUNS (3) and
// BENCH_SIDE_SIZES (256,512) change the rounds and sizes. Figures only.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AttentionForm } from '@hypergen/server/convert/graph.js';
import { convertPipeline } from '@hypergen/server/convert/convert-pipeline.js';
import { ensurePipeline } from '../models/pipeline.js';
import { preset } from '../models/presets.js';
import { REPO_ROOT } from '../server-process.js';
import type { GenerateFigures } from './generate-child.js';
import { unetFlops, type UNetShape } from './unet-flops.js';

const SOURCE = join(REPO_ROOT, 'models/sd15-shape-diffusers');
const CHILD = join(REPO_ROOT, 'hack/dist/bench/generate-child.js');
const PYTHON_CHILD = join(REPO_ROOT, 'hack/bench/diffusers_generate.py');
const STEPS = 4;
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

interface Engine {
  readonly name: string;
  readonly command: string;
  readonly args: (size: number) => string[];
}

/** Why the diffusers row cannot run with `python`, or undefined when torch and diffusers import. */
function torchMissing(python: string): string | undefined {
  const probe = spawnSync(python, ['-c', 'import torch, diffusers, transformers; print(torch.__version__, diffusers.__version__)'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `${python}: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import torch, diffusers and transformers (${probe.stderr.trim().split('\n').pop() ?? ''})`;
  return undefined;
}

function runChild(engine: Engine, size: number): GenerateFigures {
  const r = spawnSync(engine.command, engine.args(size), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${engine.name} at ${size}x${size} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as GenerateFigures;
}

/** Converts the diffusers source with the given attention form (reused while current). */
function converted(form: AttentionForm): string {
  const out = join(REPO_ROOT, `models/sd15-shape-${form}`);
  convertPipeline(SOURCE, out, { dtype: 'fp32', attention: form });
  return out;
}

/**
 * `peakGflops`: onnxruntime's MatMul peak measured by the caller. Options in `args`: --shape generates the 4.0 GB
 * source when absent; --plain adds HyperGen with MatMul/Softmax attention (the form before issue 19).
 */
export function sideBySide(args: string[], peakGflops: () => number): void {
  console.log('\n  side by side: HyperGen vs diffusers on torch, sd15-shape, Euler 4 steps, guidance 7.5, batch 1');
  if (!existsSync(join(SOURCE, 'model_index.json'))) {
    if (!args.includes('--shape')) {
      console.log(`    (${SOURCE} absent: run with --shape to generate it, 4.0 GB, and the row)`);
      return;
    }
  }
  ensurePipeline(preset('sd15-shape'), SOURCE, undefined, false, 'diffusers');
  const engines: Engine[] = [{ name: 'HyperGen (fused attention)', command: process.execPath, args: hyperGen(converted('fused')) }];
  if (args.includes('--plain')) engines.push({ name: 'HyperGen (MatMul/Softmax)', command: process.execPath, args: hyperGen(converted('plain')) });
  const python = process.env.BENCH_TORCH_PYTHON ?? 'python3';
  const missing = torchMissing(python);
  if (missing === undefined) {
    engines.push({ name: 'diffusers (torch, CPU)', command: python, args: (size) => [PYTHON_CHILD, SOURCE, String(size), String(STEPS), '1'] });
  }
  const rounds = Number(process.env.BENCH_SIDE_RUNS ?? 3);
  const unet = JSON.parse(readFileSync(join(SOURCE, 'unet', 'config.json'), 'utf8')) as UNetShape;
  console.log('    size     engine                        s/image   s/UNet step   VAE s   peak RSS   UNet GFLOP/s (% of MatMul peak)');
  const sizes = (process.env.BENCH_SIDE_SIZES ?? '256,512').split(',').map(Number);
  for (const size of sizes) {
    const figures = new Map<string, GenerateFigures[]>(engines.map((e) => [e.name, []]));
    // Interleaved (A, B, A, B, ...): the 2 cores are shared, so slow phases hit every engine alike.
    for (let r = 0; r < rounds; r++) for (const engine of engines) figures.get(engine.name)!.push(runChild(engine, size));
    const perImage = new Map<string, number>();
    for (const engine of engines) {
      const runs = figures.get(engine.name)!;
      const total = median(runs.map((f) => f.totals[0]!));
      const step = median(runs.map((f) => median(f.steps[0]!)));
      const fastest = Math.min(...runs.flatMap((f) => f.steps[0]!));
      perImage.set(engine.name, total);
      const gflops = unetFlops(unet, 2, size / 8, size / 8) / fastest / 1e9;
      const share = engine.command === process.execPath ? ` (${((100 * gflops) / peakGflops()).toFixed(0)}%)` : '';
      console.log(
        `    ${`${size}x${size}`.padEnd(8)} ${engine.name.padEnd(29)} ${total.toFixed(2).padStart(7)}   ${step.toFixed(2).padStart(11)}   ${median(runs.map((f) => f.vae[0]!)).toFixed(2).padStart(5)}   ` +
          `${gib(median(runs.map((f) => f.maxRssBytes))).padStart(8)}   ${gflops.toFixed(1)}${share}`,
      );
    }
    const torch = perImage.get('diffusers (torch, CPU)');
    if (torch !== undefined) {
      const ours = perImage.get(engines[0]!.name)!;
      console.log(`    ${size}x${size}: HyperGen ${(torch / ours).toFixed(2)}x the images/s of diffusers`);
    }
  }
  if (missing !== undefined) console.log(`    diffusers row skipped: ${missing}; BENCH_TORCH_PYTHON names another python`);
  console.log(`    (medians of ${rounds} interleaved processes each; the fastest step for GFLOP/s; peak RSS of the whole process)`);
}

const hyperGen =
  (dir: string) =>
  (size: number): string[] => [CHILD, dir, String(size), String(STEPS), '1'];
