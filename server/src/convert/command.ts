// `hypergen convert SRC --out DIR [--dtype fp32|fp16] [--attention fused|plain]`: a diffusers pipeline folder to the Optimum ONNX layout,
// or an ONNX export (Optimum's layout) to a copy with fused UNet/VAE attention, with progress and a per-component
// summary in the log. ConvertErrors exit 2 (see cli.ts).
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../logger.js';
import { type ConvertDtype, type ConvertOrigin, type ConvertReport, convertPipeline } from './convert-pipeline.js';
import { ConvertError } from './errors.js';
import { type FuseExportReport, fuseExport, isOnnxExport } from './fuse-export.js';
import type { AttentionForm } from './graph.js';

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** fuseExport with one line per component: attentions fused, masked (left) and unmatched (left, with reasons). */
export function fuseExportLogged(source: string, out: string, logger: Logger, options: { onlyIfFused?: boolean; origin?: ConvertOrigin } = {}): FuseExportReport {
  const report = fuseExport(source, out, {
    ...options,
    onProgress: (component, phase) => {
      if (phase === 'start') logger.info({ component }, `fusing attention in ${component}`);
    },
  });
  if (!report.converted) {
    if (report.out === report.source) logger.info({ source: report.source, components: report.components }, 'no attention to fuse; the export is used as it is');
    else logger.info({ source: report.source, out: report.out }, 'fused copy is current; nothing rewritten');
    return report;
  }
  for (const c of report.components) {
    logger.info(
      { component: c.component, fused: c.fused, masked: c.masked, unmatched: c.unmatched, reasons: c.reasons, upcast: c.upcast, seconds: c.seconds },
      `${c.component}: ${c.fused} attention fused, ${c.masked} masked and ${c.unmatched} unmatched left as they are`,
    );
  }
  if ((report.copiedBytes ?? 0) > 0) {
    logger.warn({ out: report.out, copiedBytes: report.copiedBytes }, `fused copy: ${mb(report.copiedBytes!)} copied, not hard-linked (the output is on another file system than the export)`);
  }
  logger.info({ source: report.source, out: report.out, seconds: report.seconds, copiedBytes: report.copiedBytes }, 'attention fused');
  return report;
}

/**
 * Converts with progress logged per component (component, bytes, rate), then one line per component. An ONNX export
 * (Optimum's layout) is instead copied with its UNet and VAE attention fused (fuseExportLogged); `--attention plain`
 * has nothing to do to one and is refused, and `dtype` does not apply to it.
 */
export function convertLogged(
  source: string,
  out: string,
  dtype: ConvertDtype,
  logger: Logger,
  attention: AttentionForm = 'fused',
  origin?: ConvertOrigin,
): ConvertReport | FuseExportReport {
  if (isOnnxExport(source)) {
    if (attention === 'plain') throw new ConvertError(`${source} is already an ONNX export and --attention plain keeps its attention as it is: serve the folder itself`);
    return fuseExportLogged(source, out, logger, { origin });
  }
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
    .description('convert a diffusers pipeline folder (safetensors: SD 1.x/2.x, SDXL) into the ONNX layout hypergen serves, or copy an ONNX export with its UNet/VAE attention fused')
    .argument('<SRC>', 'diffusers pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) or ONNX export (unet/model.onnx, ...)')
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
