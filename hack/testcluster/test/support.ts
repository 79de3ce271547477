// Shared helpers for the test API server's own tests: the Widget test CRD, client-node clients for a cluster, raw
// HTTPS requests (for headers and content types client-node hides) and polling.
import { request as httpsRequest } from 'node:https';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { TestCluster } from '../src/index.js';

/** API server JSON, read field by field in assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const WIDGET_GROUP = 'example.test';
export const WIDGET_VERSION = 'v1';
export const WIDGET_PLURAL = 'widgets';
export const WIDGET_API_VERSION = `${WIDGET_GROUP}/${WIDGET_VERSION}`;
export const WIDGETS_PATH = (ns: string) => `/apis/${WIDGET_GROUP}/${WIDGET_VERSION}/namespaces/${ns}/${WIDGET_PLURAL}`;

/**
 * The test CRD: example.test/v1 Widget, namespaced, with status and scale subresources, a default (spec.size=1),
 * a minimum (spec.replicas >= 0), a CEL rule (spec.size <= 100 with a message), a preserve-unknown-fields subtree
 * (spec.extra) and printer columns (Size, Replicas, Phase, Age).
 */
export function widgetCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${WIDGET_PLURAL}.${WIDGET_GROUP}` },
    spec: {
      group: WIDGET_GROUP,
      scope: 'Namespaced',
      names: { plural: WIDGET_PLURAL, singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] },
      versions: [
        {
          name: WIDGET_VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
          },
          additionalPrinterColumns: [
            { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  'x-kubernetes-validations': [{ rule: 'self.size <= 100', message: 'size must be at most 100' }],
                  properties: {
                    size: { type: 'integer', default: 1 },
                    replicas: { type: 'integer', minimum: 0 },
                    color: { type: 'string', enum: ['red', 'green', 'blue'] },
                    tags: { type: 'array', items: { type: 'string' } },
                    extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  },
                },
                status: {
                  type: 'object',
                  properties: {
                    phase: { type: 'string' },
                    replicas: { type: 'integer' },
                    selector: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

/** A Widget object (apiVersion/kind filled in). */
export function widget(name: string, spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: WIDGET_API_VERSION, kind: 'Widget', metadata: { name }, spec, ...extra };
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

/** client-node clients for a cluster, through its kubeconfig file (HTTPS, token auth). */
export function clients(c: TestCluster): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the body parsed as JSON (undefined when it is not JSON) */
  body: Json;
}

/** One HTTPS request to the cluster with its CA and token; body objects are sent as JSON. */
export function raw(
  c: TestCluster,
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; accept?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const data = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const u = new URL(path, c.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        method,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        ca: c.caCert,
        headers: {
          authorization: `Bearer ${c.token}`,
          accept: opts.accept ?? 'application/json',
          'user-agent': 'testcluster-raw',
          ...(data !== undefined ? { 'content-type': opts.contentType ?? 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** Installs the Widget CRD through the API and waits until widgets are served. */
export async function installWidgetCrd(c: TestCluster): Promise<void> {
  const r = await raw(c, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: widgetCrd() });
  if (r.status !== 201) throw new Error(`creating the Widget CRD: ${r.status} ${r.text}`);
  await waitFor(async () => (await raw(c, 'GET', WIDGETS_PATH('default'))).status === 200, 'widgets to be served');
}

/** Polls until `check` returns something truthy; fails with `what` after `timeoutMs` (a hang guard, not a speed test). */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 15000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The rejection of a client-node call (an ApiException with .code and .body), or fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<{ code: number; body: Json }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    return { code: err.code ?? 0, body };
  }
  throw new Error('expected the request to fail');
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
