#!/usr/bin/env node
// Random-weight ONNX pipelines in the Optimum layout.
//   tiny-models --out DIR [--force]                      DIR/tiny-sd, tiny-sd-v, tiny-sdxl, tiny-sdxl-turbo
//   generate --preset NAME --out DIR [--seed N] [--force] [--format onnx|diffusers] [--dtype fp32|fp16]
//                                                        any preset (sd15-shape and sdxl-shape are full size); diffusers
//                                                        writes a save_pretrained folder (safetensors) to convert
//   params --preset NAME                                 parameter counts, without generating anything
//   presets                                              list the presets
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { countParameters, DEFAULT_SEED, ensurePipeline, folderBytes, type OutputDtype, type OutputFormat, type PipelineReport } from './pipeline.js';
import { PRESETS, preset, TINY_PRESETS } from './presets.js';

const USAGE = `usage:
  cli.js tiny-models --out DIR [--force]
  cli.js generate --preset NAME --out DIR [--seed N] [--force] [--format onnx|diffusers] [--dtype fp32|fp16]
  cli.js params --preset NAME
  cli.js presets`;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;
const millions = (n: number): string => `${(n / 1e6).toFixed(n < 1e7 ? 3 : 1)} M`;

function print(r: PipelineReport): void {
  const what = r.generated ? `generated in ${r.seconds.toFixed(2)} s` : 'already current';
  console.log(`${r.preset}: ${what} -> ${r.dir} (${mb(folderBytes(r.dir))})`);
  for (const c of r.components) {
    const external = c.externalBytes > 0 ? ` + model.onnx_data ${mb(c.externalBytes)}` : '';
    const files = c.safetensorsBytes !== undefined ? `safetensors ${mb(c.safetensorsBytes)}` : `model.onnx ${mb(c.onnxBytes)}${external}`;
    console.log(`  ${c.component.padEnd(15)} ${millions(c.parameters).padStart(9)} params, ${files}`);
  }
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      preset: { type: 'string' },
      seed: { type: 'string' },
      force: { type: 'boolean', default: false },
      format: { type: 'string', default: 'onnx' },
      dtype: { type: 'string', default: 'fp32' },
    },
  });
  const [command, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${values.seed}`);
  switch (command) {
    case 'presets':
      for (const p of PRESETS.values()) console.log(`${p.name}${p.tiny ? ' (tiny)' : ''}`);
      return 0;
    case 'params': {
      if (values.preset === undefined) throw new UsageError('params needs --preset NAME');
      const counts = Object.entries(countParameters(preset(values.preset)));
      for (const [component, n] of counts) console.log(`${component.padEnd(15)} ${n} (${millions(n)}, ${mb(n * 4)} float32)`);
      return 0;
    }
    case 'tiny-models': {
      if (values.out === undefined) throw new UsageError('tiny-models needs --out DIR');
      for (const p of TINY_PRESETS) print(ensurePipeline(p, join(values.out, p.name), seed, values.force));
      return 0;
    }
    case 'generate': {
      if (values.out === undefined || values.preset === undefined) throw new UsageError('generate needs --preset NAME and --out DIR');
      if (values.format !== 'onnx' && values.format !== 'diffusers') throw new UsageError(`--format must be onnx or diffusers, got ${values.format}`);
      if (values.dtype !== 'fp32' && values.dtype !== 'fp16') throw new UsageError(`--dtype must be fp32 or fp16, got ${values.dtype}`);
      if (values.dtype === 'fp16' && values.format !== 'onnx') throw new UsageError('--dtype fp16 is for --format onnx (convert a diffusers folder with: hypergen convert DIR --dtype fp16)');
      print(ensurePipeline(preset(values.preset), values.out, seed, values.force, values.format as OutputFormat, values.dtype as OutputDtype));
      return 0;
    }
    default:
      throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
  }
}

class UsageError extends Error {}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  const usage = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`error: ${(err as Error).message}${usage ? `\n${USAGE}` : ''}`);
  process.exitCode = usage ? 2 : 1;
}
