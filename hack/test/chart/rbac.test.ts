// RBAC request attribution and authorization, as the API server does it, used to check the chart against real traffic.
import { describe, expect, it } from '@jest/globals';
import { authorized, requestAttributes } from '../../src/chart/rbac.js';

describe('requestAttributes', () => {
  it.each([
    ['GET', '/api/v1/namespaces/a/secrets/k', { verb: 'get', group: '', resource: 'secrets', namespace: 'a', name: 'k' }],
    ['GET', '/api/v1/namespaces/a/secrets', { verb: 'list', group: '', resource: 'secrets', namespace: 'a' }],
    ['GET', '/apis/hypergen.io/v1alpha1/hypergenmodels?watch=true&resourceVersion=5', { verb: 'watch', group: 'hypergen.io', resource: 'hypergenmodels', namespace: undefined }],
    ['PUT', '/apis/hypergen.io/v1alpha1/namespaces/a/hypergenmodels/m/status', { verb: 'update', group: 'hypergen.io', resource: 'hypergenmodels/status', namespace: 'a', name: 'm' }],
    ['PATCH', '/apis/apps/v1/namespaces/a/deployments/d', { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'a', name: 'd' }],
    ['POST', '/apis/coordination.k8s.io/v1/namespaces/s/leases', { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 's' }],
    ['DELETE', '/api/v1/namespaces/a/pods', { verb: 'deletecollection', group: '', resource: 'pods', namespace: 'a' }],
    ['GET', '/api/v1/namespaces/a', { verb: 'get', group: '', resource: 'namespaces', namespace: undefined, name: 'a' }],
  ])('%s %s', (method, url, expected) => {
    expect(requestAttributes(method, url)).toEqual(expected);
  });

  it('treats discovery and other non-resource URLs as such', () => {
    for (const url of ['/api', '/apis', '/api/v1', '/apis/apps/v1', '/version', '/openapi/v3', '/healthz']) {
      expect(requestAttributes('GET', url)).toBeUndefined();
    }
  });
});

describe('authorized', () => {
  const rules = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }];
  it('honours the binding scope and each of group, resource, verb', () => {
    const ns = [{ namespace: 'a', rules }];
    expect(authorized(ns, requestAttributes('GET', '/api/v1/namespaces/a/secrets')!)).toBe(true);
    expect(authorized(ns, requestAttributes('GET', '/api/v1/namespaces/b/secrets')!)).toBe(false);
    expect(authorized(ns, requestAttributes('GET', '/api/v1/secrets')!)).toBe(false); // all-namespace list needs a ClusterRole
    expect(authorized([{ rules }], requestAttributes('GET', '/api/v1/secrets')!)).toBe(true);
    expect(authorized([{ rules }], requestAttributes('DELETE', '/api/v1/namespaces/a/secrets/k')!)).toBe(false);
    expect(authorized([{ rules }], requestAttributes('GET', '/apis/x.io/v1/namespaces/a/secrets')!)).toBe(false);
    expect(authorized([{ rules }], requestAttributes('GET', '/api/v1/namespaces/a/secrets/k/status')!)).toBe(false);
  });
});
