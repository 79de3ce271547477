// A thin JSON REST client over client-node's KubeConfig (auth, TLS). Plain JSON in and out, the same shape the
// informers' watch events carry, so cached and freshly written objects compare alike.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409;
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | undefined>;
}

/** Called once per write request (not reads): metrics count them, tests and benches can too. */
export type WriteObserver = (method: string, path: string, code: number) => void;

export class KubeClient {
  private readonly server: URL;
  private agent?: http.Agent;

  constructor(
    private readonly kc: KubeConfig,
    private readonly onWrite?: WriteObserver,
    private readonly userAgent = 'hypergen-operator',
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const secure = this.server.protocol === 'https:';
    // One keep-alive agent for the process, TLS material from the kubeconfig (client-node makes one per call).
    this.agent ??= secure
      ? new https.Agent({
          keepAlive: true,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          rejectUnauthorized: !this.kc.getCurrentCluster()?.skipTLSVerify,
          servername: this.kc.getCurrentCluster()?.tlsServerName,
        })
      : new http.Agent({ keepAlive: true });
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    // managedFields name the operator as the manager of what it writes.
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') url.searchParams.set('fieldManager', this.userAgent);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const { code, text } = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    if (method !== 'GET') this.onWrite?.(method, url.pathname, code);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (code < 200 || code >= 300) {
      const status = (parsed ?? {}) as { reason?: string; message?: string };
      // Status messages describe the request, never Secret contents; keep them short anyway.
      throw new ApiError(code, status.reason ?? 'Unknown', `${method} ${url.pathname}: ${code} ${status.message ?? text.slice(0, 200)}`);
    }
    return parsed as T;
  }

  close(): void {
    this.agent?.destroy();
  }
}

/** REST paths of the kinds the operator touches. */
export interface ResourceType {
  kind: string;
  group: string;
  version: string;
  plural: string;
}

export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = namespace ? `/namespaces/${namespace}` : '';
  return `${base}${ns}/${type.plural}${name ? `/${name}` : ''}${subresource ? `/${subresource}` : ''}`;
}

export const Types = {
  HyperGenModel: { kind: 'HyperGenModel', group: 'hypergen.io', version: 'v1alpha1', plural: 'hypergenmodels' },
  Secret: { kind: 'Secret', group: '', version: 'v1', plural: 'secrets' },
  PersistentVolumeClaim: { kind: 'PersistentVolumeClaim', group: '', version: 'v1', plural: 'persistentvolumeclaims' },
  Deployment: { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments' },
  Service: { kind: 'Service', group: '', version: 'v1', plural: 'services' },
  Ingress: { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses' },
  Pod: { kind: 'Pod', group: '', version: 'v1', plural: 'pods' },
  Event: { kind: 'Event', group: '', version: 'v1', plural: 'events' },
  Lease: { kind: 'Lease', group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
} as const satisfies Record<string, ResourceType>;
