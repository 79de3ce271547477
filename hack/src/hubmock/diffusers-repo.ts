// A diffusers-format repository folder for the Hub mock, as the Hub holds them: a diffusers pipeline (e.g. the parity
// fixture sd15-tiny) plus what a pull for conversion must never fetch (pickle/flax/ckpt weights, a single-file
// checkpoint, safety_checker/feature_extractor, an ONNX export of another layout, a README), and optionally the
// UNet's diffusers fp16 variant (`diffusion_pytorch_model.fp16.safetensors`, the fp32 weights rounded); checkpoints can
// be split into index-mapped shards.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SafetensorsFile } from '@hypergen/server/convert/safetensors.js';
import { toFloat16Array } from '@hypergen/server/engine/pipeline/tensors.js';
import { writeSafetensors } from '../models/safetensors-writer.js';

/** Files of the folder a conversion pull must not request. */
export const NEVER_FETCHED = [
  'unet/diffusion_pytorch_model.bin',
  'text_encoder/flax_model.msgpack',
  'text_encoder/pytorch_model.bin',
  'vae/diffusion_pytorch_model.ckpt',
  'safety_checker/config.json',
  'safety_checker/model.safetensors',
  'feature_extractor/preprocessor_config.json',
  'onnx/unet/model.onnx',
  'v1-5-pruned-emaonly.safetensors',
  'README.md',
];

/** The F32 tensors of `from` rounded to F16 (others copied), written as diffusers' fp16 variant file `to`. */
export function writeFp16Variant(from: string, to: string): void {
  const source = SafetensorsFile.open(from);
  try {
    const tensors = [...source.tensors.values()].map((t) => ({
      name: t.name,
      dtype: t.dtype === 'F32' ? ('F16' as const) : (t.dtype as 'F16'),
      shape: t.shape,
      write: (sink: (chunk: Uint8Array) => void) => {
        const bytes = source.read(t);
        if (t.dtype !== 'F32') return sink(bytes);
        const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
        sink(new Uint8Array(toFloat16Array(values).buffer));
      },
    }));
    writeSafetensors(to, tensors, source.metadata);
  } finally {
    source.close();
  }
}

/** Splits `folder/STEM.safetensors` into two shards and the `STEM.safetensors.index.json` that maps them (the whole file goes). */
export function shardCheckpoint(folder: string, stem: string): string[] {
  const whole = join(folder, `${stem}.safetensors`);
  const source = SafetensorsFile.open(whole);
  const names = [`${stem}-00001-of-00002.safetensors`, `${stem}-00002-of-00002.safetensors`];
  const weightMap: Record<string, string> = {};
  try {
    const all = [...source.tensors.values()];
    const half = Math.ceil(all.length / 2);
    for (const [i, part] of [all.slice(0, half), all.slice(half)].entries()) {
      writeSafetensors(
        join(folder, names[i]!),
        part.map((t) => ({ name: t.name, dtype: t.dtype as 'F32', shape: t.shape, write: (sink: (chunk: Uint8Array) => void) => sink(source.read(t)) })),
      );
      for (const t of part) weightMap[t.name] = names[i]!;
    }
  } finally {
    source.close();
  }
  writeFileSync(join(folder, `${stem}.safetensors.index.json`), `${JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2)}\n`);
  rmSync(whole);
  return names;
}

/** Copies the pipeline in `pipelineDir` into `dest` and adds the NEVER_FETCHED files (and the UNet fp16 variant). */
export function makeDiffusersRepo(pipelineDir: string, dest: string, options: { fp16Unet?: boolean } = {}): string {
  cpSync(pipelineDir, dest, { recursive: true });
  for (const [i, path] of NEVER_FETCHED.entries()) {
    mkdirSync(dirname(join(dest, path)), { recursive: true });
    writeFileSync(join(dest, path), path.endsWith('.json') ? `{"placeholder": ${i}}\n` : Buffer.alloc(4096 + i, i + 1));
  }
  if (options.fp16Unet) writeFp16Variant(join(dest, 'unet/diffusion_pytorch_model.safetensors'), join(dest, 'unet/diffusion_pytorch_model.fp16.safetensors'));
  return dest;
}
