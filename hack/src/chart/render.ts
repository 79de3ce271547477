// Renders a Helm chart with hack/chart-render (Go, built from Debian's golang-go and sprig packages in GOPATH
// mode), the way `helm template` would. The binary is built once per source version into a cache directory.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const chartDir = join(repoRoot, 'charts', 'hypergen');
const sourceDir = join(repoRoot, 'hack', 'chart-render');
/** Where Debian's golang-*-dev packages put their sources; CI installs them with apt-get. */
const gopath = process.env.HYPERGEN_GOPATH ?? '/usr/share/gocode';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderedManifest {
  /** The template it came from, e.g. hypergen/templates/deployment.yaml (Helm's "# Source:"). */
  source: string;
  content: string;
  object: KubeObject;
}

export interface RenderResult {
  manifests: RenderedManifest[];
  notes: string;
  values: Record<string, unknown>;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  chart?: string;
  /** Value documents, applied in order like repeated `-f` files. */
  values?: Record<string, unknown>[];
  /** `--set` expressions, e.g. "watchNamespaces={a,b}". */
  set?: string[];
  apiVersions?: string[];
  kubeVersion?: string;
  isUpgrade?: boolean;
}

/** A render that the renderer refused (bad values, template error): the message is the renderer's stderr. */
export class RenderError extends Error {}

let built: Promise<string> | undefined;

/** Builds hack/chart-render once per content hash of its sources and returns the binary's path. */
export function buildRenderer(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const files = readdirSync(sourceDir).filter((f) => f.endsWith('.go')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(sourceDir, f)));
  const cache = process.env.HYPERGEN_CHART_RENDER_CACHE ?? join(tmpdir(), 'hypergen-chart-render');
  const binary = join(cache, `chart-render-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await run('go', ['build', '-o', partial, '.'], {
      cwd: sourceDir,
      env: { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOCACHE: join(cache, 'gocache'), GOFLAGS: '' },
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'chart-render needs Go to build: `go` is not on PATH. Install Debian packages golang-go, ' +
          'golang-github-masterminds-sprig-dev, golang-github-ghodss-yaml-dev and ' +
          'golang-github-xeipuuv-gojsonschema-dev (.ci/run does).',
        { cause: err },
      );
    }
    throw new Error(`building hack/chart-render failed (GOPATH=${gopath}; are the golang-*-dev packages installed?):\n${e.stderr ?? e.message}`, {
      cause: err,
    });
  }
  renameSync(partial, binary); // atomic: parallel test workers may build at the same time
  return binary;
}

/** Renders the chart (charts/hypergen by default) and parses every manifest. */
export async function renderChart(opts: RenderOptions = {}): Promise<RenderResult> {
  const binary = await buildRenderer();
  const dir = mkdtempSync(join(tmpdir(), 'hypergen-values-'));
  try {
    const args = ['--output', 'json', '--namespace', opts.namespace ?? 'hypergen-system'];
    (opts.values ?? []).forEach((v, i) => {
      const file = join(dir, `values-${i}.json`); // JSON is YAML: no serialisation surprises
      writeFileSync(file, JSON.stringify(v));
      args.push('-f', file);
    });
    for (const s of opts.set ?? []) args.push('--set', s);
    for (const a of opts.apiVersions ?? []) args.push('--api-versions', a);
    if (opts.kubeVersion) args.push('--kube-version', opts.kubeVersion);
    if (opts.isUpgrade) args.push('--is-upgrade');
    args.push(opts.release ?? 'hypergen', opts.chart ?? chartDir);
    let stdout: string;
    try {
      ({ stdout } = await run(binary, args, { maxBuffer: 64 * 1024 * 1024 }));
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new RenderError((e.stderr ?? e.message).trim(), { cause: err });
    }
    const out = JSON.parse(stdout) as {
      manifests: { source: string; content: string }[] | null;
      notes: string;
      values: Record<string, unknown>;
    };
    return {
      manifests: (out.manifests ?? []).map((m) => ({ ...m, object: parse(m.content) as KubeObject })),
      notes: out.notes,
      values: out.values,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The YAML stream `helm template` would print for a render. */
export function toYamlStream(result: RenderResult): string {
  return result.manifests.map((m) => `---\n# Source: ${m.source}\n${m.content}\n`).join('');
}
