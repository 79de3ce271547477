#!/usr/bin/env node
// The `hypergen` command line: serve MODEL (checked before any work starts), pull and convert. Exit 0 for help and
// version, 2 for a usage error, 1 for any other failure, each failure as one line on stderr.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { serveOptions, toServeConfig } from './config.js';
import { registerConvertCommand } from './convert/command.js';
import { isDiffusersPipeline } from './convert/convert-pipeline.js';
import { ConvertError } from './convert/errors.js';
import { isModelUri } from './pull/index.js';
import { registerPullCommand } from './pull/command.js';
import { serve } from './serve.js';
import { VERSION } from './version.js';

const USAGE_ERROR = 2;

class UsageError extends Error {}

/** MODEL is a model URI or a pipeline folder; anything else fails before any work starts, saying what is missing. */
function checkModelArgument(model: string): void {
  if (isModelUri(model)) return;
  const path = resolve(model);
  if (!existsSync(path)) throw new UsageError(`MODEL '${model}': no such folder (${path}). Give an ONNX pipeline folder or a model URI such as hf://org/name.`);
  if (!statSync(path).isDirectory()) throw new UsageError(`MODEL '${model}' is not a folder. Give an ONNX pipeline folder or a model URI such as hf://org/name.`);
  if (!existsSync(join(path, 'model_index.json'))) {
    throw new UsageError(
      `MODEL '${model}' is not a pipeline folder: model_index.json is missing in ${path} (expected a Hugging Face Optimum ONNX export or a diffusers pipeline).`,
    );
  }
  if (isDiffusersPipeline(path)) return; // converted into --cache-dir on start
}

export function buildProgram(): Command {
  const program = new Command('hypergen')
    .description('OpenAI-compatible image generation server for ONNX diffusion pipelines')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  const serveCommand = program
    .command('serve')
    .description('serve a diffusion pipeline over the OpenAI images API')
    .argument('<MODEL>', 'ONNX pipeline folder or model URI (hf://org/name[@rev], https://...tar.gz, pvc://claim/path)')
    .exitOverride();
  for (const option of serveOptions()) serveCommand.addOption(option);
  serveCommand.action(async (model: string, options: Record<string, unknown>) => {
    checkModelArgument(model);
    const running = await serve(toServeConfig(model, options));
    // A repeated SIGTERM (kubelet, supervisors) must not cut the drain short; a second Ctrl-C does.
    let draining = false;
    const stop = (signal: NodeJS.Signals) => {
      if (draining && signal === 'SIGINT') process.exit(130);
      if (draining) return;
      draining = true;
      void running.shutdown(signal).then(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

  registerPullCommand(program);
  registerConvertCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      process.exit(error.exitCode === 0 ? 0 : USAGE_ERROR);
    }
    if (error instanceof UsageError || error instanceof ConvertError) {
      process.stderr.write(`hypergen: ${error.message}\n`);
      process.exit(USAGE_ERROR);
    }
    process.stderr.write(`hypergen: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

await main(process.argv);
