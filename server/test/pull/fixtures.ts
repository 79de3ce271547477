import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { REPO_ROOT } from '../../../hack/src/server-process.js';

const TINY_SD = join(REPO_ROOT, 'models/tiny-sd');

function write(dir: string, path: string, data: string | Buffer) {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), data);
}

/** Deterministic bytes, so that a pulled file can be compared with its source. */
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) % 251));

/**
 * A repository folder: models/tiny-sd when `make tiny-models` made it, else a synthetic pipeline; plus files the
 * pull must skip (other weight formats, an fp16 variant, the VAE encoder, a README).
 */
export function makeRepoFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-hubrepo-'));
  if (existsSync(join(TINY_SD, 'model_index.json'))) {
    cpSync(TINY_SD, dir, { recursive: true });
  } else {
    write(dir, 'model_index.json', JSON.stringify({ _class_name: 'ORTStableDiffusionPipeline', scheduler: ['diffusers', 'EulerDiscreteScheduler'], text_encoder: ['transformers', 'CLIPTextModel'], tokenizer: ['transformers', 'CLIPTokenizer'], unet: ['diffusers', 'UNet2DConditionModel'], vae_decoder: ['diffusers', 'AutoencoderKL'] }));
    for (const [i, c] of ['text_encoder', 'unet', 'vae_decoder'].entries()) {
      write(dir, `${c}/config.json`, JSON.stringify({ component: c }));
      write(dir, `${c}/model.onnx`, bytes(40_000 + i, i));
    }
    write(dir, 'unet/model.onnx_data', bytes(300_000, 9));
    write(dir, 'tokenizer/vocab.json', '{"a</w>": 0}');
    write(dir, 'tokenizer/merges.txt', '#version: 0.2\n');
    write(dir, 'tokenizer/tokenizer_config.json', '{"model_max_length": 77}');
    write(dir, 'scheduler/scheduler_config.json', '{"num_train_timesteps": 1000}');
  }
  write(dir, 'unet/diffusion_pytorch_model.safetensors', bytes(5000, 1));
  write(dir, 'unet/model_fp16.onnx', bytes(5000, 2));
  write(dir, 'vae_encoder/model.onnx', bytes(5000, 3));
  write(dir, 'README.md', '# a model\n');
  return dir;
}

export const SKIPPED = ['unet/diffusion_pytorch_model.safetensors', 'unet/model_fp16.onnx', 'vae_encoder/model.onnx', 'README.md'];

/** A pino logger whose lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
  return { logger, lines };
}
