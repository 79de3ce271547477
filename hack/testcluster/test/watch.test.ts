// The test API server's watch semantics, checked through real client-node informers and watches (and raw HTTPS where
// framing and headers matter) against what kube-apiserver v1.32 and its watch cache do. One `it` per behaviour.
/* eslint-disable @typescript-eslint/no-explicit-any -- watch events and API bodies are read as untyped JSON */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ListWatch, PatchStrategy, Watch, makeInformer, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from '../src/index.js';
import { WIDGETS_PATH, WIDGET_GROUP, WIDGET_PLURAL, WIDGET_VERSION, type Clients, clients, installWidgetCrd, raw, waitFor, widget } from './support.js';

interface WatchEvent {
  type: string;
  object: any;
}

/** A watch read straight off the socket: status and headers as sent, every line, and how the stream ended. */
interface RawWatch {
  status: number;
  headers: IncomingHttpHeaders;
  /** every byte of the body so far */
  text(): string;
  events: WatchEvent[];
  /** once over, how: 'end' (the server finished the chunked body) or 'reset' (the connection broke off) */
  endedAs?: 'end' | 'reset';
  close(): void;
}

const CM_PATH = (ns: string) => `/api/v1/namespaces/${ns}/configmaps`;
const merge = PatchStrategy.MergePatch;

describe('test API server: watch', () => {
  let c: TestCluster;
  let k: Clients;
  const streams = new Set<RawWatch>();
  const informers = new Set<{ stop(): Promise<void> }>();

  beforeAll(async () => {
    c = await startTestCluster({
      bookmarkIntervalMs: 200,
      namespaces: ['w-inf', 'w-hist', 'w-book', 'w-timeout', 'w-compact', 'w-relist', 'w-drop', 'w-sel', 'w-raw', 'w-ns1', 'w-ns2', 'w-crd', 'w-list', 'w-ahead', 'w-one', 'w-table'],
    });
    k = clients(c);
    await installWidgetCrd(c);
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    for (const i of informers) await i.stop();
    await c.stop();
  });

  /** Opens a watch over raw HTTPS; resolves as soon as the status line and headers arrive. */
  function rawWatch(path: string, on: TestCluster = c, accept = 'application/json'): Promise<RawWatch> {
    const u = new URL(path, on.url);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { hostname: u.hostname, port: u.port, path: u.pathname + u.search, ca: on.caCert, agent: false, headers: { authorization: `Bearer ${on.token}`, accept } },
        (res) => {
          let all = '';
          let pending = '';
          const events: WatchEvent[] = [];
          res.setEncoding('utf8');
          res.on('data', (s: string) => {
            all += s;
            pending += s;
            for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
              const line = pending.slice(0, i);
              pending = pending.slice(i + 1);
              try {
                events.push(JSON.parse(line));
              } catch {
                events.push({ type: 'UNPARSEABLE', object: line });
              }
            }
          });
          const w: RawWatch = { status: res.statusCode ?? 0, headers: res.headers, text: () => all, events, close: () => req.destroy() };
          const settle = (how: 'end' | 'reset') => {
            w.endedAs ??= how;
            streams.delete(w);
          };
          res.on('end', () => settle('end'));
          res.on('error', () => settle('reset'));
          res.on('close', () => settle(res.complete ? 'end' : 'reset'));
          streams.add(w);
          resolve(w);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const ended = (w: RawWatch) => waitFor(() => w.endedAs, 'the watch stream to end');
  const listRv = async (path: string): Promise<string> => (await raw(c, 'GET', path)).body.metadata.resourceVersion;
  const createCm = async (ns: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Promise<V1ConfigMap> =>
    k.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, ...(labels ? { labels } : {}) }, data } });
  const patchCm = async (ns: string, name: string, body: unknown): Promise<any> => {
    const r = await raw(c, 'PATCH', `${CM_PATH(ns)}/${name}`, { contentType: merge, body });
    if (r.status !== 200) throw new Error(`patch ${ns}/${name}: ${r.status} ${r.text}`);
    return r.body;
  };
  const deleteCm = async (ns: string, name: string): Promise<void> => {
    const r = await raw(c, 'DELETE', `${CM_PATH(ns)}/${name}`);
    if (r.status !== 200) throw new Error(`delete ${ns}/${name}: ${r.status} ${r.text}`);
  };
  const brief = (e: WatchEvent) => `${e.type} ${e.object?.metadata?.namespace ? `${e.object.metadata.namespace}/` : ''}${e.object?.metadata?.name ?? ''}`;
  const rvOf = (o: any) => Number(o.metadata.resourceVersion);

  /** A client-node informer, logging "verb name data" per callback; errors go to `errors`. */
  function informer<T extends KubernetesObject>(path: string, list: () => Promise<any>, describeObj: (o: T) => string) {
    // makeInformer builds a ListWatch; its type hides latestResourceVersion, which the reconnect checks compare.
    const inf = makeInformer<T>(k.kc, path, list) as unknown as ListWatch<T>;
    const log: string[] = [];
    const errors: unknown[] = [];
    inf.on('add', (o) => log.push(`add ${describeObj(o)}`));
    inf.on('update', (o) => log.push(`update ${describeObj(o)}`));
    inf.on('delete', (o) => log.push(`delete ${describeObj(o)}`));
    inf.on('error', (e) => errors.push(e));
    informers.add(inf);
    return { inf, log, errors };
  }
  const cmInformer = (ns: string) => informer<V1ConfigMap>(CM_PATH(ns), () => k.core.listNamespacedConfigMap({ namespace: ns }), (o) => `${o.metadata!.name} ${JSON.stringify(o.data ?? {})}`);

  it('informers (makeInformer) on ConfigMaps and on a custom resource fire add, update and delete in order', async () => {
    const ns = 'w-inf';
    await createCm(ns, 'before', { v: '0' });
    const cms = cmInformer(ns);
    await cms.inf.start();
    await waitFor(() => cms.log.length >= 1, 'the initial list');
    await createCm(ns, 'a', { v: '1' });
    await patchCm(ns, 'a', { data: { v: '2' } });
    await deleteCm(ns, 'a');
    await waitFor(() => cms.log.some((l) => l.startsWith('delete')), 'the ConfigMap deletion');
    expect(cms.log).toEqual(['add before {"v":"0"}', 'add a {"v":"1"}', 'update a {"v":"2"}', 'delete a {"v":"2"}']);

    const wpath = WIDGETS_PATH(ns);
    const W = { group: WIDGET_GROUP, version: WIDGET_VERSION, plural: WIDGET_PLURAL, namespace: ns };
    await k.custom.createNamespacedCustomObject({ ...W, body: widget('w0', { size: 5 }) });
    const ws = informer<any>(wpath, () => k.custom.listNamespacedCustomObject(W), (o) => `${o.metadata.name} ${o.spec.size}`);
    await ws.inf.start();
    await waitFor(() => ws.log.length >= 1, 'the initial widget list');
    await k.custom.createNamespacedCustomObject({ ...W, body: widget('w1') });
    expect((await raw(c, 'PATCH', `${wpath}/w1`, { contentType: merge, body: { spec: { size: 7 } } })).status).toBe(200);
    // A status write is a change too (MODIFIED), though spec and generation stay.
    expect((await raw(c, 'PATCH', `${wpath}/w1/status`, { contentType: merge, body: { status: { phase: 'Ready' } } })).status).toBe(200);
    expect((await raw(c, 'DELETE', `${wpath}/w1`)).status).toBe(200);
    await waitFor(() => ws.log.some((l) => l.startsWith('delete')), 'the widget deletion');
    expect(ws.log).toEqual(['add w0 5', 'add w1 1', 'update w1 7', 'update w1 7', 'delete w1 7']);
    expect(ws.inf.get('w1', ns)).toBeUndefined();
    expect(ws.inf.list(ns).map((o) => o.metadata.name)).toEqual(['w0']);
    expect([...cms.errors, ...ws.errors]).toEqual([]);
    await cms.inf.stop();
    await ws.inf.stop();
  });

  it('a watch from a list resourceVersion replays every change since, in order; rv=0 or none starts with synthetic ADDED', async () => {
    const ns = 'w-hist';
    const path = CM_PATH(ns);
    const rv0 = await listRv(path);
    const a1 = await createCm(ns, 'a', { v: '1' });
    const a2 = await patchCm(ns, 'a', { data: { v: '2' } });
    const b1 = await createCm(ns, 'b', { v: '1' });
    await deleteCm(ns, 'a');
    const b2 = await patchCm(ns, 'b', { data: { v: '2' } });

    const w = await rawWatch(`${path}?watch=true&resourceVersion=${rv0}`);
    await waitFor(() => w.events.length >= 5, 'the replayed history');
    expect(w.events.map(brief)).toEqual([`ADDED ${ns}/a`, `MODIFIED ${ns}/a`, `ADDED ${ns}/b`, `DELETED ${ns}/a`, `MODIFIED ${ns}/b`]);
    expect(w.events.map((e) => e.object.data.v)).toEqual(['1', '2', '1', '2', '2']);
    const rvs = w.events.map((e) => rvOf(e.object));
    expect([rvs[0], rvs[1], rvs[2], rvs[4]]).toEqual([rvOf(a1), rvOf(a2), rvOf(b1), rvOf(b2)]);
    expect(rvs[3]).toBeGreaterThan(rvs[2]!);
    expect(rvs[3]).toBeLessThan(rvs[4]!);
    // ... and then goes on live.
    await patchCm(ns, 'b', { data: { v: '3' } });
    await waitFor(() => w.events.length >= 6, 'the live event');
    expect(brief(w.events[5]!)).toBe(`MODIFIED ${ns}/b`);
    w.close();

    for (const rvParam of ['&resourceVersion=0', '']) {
      const s = await rawWatch(`${path}?watch=true${rvParam}`);
      await createCm(ns, `after${rvParam ? '0' : 'none'}`, { v: 'x' });
      await waitFor(() => s.events.length >= 2, 'the synthetic and the live event');
      // Only objects that exist now, as ADDED with their current state; deleted ones (a) never show up.
      expect(s.events.map(brief)).toEqual([`ADDED ${ns}/b`, `ADDED ${ns}/after${rvParam ? '0' : 'none'}`]);
      expect(s.events[0]!.object.data).toEqual({ v: '3' });
      s.close();
      if (!rvParam) continue;
      await deleteCm(ns, 'after0');
    }
  });

  it('a watch from a resourceVersion ahead of the server sends only the changes after that version', async () => {
    const ns = 'w-ahead';
    const path = CM_PATH(ns);
    const ahead = c.api.store.currentRv() + 3;
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${ahead}`);
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push(rvOf(await createCm(ns, `ahead${i}`, { v: '1' })));
    const expected = written.filter((rv) => rv > ahead);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(written.length);
    await createCm(ns, 'ahead-last', { v: '1' });
    await waitFor(() => w.events.some((e) => e.object.metadata.name === 'ahead-last'), 'the last event');
    // As the cache watcher: events at or before the requested version are not sent, later ones are.
    expect(w.events.map((e) => rvOf(e.object)).slice(0, -1)).toEqual(expected);
    w.close();
  });

  it('allowWatchBookmarks=true yields BOOKMARK events with the current resourceVersion; without it none come', async () => {
    const ns = 'w-book';
    const path = CM_PATH(ns);
    const x = await createCm(ns, 'x', { v: '1' });
    const rv = await listRv(path);
    const withBm = await rawWatch(`${path}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`);
    const without = await rawWatch(`${path}?watch=true&resourceVersion=${rv}`);
    const bookmarks = () => withBm.events.filter((e) => e.type === 'BOOKMARK');
    await waitFor(() => bookmarks().length >= 1, 'a bookmark');
    const first = bookmarks()[0]!;
    // A bookmark carries only the kind and a resourceVersion (an otherwise empty object of the watched type).
    expect(first.object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: expect.any(String) } });
    expect(first.object.data).toBeUndefined();
    expect(first.object.metadata.name).toBeUndefined();
    expect(rvOf(first.object)).toBeGreaterThanOrEqual(rvOf(x));
    expect(rvOf(first.object)).toBeLessThanOrEqual(c.api.store.currentRv());

    const changed = await patchCm(ns, 'x', { data: { v: '2' } });
    const seenBefore = withBm.events.length;
    await waitFor(() => withBm.events.slice(seenBefore).some((e) => e.type === 'BOOKMARK' && rvOf(e.object) >= rvOf(changed)), 'a bookmark past the change');
    // Bookmark resourceVersions never go back, and events keep their order around them.
    const bmRvs = bookmarks().map((e) => rvOf(e.object));
    expect([...bmRvs].sort((p, q) => p - q)).toEqual(bmRvs);
    expect(withBm.events.filter((e) => e.type !== 'BOOKMARK').map(brief)).toEqual([`MODIFIED ${ns}/x`]);
    await waitFor(() => without.events.length >= 1, 'the change on the watch without bookmarks');
    expect(without.events.map(brief)).toEqual([`MODIFIED ${ns}/x`]);
    withBm.close();
    without.close();
  });

  it('rv 0/unset watches start with the current state; watch-lists are not served (422 as with WatchList off)', async () => {
    const ns = 'w-list';
    const path = CM_PATH(ns);
    await createCm(ns, 'p', { v: '1' });
    await createCm(ns, 'q', { v: '1' });
    for (const query of ['allowWatchBookmarks=true', 'allowWatchBookmarks=true&resourceVersion=0']) {
      const w = await rawWatch(`${path}?watch=true&${query}`);
      await waitFor(() => w.events.length >= 2, `the initial events (${query})`);
      expect(w.events.slice(0, 2).map(brief)).toEqual([`ADDED ${ns}/p`, `ADDED ${ns}/q`]);
      w.close();
    }

    const invalid = async (query: string, message: string) => {
      const w = await rawWatch(`${path}?watch=true&${query}`);
      await ended(w);
      expect({ query, status: w.status }).toEqual({ query, status: 422 });
      expect(JSON.parse(w.text())).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid', message: `ListOptions.meta.k8s.io "" is invalid: ${message}`, details: { group: 'meta.k8s.io', kind: 'ListOptions' } });
    };
    const gateOff = 'sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled';
    await invalid('sendInitialEvents=true&resourceVersionMatch=NotOlderThan', gateOff);
    await invalid('sendInitialEvents=true', `[resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, ${gateOff}]`);
    await invalid('resourceVersion=5&resourceVersionMatch=NotOlderThan', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
  });

  it('timeoutSeconds ends the watch stream cleanly', async () => {
    const ns = 'w-timeout';
    const path = CM_PATH(ns);
    const w = await rawWatch(`${path}?watch=true&timeoutSeconds=1`);
    expect(w.status).toBe(200);
    expect(await ended(w)).toBe('end');
    expect(w.events).toEqual([]);
    // client-node sees a normal end too (done without an error).
    const done = await new Promise<unknown>((resolve) => void new Watch(k.kc).watch(path, { timeoutSeconds: 1 }, () => {}, resolve));
    expect(done ?? null).toBeNull();
    // timeoutSeconds=0 is no timeout of the client's: the server's default applies, the watch stays open.
    const open = await rawWatch(`${path}?watch=true&timeoutSeconds=0`);
    await createCm(ns, 'still-open', { v: '1' });
    await waitFor(() => open.events.length >= 1 || open.endedAs, 'the event on the watch with timeoutSeconds=0');
    expect(open.endedAs).toBeUndefined();
    expect(open.events.map(brief)).toEqual([`ADDED ${ns}/still-open`]);
    open.close();
    // With bookmarks, the cache watcher sends one 2 s before the deadline, so that clients resume from a fresh version.
    const slow = await startTestCluster(); // periodic bookmarks every 5 s: only the pre-deadline one fits in 3 s
    try {
      const rv = (await raw(slow, 'GET', CM_PATH('default'))).body.metadata.resourceVersion;
      const b = await rawWatch(`${CM_PATH('default')}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=3`, slow);
      expect(await ended(b)).toBe('end');
      expect(b.events.map((e) => e.type)).toEqual(['BOOKMARK']);
      expect(rvOf(b.events[0]!.object)).toBe(slow.api.store.currentRv());
    } finally {
      await slow.stop();
    }
  });

  it('after compact(), a watch from an older resourceVersion gets an in-stream 410 Expired; a fresh list stays watchable', async () => {
    const ns = 'w-compact';
    const path = CM_PATH(ns);
    const old = await listRv(path);
    await createCm(ns, 'a', { v: '1' });
    await createCm(ns, 'b', { v: '1' });
    c.compact();
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${old}`);
    // kube-apiserver answers 200 and sends the error as the one event of the stream, which then ends.
    expect(w.status).toBe(200);
    expect(await ended(w)).toBe('end');
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired' } });
    expect(w.events[0]!.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);

    const fresh = await listRv(path);
    const f = await rawWatch(`${path}?watch=true&resourceVersion=${fresh}`);
    await createCm(ns, 'c', { v: '1' });
    await waitFor(() => f.events.length >= 1, 'the event after compaction');
    expect(f.events.map(brief)).toEqual([`ADDED ${ns}/c`]);
    f.close();
  });

  it('historyLimit compacts automatically: older resourceVersions expire, recent ones still replay', async () => {
    const small = await startTestCluster({ historyLimit: 10 });
    try {
      const path = CM_PATH('default');
      const rv0 = (await raw(small, 'GET', path)).body.metadata.resourceVersion;
      const rvs: string[] = [];
      for (let i = 0; i < 30; i++) rvs.push((await raw(small, 'POST', path, { body: { metadata: { name: `h${i}` } } })).body.metadata.resourceVersion);
      const old = await rawWatch(`${path}?watch=true&resourceVersion=${rv0}`, small);
      expect(await ended(old)).toBe('end');
      expect(old.events).toHaveLength(1);
      expect(old.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
      const recent = await rawWatch(`${path}?watch=true&resourceVersion=${rvs[26]}`, small);
      await waitFor(() => recent.events.length >= 3, 'the recent history');
      expect(recent.events.map(brief)).toEqual(['ADDED default/h27', 'ADDED default/h28', 'ADDED default/h29']);
      recent.close();
    } finally {
      await small.stop();
    }
  });

  it('an informer relists after a 410 and sees the changes made meanwhile', async () => {
    const ns = 'w-relist';
    for (const n of ['keep', 'upd', 'gone']) await createCm(ns, n, { v: '1' });
    const { inf, log } = cmInformer(ns);
    await inf.start();
    await waitFor(() => log.length >= 3, 'the initial list');
    await inf.stop();
    const lastRv = inf.latestResourceVersion();
    await createCm(ns, 'added', { v: '1' });
    await patchCm(ns, 'upd', { data: { v: '2' } });
    await deleteCm(ns, 'gone');
    c.compact();
    const lists = () => c.requests({ verb: 'list', resource: 'configmaps', namespace: ns }).length;
    const listsBefore = lists();
    log.length = 0;
    await inf.start();
    await waitFor(() => log.length >= 3, 'the relist');
    // The watch from the old resourceVersion got 410 Expired; the relist deletes what vanished and adds what is new.
    expect(c.requests({ verb: 'watch', resource: 'configmaps', namespace: ns }).some((r) => r.query.resourceVersion === lastRv)).toBe(true);
    expect(lists()).toBe(listsBefore + 1);
    expect(log).toEqual(['delete gone {"v":"1"}', 'add added {"v":"1"}', 'update upd {"v":"2"}']);
    expect(inf.list(ns).map((o) => o.metadata!.name).sort()).toEqual(['added', 'keep', 'upd']);
    await inf.stop();
  });

  it('an informer reconnects after dropWatches() (graceful and abrupt) and misses nothing', async () => {
    const ns = 'w-drop';
    const cmDef = c.api.registry.find('', 'v1', 'configmaps')!;
    const write = (name: string) => c.api.create(cmDef, ns, { metadata: { name }, data: { v: '1' } }, { fieldManager: 'watch-test' });
    await createCm(ns, 'a', { v: '1' });
    const { inf, log, errors } = cmInformer(ns);
    let stopping = false;
    // client-node's informer stops on a broken connection; like the operator, restart it (from its last version).
    inf.on('error', () => void (stopping || setImmediate(() => void inf.start())));
    await inf.start();
    await waitFor(() => log.length >= 1, 'the initial list');
    const lists = () => c.requests({ verb: 'list', resource: 'configmaps', namespace: ns }).length;
    const listsBefore = lists();
    const watches = () => c.requests({ verb: 'watch', resource: 'configmaps', namespace: ns });

    const seen = inf.latestResourceVersion();
    const rawGraceful = await rawWatch(`${CM_PATH(ns)}?watch=true&resourceVersion=${seen}`);
    expect(c.dropWatches()).toBeGreaterThanOrEqual(2);
    // Written before the client can reconnect (same turn of the event loop).
    write('graceful');
    await waitFor(() => log.includes('add graceful {"v":"1"}'), 'the change made while reconnecting (graceful)');
    expect(watches().at(-1)!.query.resourceVersion).toBe(seen);
    // A graceful drop ends the stream (the informer saw no error, it just watched again).
    expect(await ended(rawGraceful)).toBe('end');
    expect(errors).toEqual([]);

    const seen2 = inf.latestResourceVersion();
    const rawAbrupt = await rawWatch(`${CM_PATH(ns)}?watch=true&resourceVersion=${seen2}`);
    expect(c.dropWatches({ abrupt: true })).toBeGreaterThanOrEqual(2);
    write('abrupt');
    await waitFor(() => log.includes('add abrupt {"v":"1"}'), 'the change made while reconnecting (abrupt)');
    expect(watches().at(-1)!.query.resourceVersion).toBe(seen2);

    // Resumed from the last resourceVersion both times: no relist, nothing missed, nothing twice.
    expect(lists()).toBe(listsBefore);
    expect(log).toEqual(['add a {"v":"1"}', 'add graceful {"v":"1"}', 'add abrupt {"v":"1"}']);
    // An abrupt drop breaks the connection: the informer reported it once (and was restarted).
    expect(await ended(rawAbrupt)).toBe('reset');
    expect(errors).toHaveLength(1);
    stopping = true;
    await inf.stop();
  });

  it('label and field selectors filter watches as the watch cache does: in is ADDED, out is DELETED, no-ops are silent', async () => {
    const ns = 'w-sel';
    const path = CM_PATH(ns);
    const rv = await listRv(path);
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${rv}&labelSelector=${encodeURIComponent('app=web')}`);
    await createCm(ns, 'm', { v: '1' }, { app: 'api' });
    const into = await patchCm(ns, 'm', { metadata: { labels: { app: 'web' } } });
    const mod = await patchCm(ns, 'm', { data: { v: '2' } });
    const noop = await patchCm(ns, 'm', { data: { v: '2' } });
    expect(noop.metadata.resourceVersion).toBe(mod.metadata.resourceVersion);
    const out = await patchCm(ns, 'm', { metadata: { labels: { app: 'db' } } });
    await patchCm(ns, 'm', { data: { v: '3' } });
    await createCm(ns, 'n', { v: '1' }, { app: 'web' });
    await waitFor(() => w.events.length >= 4, 'the filtered events');
    expect(w.events.map(brief)).toEqual([`ADDED ${ns}/m`, `MODIFIED ${ns}/m`, `DELETED ${ns}/m`, `ADDED ${ns}/n`]);
    expect(rvOf(w.events[0]!.object)).toBe(rvOf(into));
    expect(rvOf(w.events[1]!.object)).toBe(rvOf(mod));
    // Leaving the selector: the object as it was before (still matching) with the resourceVersion of the change.
    expect(w.events[2]!.object.metadata.labels).toEqual({ app: 'web' });
    expect(rvOf(w.events[2]!.object)).toBe(rvOf(out));

    // A field selector whose field changes: pods by status.phase.
    const podsPath = `/api/v1/namespaces/${ns}/pods`;
    const prv = await listRv(podsPath);
    const pw = await rawWatch(`${podsPath}?watch=true&resourceVersion=${prv}&fieldSelector=${encodeURIComponent('status.phase=Running')}`);
    const named = await rawWatch(`${podsPath}?watch=true&resourceVersion=${prv}&fieldSelector=${encodeURIComponent('metadata.name=p2')}`);
    const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'registry.test/c:1' }] } });
    for (const n of ['p1', 'p2']) expect((await raw(c, 'POST', podsPath, { body: pod(n) })).status).toBe(201);
    const phase = async (name: string, p: string) => {
      const r = await raw(c, 'PATCH', `${podsPath}/${name}/status`, { contentType: merge, body: { status: { phase: p } } });
      expect(r.status).toBe(200);
      return r.body;
    };
    const running = await phase('p1', 'Running');
    const done = await phase('p1', 'Succeeded');
    await phase('p2', 'Running');
    await waitFor(() => pw.events.length >= 3, 'the phase events');
    expect(pw.events.map((e) => `${brief(e)} ${e.object.status.phase}`)).toEqual([`ADDED ${ns}/p1 Running`, `DELETED ${ns}/p1 Running`, `ADDED ${ns}/p2 Running`]);
    expect(rvOf(pw.events[0]!.object)).toBe(rvOf(running));
    expect(rvOf(pw.events[1]!.object)).toBe(rvOf(done));
    await waitFor(() => named.events.length >= 2, 'the events of p2');
    expect(named.events.map((e) => `${brief(e)} ${e.object.status.phase}`)).toEqual([`ADDED ${ns}/p2 Pending`, `MODIFIED ${ns}/p2 Running`]);
    for (const s of [w, pw, named]) s.close();
  });

  it('watch headers are flushed at once, as application/json, with one JSON event per line', async () => {
    const ns = 'w-raw';
    const path = CM_PATH(ns);
    const rv = await listRv(path);
    const openBefore = c.openWatches();
    // Nothing happens after rv, so the response can only have arrived because the headers were flushed.
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${rv}`);
    expect(w.status).toBe(200);
    expect(w.text()).toBe('');
    expect(w.headers['content-type']).toBe('application/json');
    expect(w.headers['transfer-encoding']).toBe('chunked');
    // The legacy /watch/ path is the same stream.
    const legacy = await rawWatch(`/api/v1/watch/namespaces/${ns}/configmaps?resourceVersion=${rv}`);
    expect(legacy.status).toBe(200);
    expect(legacy.headers['content-type']).toBe('application/json');
    expect(c.openWatches()).toBe(openBefore + 2);
    await createCm(ns, 'one', { text: 'line\nbreak' });
    await patchCm(ns, 'one', { data: { more: '{"json":true}' } });
    for (const s of [w, legacy]) {
      await waitFor(() => s.events.length >= 2, 'two events');
      const lines = s.text().split('\n');
      expect(lines.at(-1)).toBe('');
      expect(lines).toHaveLength(3);
      for (const l of lines.slice(0, -1)) expect(Object.keys(JSON.parse(l)).sort()).toEqual(['object', 'type']);
      expect(s.events.map(brief)).toEqual([`ADDED ${ns}/one`, `MODIFIED ${ns}/one`]);
      expect(s.events[0]!.object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', data: { text: 'line\nbreak' } });
      s.close();
    }
    // The server lets go of watches whose clients went away.
    await waitFor(() => c.openWatches() === openBefore, 'the closed watches to be released');
  });

  it('a Table watch (kubectl get -w) sends the column definitions with the first event only', async () => {
    const ns = 'w-table';
    const path = CM_PATH(ns);
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${await listRv(path)}`, c, 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
    await createCm(ns, 't1', { a: '1' });
    await createCm(ns, 't2', { a: '1', b: '2' });
    await waitFor(() => w.events.length >= 2, 'two table events');
    for (const e of w.events) expect(e).toMatchObject({ type: 'ADDED', object: { kind: 'Table', apiVersion: 'meta.k8s.io/v1' } });
    expect(w.events[0]!.object.columnDefinitions.map((d: any) => d.name)).toEqual(['Name', 'Data', 'Age']);
    // WatchServer sets NoHeaders after the first object: later Tables carry null column definitions.
    expect(w.events[1]!.object.columnDefinitions).toBeNull();
    expect(w.events.map((e) => e.object.rows.map((r: any) => r.cells.slice(0, 2)))).toEqual([[['t1', 1]], [['t2', 2]]]);
    expect(w.events[1]!.object.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 't2' } });
    w.close();
  });

  it('one object is watched through /watch/.../NAME; on the item path ?watch=true is a plain get, as in requestinfo', async () => {
    const ns = 'w-one';
    const one = await createCm(ns, 'single', { v: '1' });
    const path = `${CM_PATH(ns)}/single`;
    const got = await raw(c, 'GET', `${path}?watch=true`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'single', resourceVersion: one.metadata!.resourceVersion } });
    expect(c.requests().filter((r) => r.path === path).at(-1)!.verb).toBe('get');

    const w = await rawWatch(`/api/v1/watch/namespaces/${ns}/configmaps/single?resourceVersion=${one.metadata!.resourceVersion}`);
    expect(w.status).toBe(200);
    await createCm(ns, 'other', { v: '1' });
    await patchCm(ns, 'single', { data: { v: '2' } });
    await waitFor(() => w.events.length >= 1, 'the change of the watched object');
    expect(w.events.map(brief)).toEqual([`MODIFIED ${ns}/single`]);
    w.close();
    // Beside a name in the path, a field selector may only name that same object.
    const same = await rawWatch(`/api/v1/watch/namespaces/${ns}/configmaps/single?fieldSelector=${encodeURIComponent('metadata.name=single')}`);
    expect(same.status).toBe(200);
    same.close();
    for (const sel of ['metadata.name=other', `metadata.namespace=${ns}`]) {
      const bad = await rawWatch(`/api/v1/watch/namespaces/${ns}/configmaps/single?fieldSelector=${encodeURIComponent(sel)}`);
      await ended(bad);
      expect({ sel, status: bad.status }).toEqual({ sel, status: 400 });
      expect(JSON.parse(bad.text())).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: "fieldSelector metadata.name doesn't match requested name" });
    }
  });

  it('watches across all namespaces and per namespace; DELETED carries the last stored object with a new resourceVersion', async () => {
    const [ns1, ns2] = ['w-ns1', 'w-ns2'];
    const rv = await listRv('/api/v1/configmaps');
    const all = await rawWatch(`/api/v1/configmaps?watch=true&resourceVersion=${rv}`);
    const one = await rawWatch(`${CM_PATH(ns1)}?watch=true&resourceVersion=${rv}`);
    await createCm(ns1, 'x', { v: '1' });
    const y = await createCm(ns2, 'y', { v: '1' });
    await patchCm(ns1, 'x', { data: { v: '2' } });
    await deleteCm(ns2, 'y');
    const f = await k.core.createNamespacedConfigMap({ namespace: ns1, body: { metadata: { name: 'f', finalizers: ['example.test/keep'] }, data: { v: '1' } } });
    expect((await raw(c, 'DELETE', `${CM_PATH(ns1)}/f`)).status).toBe(200);
    expect((await raw(c, 'GET', `${CM_PATH(ns1)}/f`)).body.metadata.deletionTimestamp).toBeDefined();
    const released = await patchCm(ns1, 'f', { metadata: { finalizers: null } });
    expect(released.metadata.finalizers ?? []).toEqual([]);
    await createCm(ns2, 'last', { v: '1' });

    const mine = () => all.events.filter((e) => [ns1, ns2].includes(e.object.metadata.namespace));
    await waitFor(() => mine().length >= 8, 'the events of both namespaces');
    expect(mine().map(brief)).toEqual([
      `ADDED ${ns1}/x`, `ADDED ${ns2}/y`, `MODIFIED ${ns1}/x`, `DELETED ${ns2}/y`,
      `ADDED ${ns1}/f`, `MODIFIED ${ns1}/f`, `DELETED ${ns1}/f`, `ADDED ${ns2}/last`,
    ]);
    await waitFor(() => one.events.length >= 5, 'the events of one namespace');
    expect(one.events.map(brief)).toEqual([`ADDED ${ns1}/x`, `MODIFIED ${ns1}/x`, `ADDED ${ns1}/f`, `MODIFIED ${ns1}/f`, `DELETED ${ns1}/f`]);

    const ev = mine();
    const rvs = ev.map((e) => rvOf(e.object));
    expect([...rvs].sort((p, q) => p - q)).toEqual(rvs);
    expect(new Set(rvs).size).toBe(rvs.length);
    // A plain delete: the final content, at the deletion's own resourceVersion.
    expect(ev[3]!.object.data).toEqual({ v: '1' });
    expect(rvs[3]).toBeGreaterThan(rvOf(y));
    expect(ev[3]!.object.metadata.uid).toBe(y.metadata!.uid);
    // Finalizer removal deletes without storing the update: the event carries the last stored state (deletionTimestamp
    // and the finalizer still set), as etcd's delete event holds the previous value, with the deletion's revision.
    expect(ev[6]!.object.metadata.finalizers).toEqual(['example.test/keep']);
    expect(ev[6]!.object.metadata.deletionTimestamp).toBeDefined();
    expect(ev[6]!.object.metadata.uid).toBe(f.metadata!.uid);
    expect(rvs[6]).toBeGreaterThan(rvs[5]!);
    expect(one.events[4]!.object).toEqual(ev[6]!.object);
    all.close();
    one.close();
  });

  const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  /** Installs a small namespaced CRD (kind = singular capitalised) and waits until it is served; returns its path in ns. */
  async function installCrd(group: string, singular: string, ns: string): Promise<{ path: string; create(name: string): Promise<void> }> {
    const plural = `${singular}s`;
    const kind = singular[0]!.toUpperCase() + singular.slice(1);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural, singular, kind, listKind: `${kind}List` },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { n: { type: 'integer' } } } } } } }],
      },
    };
    expect((await raw(c, 'POST', CRDS, { body: crd })).status).toBe(201);
    const path = `/apis/${group}/v1/namespaces/${ns}/${plural}`;
    await waitFor(async () => (await raw(c, 'GET', path)).status === 200, `${plural} to be served`);
    const create = async (name: string) => expect((await raw(c, 'POST', path, { body: { apiVersion: `${group}/v1`, kind, metadata: { name }, spec: { n: 1 } } })).status).toBe(201);
    return { path, create };
  }

  it('changing a CRD spec ends the watches on its resources (its storage is rebuilt); a metadata change does not', async () => {
    const ns = 'w-crd';
    const group = 'spec.example.test';
    const { path, create } = await installCrd(group, 'gizmo', ns);
    const crdPath = `${CRDS}/gizmos.${group}`;
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${await listRv(path)}`);
    const gizmos = informer<any>(path, async () => (await raw(c, 'GET', path)).body, (o) => o.metadata.name);
    await gizmos.inf.start();
    const lists = () => c.requests({ verb: 'list', resource: 'gizmos' }).length;
    const listsAtStart = lists();
    expect((await raw(c, 'PATCH', crdPath, { contentType: merge, body: { metadata: { labels: { touched: 'yes' } } } })).status).toBe(200);
    await create('z1');
    await waitFor(() => w.events.length >= 1, 'the event after a metadata-only CRD change');
    expect(w.endedAs).toBeUndefined();
    const columns = [{ name: 'N', type: 'integer', jsonPath: '.spec.n' }];
    const crd = (await raw(c, 'GET', crdPath)).body;
    crd.spec.versions[0].additionalPrinterColumns = columns;
    expect((await raw(c, 'PUT', crdPath, { body: crd })).status).toBe(200);
    expect(await ended(w)).toBe('end');
    expect(w.events.map(brief)).toEqual([`ADDED ${ns}/z1`]);
    // Clients watch again from where they were and miss nothing.
    const again = await rawWatch(`${path}?watch=true&resourceVersion=${w.events[0]!.object.metadata.resourceVersion}`);
    await create('z2');
    await waitFor(() => again.events.length >= 1, 'the event on the new watch');
    expect(again.events.map(brief)).toEqual([`ADDED ${ns}/z2`]);
    again.close();
    // An informer takes the end as a reconnect: it resumes without a relist and sees both objects once.
    await waitFor(() => gizmos.log.includes('add z2'), 'the informer to see z2');
    expect(gizmos.log).toEqual(['add z1', 'add z2']);
    expect(gizmos.errors).toEqual([]);
    expect(lists()).toBe(listsAtStart);
    await gizmos.inf.stop();
  });

  it('deleting a CRD sends DELETED for each custom resource, then ends the watches on its resources', async () => {
    const ns = 'w-crd';
    const group = 'watch.example.test';
    const { path, create } = await installCrd(group, 'gadget', ns);
    for (const n of ['g1', 'g2']) await create(n);
    const rv = await listRv(path);
    const w = await rawWatch(`${path}?watch=true&resourceVersion=${rv}`);
    const allNs = await rawWatch(`/apis/${group}/v1/gadgets?watch=true&resourceVersion=${rv}`);
    const widgets = await rawWatch(`${WIDGETS_PATH(ns)}?watch=true&resourceVersion=${rv}`);

    expect((await raw(c, 'DELETE', `${CRDS}/gadgets.${group}`)).status).toBe(200);
    // kube-apiserver: the CRD finalizer deletes every instance, then the CRD goes and its storage is torn down.
    expect(await ended(w)).toBe('end');
    expect(await ended(allNs)).toBe('end');
    expect(w.events.map(brief).sort()).toEqual([`DELETED ${ns}/g1`, `DELETED ${ns}/g2`]);
    expect(allNs.events.map(brief).sort()).toEqual([`DELETED ${ns}/g1`, `DELETED ${ns}/g2`]);
    expect((await raw(c, 'GET', path)).status).toBe(404);
    const again = await rawWatch(`${path}?watch=true`);
    expect(again.status).toBe(404);
    await ended(again);
    // Watches on other resources stay open.
    await k.custom.createNamespacedCustomObject({ group: WIDGET_GROUP, version: WIDGET_VERSION, plural: WIDGET_PLURAL, namespace: ns, body: widget('still') });
    await waitFor(() => widgets.events.length >= 1, 'the widget watch to go on');
    expect(widgets.events.map(brief)).toEqual([`ADDED ${ns}/still`]);
    widgets.close();
  });
});
