// `hypergen pull URI --dir DIR [--token-file F] [--dtype fp32|fp16] [--attention fused|plain] [--concurrency N]`: the URI checked as commander
// parses it (a bad one is a usage error), then pullModel.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ConvertDtype } from '../convert/convert-pipeline.js';
import type { AttentionForm } from '../convert/graph.js';
import { createLogger } from '../logger.js';
import { PullError } from './errors.js';
import { pullModel } from './index.js';
import { parseModelSource } from './uri.js';

function modelArgument(value: string): string {
  try {
    parseModelSource(value);
  } catch (error) {
    if (error instanceof PullError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return value;
}

function concurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 64) throw new InvalidArgumentError(`expected an integer from 1 to 64, got '${value}'.`);
  return n;
}

/** `hypergen pull URI --dir DIR`: what the operator's init container runs, with HF_TOKEN from a Secret. */
export function registerPullCommand(program: Command): void {
  program
    .command('pull')
    .description(
      'download a model into a folder: hf:// through the Hub API (HF_ENDPOINT, HF_TOKEN or HF_TOKEN_FILE, HF_HUB_OFFLINE), ' +
        'a diffusers-format hf:// repository is downloaded beside DIR (only what conversion needs) and converted into DIR (--dtype); ' +
        'https:// .tar/.tar.gz archives; pvc://CLAIM/path (mounted at $HYPERGEN_PVC_ROOT/CLAIM/path, default /models) and ' +
        'ONNX folders are only verified in place (a diffusers folder is converted into DIR)',
    )
    .argument('<URI>', 'hf://org/name[@revision][/subfolder], https://host/model.tar.gz[#sha256=HEX], pvc://claim/path or a folder', modelArgument)
    .requiredOption('--dir <dir>', 'folder to put the pipeline in (created if needed; a complete copy there is not downloaded again)')
    .option('--token-file <path>', 'file holding a Hugging Face token (default: $HF_TOKEN, then the file $HF_TOKEN_FILE)')
    .addOption(
      new Option('--dtype <dtype>', 'precision a diffusers-format hf:// repository is converted to (ONNX exports are used as they are)')
        .choices(['fp32', 'fp16'])
        .default('fp32'),
    )
    .addOption(
      new Option('--attention <form>', 'how that conversion writes UNet/VAE attention: fused (onnxruntime MultiHeadAttention) or plain (MatMul/Softmax)')
        .choices(['fused', 'plain'])
        .default('fused'),
    )
    .addOption(new Option('--concurrency <n>', 'files downloaded at the same time').default(4).argParser(concurrency))
    .addOption(
      new Option('--log-level <level>', 'log level').env('HYPERGEN_LOG_LEVEL').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    )
    .exitOverride()
    .action(async (uri: string, options: { dir: string; tokenFile?: string; dtype: ConvertDtype; attention: AttentionForm; concurrency: number; logLevel: 'info' }) => {
      const logger = createLogger(options.logLevel);
      await pullModel(uri, options.dir, { logger, tokenFile: options.tokenFile, dtype: options.dtype, attention: options.attention, concurrency: options.concurrency });
    });
}
