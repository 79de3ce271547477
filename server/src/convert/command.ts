// `hypergen convert SRC --out DIR [--dtype fp32|fp16] [--attention fused|plain]`: a diffusers pipeline folder to the Optimum ONNX layout, with
// progress and a per-component summary in the log. ConvertErrors exit 2 (see cli.ts).
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../logger.js';
import { type ConvertDtype, type ConvertOrigin, type ConvertReport, convertPipeline } from './convert-pipeline.js';
import type { AttentionForm } from './graph.js';

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Converts with progress logged per component (component, bytes, rate), then one line per component. */
export function convertLogged(
  source: string,
  out: string,
  dtype: ConvertDtype,
  logger: Logger,
  attention: AttentionForm = 'fused',
  origin?: ConvertOrigin,
): ConvertReport {
  const report = convertPipeline(source, out, {
    dtype,
    attention,
    origin,
    onProgress: (e) => {
      if (e.phase === 'start') logger.info({ component: e.component, sourceBytes: e.sourceBytes }, `converting ${e.component} (${mb(e.sourceBytes)})`);
      else logger.info({ component: e.component, seconds: e.seconds, rateMBps: e.sourceBytes / 1e6 / (e.seconds ?? 1) }, `converted ${e.component}`);
    },
  });
  if (!report.converted) {
    logger.info({ source: report.source, out: report.out }, 'conversion is current; nothing converted');
    return report;
  }
  for (const c of report.components) {
    logger.info(
      { component: c.component, parameters: c.parameters, bytes: c.bytes, seconds: c.seconds, dtype: c.dtype, keptFp32: c.keptFp32, unused: c.unused, clamped: c.clamped },
      `${c.component}: ${c.parameters} parameters, ${mb(c.bytes)} ${c.dtype}${c.keptFp32 ? ` (kept fp32: ${c.keptFp32})` : ''}`,
    );
  }
  logger.info({ source: report.source, out: report.out, seconds: report.seconds }, 'converted');
  return report;
}

export function registerConvertCommand(program: Command): void {
  program
    .command('convert')
    .description('convert a diffusers pipeline folder (safetensors: SD 1.x/2.x, SDXL) into the ONNX layout hypergen serves')
    .argument('<SRC>', 'diffusers pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)')
    .requiredOption('--out <dir>', 'folder to write the ONNX pipeline to (a current conversion there is kept as it is)')
    .addOption(new Option('--dtype <dtype>', 'weight and compute precision of the ONNX graphs').choices(['fp32', 'fp16']).default('fp32'))
    .addOption(
      new Option('--attention <form>', 'fused: onnxruntime MultiHeadAttention (CPU, CUDA, WebGPU); plain: MatMul/Softmax for other runtimes')
        .choices(['fused', 'plain'])
        .default('fused'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level').env('HYPERGEN_LOG_LEVEL').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    )
    .exitOverride()
    .action((source: string, options: { out: string; dtype: ConvertDtype; attention: AttentionForm; logLevel: 'info' }) => {
      convertLogged(source, options.out, options.dtype, createLogger(options.logLevel), options.attention);
    });
}
