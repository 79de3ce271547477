// The Hub client's calls: a revision -> its commit and file listing with sizes and digests, resolve URLs, Hub errors
// as one line saying what to do, and the resolve answer's headers checked against the listing.
import { z } from 'zod';
import { PullError } from './errors.js';
import { httpGet, statusError } from './http.js';
import type { Expected } from './download.js';

// The Hugging Face Hub's HTTP API, as huggingface_hub uses it (hf_api.model_info with files_metadata, and
// file_download's resolve URLs whose 302 carries X-Repo-Commit, X-Linked-Etag and X-Linked-Size).

export interface HubConfig {
  endpoint: string;
  token?: string;
}

export interface RemoteFile extends Expected {
  path: string;
  size: number;
}

export interface RevisionInfo {
  commit: string;
  files: RemoteFile[];
}

const revisionSchema = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  siblings: z
    .array(
      z.object({
        rfilename: z.string(),
        size: z.number().int().nonnegative().optional(),
        blobId: z.string().optional(),
        lfs: z.object({ sha256: z.string(), size: z.number().int().nonnegative() }).nullish(),
      }),
    )
    .default([]),
});

export const TOKEN_HELP =
  'set HF_TOKEN (or point HF_TOKEN_FILE / --token-file at a file holding it); on Kubernetes, store the token in a Secret ' +
  "and reference it from the HyperGenModel's spec.source.tokenSecretRef";

/** Repository paths keep their '/', every segment escaped; revisions are escaped whole (refs/pr/1 -> refs%2Fpr%2F1). */
const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

export function resolveUrl(hub: HubConfig, repo: string, revision: string, path: string): string {
  return `${hub.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/** What a 4xx/5xx from the Hub means, in one line that tells the user what to do. */
export function describeHubError(response: Response, hub: HubConfig, repo: string, revision: string, file?: string): string {
  const code = response.headers.get('x-error-code') ?? '';
  const status = `HTTP ${response.status}${code ? ` ${code}` : ''}`;
  switch (response.status) {
    case 401:
    case 403:
      if (code === 'RepoNotFound') {
        return `${repo}: repository not found on ${hub.endpoint}, or it is private and needs a token (${status}): ${TOKEN_HELP}`;
      }
      return hub.token
        ? `${repo} is gated or private and the Hub refused the token given (${status}): check that the token's account has access (accept the model's conditions on its Hub page) and that the token has read permission`
        : `${repo} is gated or private (${status}): a Hugging Face token is needed: ${TOKEN_HELP}`;
    case 404:
      if (code === 'RevisionNotFound') return `revision '${revision}' not found in ${repo} on ${hub.endpoint} (${status})`;
      if (code === 'EntryNotFound' && file) return `file '${file}' not found in ${repo}@${revision} (${status})`;
      return `repository ${repo} not found on ${hub.endpoint} (${status})`;
    default:
      return `${repo}@${revision}${file ? ` ${file}` : ''}: the Hub answered ${status}`;
  }
}

/** The revision's commit and every file in it, with sizes and digests (GET /api/models/{repo}/revision/{rev}?blobs=true). */
export async function getRevision(hub: HubConfig, repo: string, revision: string, signal?: AbortSignal): Promise<RevisionInfo> {
  const url = `${hub.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const { response } = await httpGet(url, { token: hub.token, authOrigin: new URL(hub.endpoint).origin, headers: { accept: 'application/json' }, signal });
  if (!response.ok) throw await statusError(response, describeHubError(response, hub, repo, revision));
  const parsed = revisionSchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new PullError(`${repo}@${revision}: the Hub's file listing is not in the expected shape (${parsed.error.issues[0]?.message})`);
  return {
    commit: parsed.data.sha,
    files: parsed.data.siblings.map((s) => ({
      path: s.rfilename,
      size: s.lfs?.size ?? s.size ?? 0,
      ...(s.lfs ? { sha256: s.lfs.sha256.toLowerCase() } : s.blobId ? { gitOid: s.blobId } : {}),
    })),
  };
}

const unquote = (etag: string) => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

/**
 * Checks the Hub's answer on a resolve URL (the 302 to the CDN for LFS files, the 200 for small ones) against the
 * listing: same commit, same content digest, same size. A difference means the listing and the files disagree.
 */
export function checkResolveHeaders(response: Response, file: RemoteFile, commit: string, name: string): void {
  const served = response.headers.get('x-repo-commit');
  if (served && served !== commit) throw new PullError(`${name}: the Hub served commit ${served} while ${commit} was listed`);
  const etag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
  const digest = file.sha256 ?? file.gitOid;
  if (etag && digest && unquote(etag) !== digest) throw new PullError(`${name}: the Hub's ETag ${unquote(etag)} differs from the listed ${digest}`);
  const size = response.headers.get('x-linked-size');
  if (size && Number(size) !== file.size) throw new PullError(`${name}: the Hub announces ${size} bytes while ${file.size} were listed`);
}
