// Seam: API keys. Gateway keys come from a file (one per line, re-read when it changes: a mounted Secret rotates in
// place); a model's keys from its Secret, read through the API on demand and cached briefly. Keys are compared in
// constant time and never logged or put in an error message.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isNotFound, resourcePath, Types, type KubeClient } from '../kube/client.js';

/** One key per line; blank lines and # comments ignored (the server's key file format). */
export function parseKeys(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant-time membership (hashes first, so lengths do not leak either). */
export function keyMatches(candidate: string, keys: readonly string[]): boolean {
  const c = digest(candidate);
  let found = false;
  for (const k of keys) found = timingSafeEqual(c, digest(k)) || found;
  return found;
}

export interface SecretKeys {
  /** The keys in a Secret's data key; empty when the Secret or key does not exist. */
  keys(namespace: string, name: string, key: string): Promise<string[]>;
}

export class KubeSecretKeys implements SecretKeys {
  private readonly cache = new Map<string, { at: number; keys: Promise<string[]> }>();

  constructor(
    private readonly client: KubeClient,
    private readonly ttlMs = 10_000,
    private readonly now = () => Date.now(),
  ) {}

  keys(namespace: string, name: string, key: string): Promise<string[]> {
    const id = `${namespace}/${name}/${key}`;
    const hit = this.cache.get(id);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.keys;
    const keys = this.client.request<{ data?: Record<string, string> }>('GET', resourcePath(Types.Secret, namespace, name)).then(
      (s) => parseKeys(Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8')),
      (err: unknown) => {
        if (isNotFound(err)) return [];
        this.cache.delete(id); // a failed read is not remembered
        throw err;
      },
    );
    this.cache.set(id, { at: this.now(), keys });
    return keys;
  }
}

/** Gateway keys from a file, re-read when its mtime or size changes; none configured: no gateway keys. */
export class FileKeys {
  private seen?: { mtimeMs: number; size: number; keys: string[] };

  constructor(private readonly path: string | undefined) {}

  async keys(): Promise<string[]> {
    if (!this.path) return [];
    const s = await stat(this.path);
    if (!this.seen || this.seen.mtimeMs !== s.mtimeMs || this.seen.size !== s.size) {
      this.seen = { mtimeMs: s.mtimeMs, size: s.size, keys: parseKeys(await readFile(this.path, 'utf8')) };
    }
    return this.seen.keys;
  }
}
