// Converter benchmark (issue 12): time, peak RSS and output size of `convertPipeline` for the parity pipelines and
// the demo model, fp32 and fp16, each in its own process. With --shape, also the sdxl-shape pipeline (real SDXL
// layer shapes, random weights) written as diffusers safetensors by the generator: the UNet's conversion time
// against copying its 10.3 GB safetensors file on the same disk, and the converting process's peak RSS.
// BENCH_CONVERT_DIR chooses where the large files go (default: the OS temp folder); everything is removed after,
// except the generated sdxl-shape source when BENCH_CONVERT_CACHE names a folder to keep it in (reused while current).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConvertReport } from '@hypergen/server/convert/convert-pipeline.js';
import { ensurePipeline, folderBytes } from '../models/pipeline.js';
import { preset } from '../models/presets.js';
import { REPO_ROOT } from '../server-process.js';

const CHILD = join(REPO_ROOT, 'hack/dist/bench/convert-child.js');
const SOURCES: Record<string, string> = {
  'parity sd15-tiny': 'server/test/fixtures/parity/diffusers/sd15-tiny',
  'parity sdxl-tiny': 'server/test/fixtures/parity/diffusers/sdxl-tiny',
  'demo shapes-pipeline': 'hack/demo-model/shapes-pipeline',
};

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e8 ? 1 : 0)} MB`;

interface Measured {
  readonly report: ConvertReport;
  readonly maxRssBytes: number;
  readonly wallSeconds: number;
}

function convertInChild(source: string, out: string, dtype: 'fp32' | 'fp16'): Measured {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CHILD, source, out, dtype], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`conversion of ${source} failed: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Omit<Measured, 'wallSeconds'>), wallSeconds: (performance.now() - started) / 1000 };
}

function small(root: string): void {
  console.log('pipeline                 dtype  convert   process   peak RSS   source -> output');
  for (const [name, rel] of Object.entries(SOURCES)) {
    const source = join(REPO_ROOT, rel);
    for (const dtype of ['fp32', 'fp16'] as const) {
      const out = join(root, `${name.replace(/\W+/g, '-')}-${dtype}`);
      const m = convertInChild(source, out, dtype);
      const kept = m.report.components.filter((c) => c.keptFp32 !== undefined).map((c) => c.component);
      console.log(
        `${name.padEnd(24)} ${dtype}   ${m.report.seconds.toFixed(2).padStart(5)} s  ${m.wallSeconds.toFixed(2).padStart(5)} s  ${mb(m.maxRssBytes).padStart(9)}   ` +
          `${mb(folderBytes(source))} -> ${mb(folderBytes(out))}${kept.length > 0 ? ` (fp32 kept: ${kept.join(', ')})` : ''}`,
      );
      rmSync(out, { recursive: true, force: true });
    }
  }
}

function shape(root: string): void {
  console.log('\nsdxl-shape (diffusers safetensors, random weights) -> ONNX fp32');
  let started = performance.now();
  const cache = process.env.BENCH_CONVERT_CACHE;
  const source = ensurePipeline(preset('sdxl-shape'), join(cache ?? root, 'sdxl-shape-diffusers'), 0, false, 'diffusers');
  console.log(`  ${source.generated ? 'generated' : 'reused'} in ${((performance.now() - started) / 1000).toFixed(0)} s: ${mb(folderBytes(source.dir))}`);
  const unetFile = join(source.dir, 'unet', 'diffusion_pytorch_model.safetensors');
  const unetBytes = statSync(unetFile).size;
  started = performance.now();
  copyFileSync(unetFile, join(root, 'unet-copy.safetensors'));
  const copySeconds = (performance.now() - started) / 1000;
  rmSync(join(root, 'unet-copy.safetensors'));
  console.log(`  copy of unet safetensors (${mb(unetBytes)}): ${copySeconds.toFixed(1)} s`);
  const m = convertInChild(source.dir, join(root, 'sdxl-shape-onnx'), 'fp32');
  for (const c of m.report.components) {
    console.log(`  ${c.component.padEnd(15)} ${(c.parameters / 1e6).toFixed(0).padStart(6)} M params  ${c.seconds.toFixed(1).padStart(6)} s  ${mb(c.bytes).padStart(9)}`);
  }
  const unet = m.report.components.find((c) => c.component === 'unet')!;
  console.log(`  unet: ${unet.seconds.toFixed(1)} s = ${(unet.seconds / copySeconds).toFixed(2)}x the copy (target < 2x)`);
  console.log(`  peak RSS of the converting process (whole pipeline): ${mb(m.maxRssBytes)} (target < 1500 MB)`);
}

export async function run(args: string[] = []): Promise<void> {
  const root = mkdtempSync(join(process.env.BENCH_CONVERT_DIR ?? tmpdir(), 'hypergen-bench-convert-'));
  try {
    small(root);
    if (args.includes('--shape')) shape(root);
    else console.log('(--shape adds the 13.7 GB sdxl-shape pipeline: UNet conversion time vs a file copy, peak RSS)');
  } finally {
    for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
  await Promise.resolve();
}
