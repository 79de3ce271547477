// Secret/ConfigMap volumes on the host: the files a volume projects, written as the kubelet's atomic writer does
// (`..data` symlink swap), and container paths mapped to the host folders that stand in for their mounts.
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JsonObject, asArray, asNumber, objectOr, objectsOf } from '../types.js';

/** Files of a Secret or ConfigMap volume: every key, or only the listed items (with their paths and modes). */
export function projectedFiles(source: JsonObject, obj: JsonObject | undefined, kind: 'secret' | 'configMap'): Map<string, { data: Buffer; mode?: number }> {
  const out = new Map<string, { data: Buffer; mode?: number }>();
  if (!obj) return out;
  const entries: Array<[string, Buffer]> =
    kind === 'secret'
      ? Object.entries(objectOr(obj.data)).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])
      : [
          ...Object.entries(objectOr(obj.data)).map(([k, v]): [string, Buffer] => [k, Buffer.from(String(v))]),
          ...Object.entries(objectOr(obj.binaryData)).map(([k, v]): [string, Buffer] => [k, Buffer.from(String(v), 'base64')]),
        ];
  const byKey = new Map(entries);
  const defaultMode = asNumber(source.defaultMode);
  if (asArray(source.items)?.length) {
    for (const it of objectsOf(source.items)) {
      const key = String(it.key);
      if (byKey.has(key)) out.set(String(it.path), { data: byKey.get(key)!, mode: asNumber(it.mode) ?? defaultMode });
    }
  } else for (const [k, v] of byKey) out.set(k, { data: v, mode: defaultMode });
  return out;
}

/**
 * Writes a Secret/ConfigMap volume the way the kubelet's atomic writer does: the data lives in a timestamped
 * directory, `..data` is a symlink to it, and each key is a symlink `KEY -> ..data/KEY`. An update writes a new
 * directory and renames a fresh `..data` link over the old one, so readers see either all old or all new files.
 */
export function writeAtomic(dir: string, files: Map<string, { data: Buffer; mode?: number }>): void {
  mkdirSync(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.hrtime.bigint()}`;
  const dataDir = join(dir, stamp);
  mkdirSync(dataDir);
  for (const [path, f] of files) {
    mkdirSync(join(dataDir, path, '..'), { recursive: true });
    writeFileSync(join(dataDir, path), f.data, { mode: f.mode ?? 0o644 });
  }
  const tmpLink = join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(stamp, tmpLink);
  renameSync(tmpLink, join(dir, '..data'));
  const top = new Set([...files.keys()].map((p) => p.split('/')[0]!));
  for (const name of top) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('..') && entry !== '..data' && entry !== stamp) rmSync(join(dir, entry), { recursive: true, force: true });
    else if (!entry.startsWith('..') && !top.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/** Rewrites absolute container paths (mount points) to the host folders that stand in for them, longest mount first. */
export function mapPath(value: string, mounts: ReadonlyArray<{ mountPath: string; hostPath: string }>): string {
  const sorted = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const m of sorted) {
    const mp = m.mountPath.replace(/\/+$/, '');
    if (value === mp || value.startsWith(`${mp}/`)) return m.hostPath + value.slice(mp.length);
    // --flag=/path forms
    const eq = value.indexOf('=');
    if (eq > 0) {
      const rest = value.slice(eq + 1);
      if (rest === mp || rest.startsWith(`${mp}/`)) return `${value.slice(0, eq + 1)}${m.hostPath}${rest.slice(mp.length)}`;
    }
  }
  return value;
}
