// hack/chart-render against a fixture chart that uses each Helm engine feature the HyperGen chart relies on.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { RenderError, renderChart, repoRoot, toYamlStream, type RenderOptions } from '../../src/chart/render.js';

const fixture = fileURLToPath(new URL('./fixtures/engine', import.meta.url));
const render = (opts: RenderOptions = {}) => renderChart({ chart: fixture, release: 'r1', namespace: 'ns1', ...opts });
const configMapData = async (opts: RenderOptions = {}) => {
  const out = await render(opts);
  const cm = out.manifests.find((m) => m.object.kind === 'ConfigMap');
  return cm!.object.data as Record<string, string>;
};

describe('chart-render engine', () => {
  it('exposes .Release, .Chart (capitalised keys), .Capabilities, .Files and .Template like Helm', async () => {
    const data = await configMapData({ apiVersions: ['monitoring.coreos.com/v1'], kubeVersion: 'v1.31.4-eks.2' });
    expect(data.release).toBe('r1/ns1/Helm/true/false/1');
    expect(data.chart).toBe('engine/1.2.3/4.5.6/tools');
    expect(data.keywords).toBe('a,b');
    expect(data.kube).toBe('v1.31.4-eks.2/1/31');
    expect(data.kubeString).toBe('v1.31.4'); // String() is the normalised version, as in Helm
    expect(data.kubeCompare).toBe('true');
    expect(data.hasApps).toBe('true');
    expect(data.hasMonitoring).toBe('true');
    expect(data.file).toBe('alpha\nbeta\n');
    expect(data.glob).toBe('files/a.txt;');
    expect(data.lines).toBe('2');
    expect(parse(data.asConfig!)).toEqual({ 'a.txt': 'alpha\nbeta\n', 'b.conf': 'gamma\n' });
    expect(parse(data.asSecrets!)).toEqual({ 'b.conf': Buffer.from('gamma\n').toString('base64') });
    expect(data.templateName).toBe('engine/templates/configmap.yaml');
    expect(data.basePath).toBe('engine/templates');
    expect(data.missing).toBe(''); // missing keys render empty, never "<no value>"
  });

  it('marks upgrades and defaults APIVersions to the built-in groups only', async () => {
    const data = await configMapData({ isUpgrade: true });
    expect(data.release).toBe('r1/ns1/Helm/false/true/1');
    expect(data.hasMonitoring).toBe('false');
  });

  it('implements include, tpl, toYaml/fromYaml, toJson/fromJson and an empty lookup', async () => {
    const data = await configMapData();
    expect((await render()).manifests.find((m) => m.object.kind === 'ConfigMap')!.object.metadata.labels).toEqual({
      app: 'fixture',
    });
    expect(data.tpl).toBe('r1-fixture');
    expect(data.yamlRoundTrip).toBe('yes-default');
    expect(data.jsonRoundTrip).toBe('2');
    expect(data.badYaml).toBe('true');
    expect(data.lookup).toBe('0');
  });

  it('merges values.yaml, -f files in order and --set (typed, nested, lists, escaped dots, null deletes)', async () => {
    const out = await render({
      values: [{ nested: { added: 'one' }, list: ['from-file'] }, { nested: { added: 'two' } }],
      set: ['replicas=3,nested.drop=null', 'list[2]=z', 'labels.app\\.kubernetes\\.io/name=x', 'flags={a,true}', 'str=007', 'esc=x\\,y', 'none={}'],
    });
    expect(out.values).toEqual({
      name: 'fixture',
      replicas: 3,
      nested: { keep: 'yes-default', added: 'two' },
      list: ['from-file', null, 'z'],
      templated: '{{ .Release.Name }}-{{ .Values.name }}',
      labels: { 'app.kubernetes.io/name': 'x' },
      flags: ['a', true],
      str: '007',
      esc: 'x,y',
      none: [],
    });
    expect(out.notes).toBe('Installed r1 with 3 replicas.\n');
  });

  it('orders documents as Helm installs them, drops empty ones, skips partials and keeps NOTES.txt apart', async () => {
    const out = await render();
    expect(out.manifests.map((m) => `${m.source}:${m.object.kind}`)).toEqual([
      'engine/templates/sub/multi.yaml:ServiceAccount',
      'engine/templates/configmap.yaml:ConfigMap',
      'engine/templates/sub/multi.yaml:Deployment',
      'engine/templates/sub/multi.yaml:Widget',
    ]);
    expect(toYamlStream(out)).toMatch(/^---\n# Source: engine\/templates\/sub\/multi.yaml\napiVersion: v1\nkind: ServiceAccount\n/);
    expect(toYamlStream(out)).not.toContain('NOTES');
  });

  it('fails with the message of required, at the template position', async () => {
    await expect(render({ set: ['needName=true'] })).rejects.toThrow(
      'execution error at (engine/templates/required.yaml:5:11): needName needs secretName: set --set secretName=...',
    );
    const ok = await render({ set: ['needName=true', 'secretName=s1'] });
    expect(ok.manifests.some((m) => m.object.kind === 'Secret' && m.object.metadata.name === 's1')).toBe(true);
  });

  it('stops runaway include recursion with a clear error', async () => {
    await expect(render({ set: ['recurse=true'] })).rejects.toThrow('rendering template has a nested reference name: engine.recurse');
  });

  it('enforces values.schema.json with Helm message', async () => {
    const err = await render({ set: ['replicas=-1'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toContain("values don't meet the specifications of the schema(s) in the following chart(s):\nengine:\n- replicas:");
  });

  it('rejects malformed --set expressions and unknown functions (env is removed, as in Helm)', async () => {
    await expect(render({ set: ['a.b'] })).rejects.toThrow('key "a.b" has no value');
    await expect(render({ set: ['list[x]=1'] })).rejects.toThrow('bad list index');
    const dir = mkdtempSync(join(tmpdir(), 'hg-chart-'));
    try {
      mkdirSync(join(dir, 'templates'));
      writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: env\nversion: 0.0.1\n');
      writeFileSync(join(dir, 'templates', 'cm.yaml'), 'x: {{ env "HOME" }}\n');
      await expect(renderChart({ chart: dir })).rejects.toThrow('function "env" not defined');
      writeFileSync(join(dir, 'templates', 'cm.yaml'), 'a: [\n');
      await expect(renderChart({ chart: dir })).rejects.toThrow('YAML parse error on env/templates/cm.yaml');
      writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v1\nname: env\n');
      await expect(renderChart({ chart: dir })).rejects.toThrow('apiVersion must be v2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('building chart-render', () => {
  it('fails with a clear message when Go is missing (nothing is skipped)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'hg-chart-cache-'));
    try {
      const script = `import(${JSON.stringify(join(repoRoot, 'hack', 'dist', 'chart', 'render.js'))}).then((m) => m.buildRenderer())`;
      const err = await promisify(execFile)(process.execPath, ['-e', script], {
        env: { PATH: '/nonexistent', HYPERGEN_CHART_RENDER_CACHE: cache },
      }).catch((e: unknown) => e as { stderr: string });
      expect((err as { stderr: string }).stderr).toContain('chart-render needs Go to build: `go` is not on PATH');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
