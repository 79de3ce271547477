// The chart's CRD templates are generated from crds/ (the one source of truth): `make manifests` writes them,
// and a test fails when they drift.
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { chartDir, repoRoot } from './render.js';

export const crdSourceDir = join(repoRoot, 'crds');
export const crdTemplateDir = join(chartDir, 'templates', 'crds');

/**
 * The chart template for one CRD file: rendered only when crds.install is true, and annotated
 * helm.sh/resource-policy: keep so that `helm uninstall` never deletes the CRD (and every HyperGenModel with it)
 * while `helm upgrade` still updates it (Helm never upgrades files in a chart's crds/ folder).
 */
export function crdTemplate(sourceName: string, source: string): string {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) throw new Error(`crds/${sourceName}: ${doc.errors[0]!.message}`);
  if (doc.get('kind') !== 'CustomResourceDefinition') throw new Error(`crds/${sourceName}: not a CustomResourceDefinition`);
  doc.setIn(['metadata', 'annotations', 'helm.sh/resource-policy'], 'keep');
  // Template actions in descriptions or CEL rules must reach the output literally.
  const body = doc.toString({ lineWidth: 0 }).replaceAll('{{', '{{ "{{" }}');
  return (
    `{{- /* Generated from crds/${sourceName} by \`make manifests\`; do not edit. */}}\n` +
    `{{- if .Values.crds.install }}\n${body}{{- end }}\n`
  );
}

/** Every generated template, keyed by file name under templates/crds/. */
export function expectedCrdTemplates(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(crdSourceDir).filter((n) => n.endsWith('.yaml')).sort()) {
    out.set(f, crdTemplate(f, readFileSync(join(crdSourceDir, f), 'utf8')));
  }
  return out;
}

/** Rewrites templates/crds/ from crds/ (removing templates whose source is gone). */
export function syncCrdTemplates(): string[] {
  const expected = expectedCrdTemplates();
  rmSync(crdTemplateDir, { recursive: true, force: true });
  mkdirSync(crdTemplateDir, { recursive: true });
  for (const [name, text] of expected) writeFileSync(join(crdTemplateDir, name), text);
  return [...expected.keys()];
}
