// The chart's gateway (gateway.enabled): Deployment, Service, optional Ingress, its own ServiceAccount and exactly
// the RBAC of operator/src/gateway/rbac.ts, restricted security context, flags the gateway parses.
import { describe, expect, it } from '@jest/globals';
import { parseGatewayConfig } from '@hypergen/operator/gateway/config.js';
import { currentGatewayRbacTemplate, gatewayGrants, gatewayRbacTemplate } from '../../src/chart/gateway-rbac.js';
import { expandRules } from '../../src/chart/rbac.js';
import { RenderError, renderChart, type KubeObject, type RenderResult } from '../../src/chart/render.js';

type Obj = KubeObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const NS = 'hypergen-system';
const gatewayObjects = (r: RenderResult): Obj[] =>
  r.manifests.map((m) => m.object as Obj).filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'gateway');
const names = (r: RenderResult) => gatewayObjects(r).map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);
const ofKind = (r: RenderResult, kind: string) => gatewayObjects(r).filter((o) => o.kind === kind);

describe('charts/hypergen gateway', () => {
  it('is off by default', async () => {
    expect(gatewayObjects(await renderChart({ namespace: NS }))).toEqual([]);
  });

  it('gateway.enabled: ServiceAccount, ClusterRole + binding, Service and Deployment', async () => {
    const r = await renderChart({ namespace: NS, set: ['gateway.enabled=true'] });
    expect(names(r).sort()).toEqual(
      [
        'ClusterRole/hypergen-gateway',
        'ClusterRoleBinding/hypergen-gateway',
        `Deployment/${NS}/hypergen-gateway`,
        `Service/${NS}/hypergen-gateway`,
        `ServiceAccount/${NS}/hypergen-gateway`,
      ].sort(),
    );
    const [binding] = ofKind(r, 'ClusterRoleBinding');
    expect(binding!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'hypergen-gateway', namespace: NS }]);
    // The operator's metrics Service does not select the gateway's pods, nor the gateway's Service the operator's.
    const [svc] = ofKind(r, 'Service');
    expect(svc!.spec.selector).toEqual({ 'app.kubernetes.io/name': 'hypergen', 'app.kubernetes.io/instance': 'hypergen', 'app.kubernetes.io/component': 'gateway' });
    expect(svc!.spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
  });

  it('runs hypergen-gateway from the operator image with probes, resources and the restricted security context', async () => {
    const r = await renderChart({ namespace: NS, set: ['gateway.enabled=true', 'gateway.maxHeldPerModel=8', 'gateway.holdTimeoutSeconds=120', 'watchNamespaces={a,b}'] });
    const [deploy] = ofKind(r, 'Deployment');
    const pod = deploy!.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toBe('ghcr.io/hypergen/hypergen-operator:0.1.0');
    expect(c.command).toEqual(['node', '--optimize-for-size', '/app/operator/dist/gateway/main.js']);
    expect(parseGatewayConfig(c.args, {})).toMatchObject({ namespaces: ['a', 'b'], port: 8000, metricsPort: 8080, maxHeldPerModel: 8, holdTimeoutS: 120 });
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.resources.limits.memory).toBe('256Mi');
    expect(pod.serviceAccountName).toBe('hypergen-gateway');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(pod.volumes).toBeUndefined();
  });

  it('grants exactly operator/src/gateway/rbac.ts, cluster-wide or per watched namespace; the template is generated', async () => {
    expect(currentGatewayRbacTemplate()).toBe(gatewayRbacTemplate());
    const cluster = await renderChart({ namespace: NS, set: ['gateway.enabled=true'] });
    expect(expandRules(ofKind(cluster, 'ClusterRole')[0]!.rules)).toEqual(gatewayGrants());
    const scoped = await renderChart({ namespace: NS, set: ['gateway.enabled=true', 'watchNamespaces={team-a,team-b}'] });
    expect(ofKind(scoped, 'ClusterRole')).toEqual([]);
    const roles = ofKind(scoped, 'Role');
    expect(roles.map((x) => x.metadata.namespace)).toEqual(['team-a', 'team-b']);
    for (const role of roles) expect(expandRules(role.rules)).toEqual(gatewayGrants());
    expect(ofKind(scoped, 'RoleBinding').map((b) => b.subjects[0].namespace)).toEqual([NS, NS]);
  });

  it('gateway keys from a Secret become a mounted --api-key-file', async () => {
    const r = await renderChart({ namespace: NS, set: ['gateway.enabled=true', 'gateway.apiKeySecret.name=gw-keys', 'gateway.apiKeySecret.key=keys'] });
    const pod = ofKind(r, 'Deployment')[0]!.spec.template.spec;
    expect(pod.volumes).toEqual([{ name: 'keys', secret: { secretName: 'gw-keys', items: [{ key: 'keys', path: 'keys' }] } }]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'keys', mountPath: '/etc/hypergen-gateway/keys', readOnly: true }]);
    expect(parseGatewayConfig(pod.containers[0].args, {}).apiKeyFile).toBe('/etc/hypergen-gateway/keys/keys');
  });

  it('an optional Ingress to the gateway Service (host required, TLS when a secret is named)', async () => {
    await expect(renderChart({ namespace: NS, set: ['gateway.enabled=true', 'gateway.ingress.enabled=true'] })).rejects.toThrow(RenderError);
    const r = await renderChart({
      namespace: NS,
      set: ['gateway.enabled=true', 'gateway.ingress.enabled=true', 'gateway.ingress.host=images.example.com', 'gateway.ingress.className=nginx', 'gateway.ingress.tls.secretName=images-tls'],
    });
    const [ing] = ofKind(r, 'Ingress');
    expect(ing!.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['images.example.com'], secretName: 'images-tls' }],
      rules: [{ host: 'images.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'hypergen-gateway', port: { name: 'http' } } } }] } }],
    });
  });

  it('the install notes show the gateway when it is enabled', async () => {
    expect((await renderChart({ namespace: NS })).notes).not.toContain('gateway');
    const notes = (await renderChart({ namespace: NS, set: ['gateway.enabled=true', 'gateway.apiKeySecret.name=gw-keys'] })).notes;
    expect(notes).toContain(`kubectl port-forward -n ${NS} svc/hypergen-gateway 8000:80`);
    expect(notes).toContain('a key in Secret gw-keys sees all');
  });

  it('values are validated by the schema', async () => {
    await expect(renderChart({ namespace: NS, set: ['gateway.enabled=true', 'gateway.maxHeldPerModel=-1'] })).rejects.toThrow(RenderError);
    await expect(renderChart({ namespace: NS, set: ['gateway.nope=1'] })).rejects.toThrow(RenderError);
  });
});
