// fuseExport: an ONNX pipeline folder (Optimum's layout) -> a copy whose UNet and VAE graphs have their attention fused
// (fuseAttention), written to a hidden sibling and renamed into place with a marker, so a current copy is reused.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { type ConvertOrigin, MARKER_FILE, readMarker, sourceFingerprint, writeJson } from './convert-pipeline.js';
import { ConvertError } from './errors.js';
import { refuseForeignOutput, replaceFolder } from './output-folder.js';
import { type FuseReport, fuseAttention } from './fuse-attention.js';

const { onnx } = onnxProto;

/** The components whose attention is rewritten; text encoders keep theirs (CLIP's is causal-masked, never fused). */
export const FUSED_COMPONENTS = ['unet', 'vae_decoder', 'vae_encoder'] as const;

export interface FusedComponentReport extends Omit<FuseReport, 'removedNodes' | 'removedInitializers'> {
  readonly component: string;
  readonly removedNodes: number;
  readonly removedInitializers: number;
  /** model.onnx as written (its external data is linked or copied as it is). */
  readonly bytes: number;
  readonly seconds: number;
}

export interface FuseExportReport {
  readonly source: string;
  /** Where the pipeline to load is: the fused copy, or the source itself when onlyIfFused found nothing to fuse. */
  readonly out: string;
  /** false: nothing was written (the copy was current, or there was nothing to fuse). */
  readonly converted: boolean;
  readonly seconds: number;
  readonly fingerprint: string;
  readonly components: readonly FusedComponentReport[];
  /** Bytes copied because hard links were not possible (the output on another file system than the export). */
  readonly copiedBytes?: number;
}

export interface FuseExportOptions {
  /**
   * When no attention in the folder can be fused: copy nothing (outDir gets only a marker saying so, which later runs
   * read instead of the graphs) and report `out` = the source.
   */
  readonly onlyIfFused?: boolean;
  readonly origin?: ConvertOrigin;
  readonly onProgress?: (component: string, phase: 'start' | 'done') => void;
}

/** An ONNX pipeline export (Optimum's layout): model_index.json and unet/model.onnx. */
export function isOnnxExport(dir: string): boolean {
  return existsSync(join(dir, 'model_index.json')) && existsSync(join(dir, 'unet', 'model.onnx'));
}

/** Whether `dir` already holds fused attention by HyperGen's own hand (a conversion or a fused copy). */
export function hasFusedMarker(dir: string): boolean {
  return readMarker(dir)?.options?.attention === 'fused';
}

/**
 * A hard link of `from` at `to` where the file system allows it, a copy otherwise (another device, no links; a
 * symbolic link would not do: onnxruntime refuses external data that resolves outside the model's folder). Returns
 * the bytes copied.
 */
function linkOrCopy(from: string, to: string): number {
  try {
    linkSync(from, to);
    return 0;
  } catch {
    copyFileSync(from, to);
    return statSync(to).size;
  }
}

/**
 * Every file under `from` (hidden names skipped: markers and caches) linked or copied to the same place under `to`;
 * returns the bytes copied.
 */
function mirror(from: string, to: string, skip: ReadonlySet<string>, root = from): number {
  mkdirSync(to, { recursive: true });
  let copied = 0;
  for (const name of readdirSync(from)) {
    if (name.startsWith('.')) continue;
    const path = join(from, name);
    if (skip.has(path.slice(root.length + 1))) continue;
    copied += statSync(path).isDirectory() ? mirror(path, join(to, name), skip, root) : linkOrCopy(path, join(to, name));
  }
  return copied;
}

interface Rewritten {
  readonly component: string;
  readonly bytes: Uint8Array | undefined;
  readonly report: FusedComponentReport;
}

function rewrite(source: string, component: string, started: number): Rewritten {
  const path = join(source, component, 'model.onnx');
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(readFileSync(path));
  } catch (error) {
    throw new ConvertError(`${path}: not a valid ONNX model (${(error as Error).message})`);
  }
  const { model: fused, report } = fuseAttention(model);
  const bytes = report.fused > 0 ? onnx.ModelProto.encode(fused).finish() : undefined;
  return {
    component,
    bytes,
    report: { component, ...report, bytes: bytes?.length ?? statSync(path).size, seconds: (performance.now() - started) / 1000 },
  };
}

/**
 * Copies the ONNX export in `sourceDir` to `outDir` with every UNet and VAE attention that fuseAttention can prove
 * equivalent replaced by MultiHeadAttention; every other file (configs, tokenizers, schedulers, text encoders, the
 * graphs' external data) is hard-linked where possible, else copied. A current outDir (same marker fingerprint) is
 * left as it is; an existing outDir that HyperGen did not write is never replaced.
 */
export function fuseExport(sourceDir: string, outDir: string, options: FuseExportOptions = {}): FuseExportReport {
  const started = performance.now();
  const source = resolve(sourceDir);
  const out = resolve(outDir);
  if (!isOnnxExport(source)) throw new ConvertError(`${source}: not an ONNX pipeline export (model_index.json and unet/model.onnx expected)`);
  if (out === source || out.startsWith(`${source}/`)) throw new ConvertError(`${out}: the output must be outside the source folder ${source}`);
  const expected = sourceFingerprint(source, { kind: 'onnx-export', attention: 'fused' });
  const seconds = (): number => (performance.now() - started) / 1000;
  const existing = readMarker(out) as (ReturnType<typeof readMarker> & { nothingToFuse?: boolean }) | undefined;
  if (existing?.fingerprint === expected && (existing.nothingToFuse !== true || options.onlyIfFused === true)) {
    // A marker alone (nothingToFuse) records that this export had nothing to fuse: it is used as it is.
    const components = existing.components as unknown as FusedComponentReport[];
    return { source, out: existing.nothingToFuse === true ? source : out, converted: false, seconds: seconds(), fingerprint: expected, components };
  }
  refuseForeignOutput(out, existing !== undefined, MARKER_FILE);
  const rewritten: Rewritten[] = [];
  for (const component of FUSED_COMPONENTS) {
    if (!existsSync(join(source, component, 'model.onnx'))) continue;
    options.onProgress?.(component, 'start');
    rewritten.push(rewrite(source, component, performance.now()));
    options.onProgress?.(component, 'done');
  }
  const components = rewritten.map((r) => r.report);
  const marker = (extra: Record<string, unknown>) => ({
    source,
    kind: 'onnx-export',
    ...extra,
    options: { attention: 'fused' },
    fingerprint: expected,
    components,
    convertedAt: new Date().toISOString(),
  });
  if (options.onlyIfFused === true && components.every((c) => c.fused === 0)) {
    // Remembered in a marker-only outDir, so later starts neither read the graphs again nor copy anything.
    mkdirSync(out, { recursive: true });
    writeJson(join(out, MARKER_FILE), marker({ nothingToFuse: true }));
    return { source, out: source, converted: false, seconds: seconds(), fingerprint: expected, components };
  }
  return replaceFolder(out, (tmp) => {
    const replaced = rewritten.filter((r) => r.bytes !== undefined);
    const copiedBytes = mirror(source, tmp, new Set(replaced.map((r) => `${r.component}/model.onnx`)));
    for (const r of replaced) writeFileSync(join(tmp, r.component, 'model.onnx'), r.bytes!);
    writeJson(join(tmp, MARKER_FILE), marker(options.origin ? { origin: options.origin } : {}));
    return { source, out, converted: true, seconds: seconds(), fingerprint: expected, components, copiedBytes };
  });
}
