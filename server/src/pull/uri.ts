// MODEL argument -> ModelSource (hf://, pvc://, https:// archive, or a plain folder), the safe-relative-path check
// and each downloaded source's folder name in the cache. Pure: no I/O.
import { isAbsolute, join, normalize } from 'node:path';
import { PullError } from './errors.js';

/** Where a MODEL argument points. Plain folders and pvc:// are used in place; hf:// and archives are downloaded. */
export type ModelSource =
  | { kind: 'hf'; repo: string; revision: string; subfolder: string }
  | { kind: 'archive'; url: string; sha256?: string }
  | { kind: 'pvc'; claim: string; path: string }
  | { kind: 'path'; path: string };

const URI_SCHEME = /^(hf|pvc|https?):\/\//i;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isModelUri(model: string): boolean {
  return URI_SCHEME.test(model);
}

/** Default mount root of pvc://CLAIM/path: the operator mounts claim CLAIM at /models/CLAIM. */
export const DEFAULT_PVC_ROOT = '/models';

/** A repo-relative path that stays inside its folder (no absolute paths, no '..', no empty segments). */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || isAbsolute(path) || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/**
 * hf://org/name[@revision][/subfolder]. A revision holds no '/', except the Hub's refs/pr/N and refs/convert/X forms.
 */
function parseHf(model: string, rest: string): ModelSource {
  const match = /^([^/@]+)\/([^/@]+)(?:@(refs\/[^/]+\/[^/]+|[^/]+))?(?:\/(.*))?$/.exec(rest);
  if (!match || !NAME.test(match[1]!) || !NAME.test(match[2]!)) {
    throw new PullError(`'${model}' is not a valid Hub URI: expected hf://org/name[@revision][/subfolder]`);
  }
  let revision = match[3];
  let subfolder = (match[4] ?? '').replace(/\/+$/, '');
  // hf://org/name/subfolder@rev (a revision appended to a URI that has a subfolder) means the same.
  const trailing = /^(.*)@([^/@]+)$/.exec(subfolder);
  if (!revision && trailing) {
    subfolder = trailing[1]!;
    revision = trailing[2];
  }
  if (subfolder !== '' && !isSafeRelativePath(subfolder)) throw new PullError(`'${model}': subfolder '${subfolder}' is not a plain relative path`);
  return { kind: 'hf', repo: `${match[1]}/${match[2]}`, revision: revision ?? 'main', subfolder };
}

export function parseModelSource(model: string, pvcRoot = DEFAULT_PVC_ROOT): ModelSource {
  const scheme = URI_SCHEME.exec(model)?.[1]?.toLowerCase();
  const rest = model.slice((scheme?.length ?? 0) + 3);
  switch (scheme) {
    case 'hf':
      return parseHf(model, rest);
    case 'pvc': {
      const [claim = '', ...path] = rest.split('/').filter((s) => s !== '');
      if (!NAME.test(claim) || !path.every((s) => s !== '..')) throw new PullError(`'${model}' is not a valid PVC URI: expected pvc://claim[/path]`);
      return { kind: 'pvc', claim, path: join(pvcRoot, claim, ...path) };
    }
    case 'http':
    case 'https': {
      let url: URL;
      try {
        url = new URL(model);
      } catch {
        throw new PullError(`'${model}' is not a valid URL`);
      }
      if (!/\.(tar|tar\.gz|tgz)$/i.test(url.pathname)) throw new PullError(`'${model}': only .tar, .tar.gz and .tgz archives can be downloaded from a URL`);
      // An optional #sha256=HEX fragment pins the archive's content.
      const sha256 = /^#sha256=([0-9a-f]{64})$/i.exec(url.hash)?.[1]?.toLowerCase();
      if (url.hash !== '' && !sha256) throw new PullError(`'${model}': the only URL fragment understood is #sha256=<64 hex digits>`);
      url.hash = '';
      return { kind: 'archive', url: url.toString(), ...(sha256 ? { sha256 } : {}) };
    }
    default:
      return { kind: 'path', path: normalize(model) };
  }
}

/** A folder name for a source inside the cache directory: readable, and distinct for distinct sources. */
export function cacheKey(source: ModelSource): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  switch (source.kind) {
    case 'hf':
      return join('hf', clean(source.repo.replace('/', '--')), clean(source.revision), ...(source.subfolder ? [clean(source.subfolder)] : []));
    case 'archive': {
      const url = new URL(source.url);
      return join('url', clean(url.host), clean(url.pathname.replace(/^\//, '')) + (url.search ? clean(url.search) : ''));
    }
    default:
      throw new Error(`${source.kind} sources are used in place, not cached`);
  }
}
