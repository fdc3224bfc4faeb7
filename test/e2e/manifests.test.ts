// Baton's own manifests on the real control plane: the development overlay, the monitoring objects that need no CRDs
// and the example P/D service are applied server-side (strict field validation: unknown fields, wrong types and
// invalid objects fail the apply); what the kube-apiserver stored keeps the security settings; the RBAC they grant
// does what it promises (kubectl auth can-i). prometheus-operator kinds (PodMonitor, ServiceMonitor, PrometheusRule)
// need CRDs that are not available offline: they are validated client-side by test/manifests, not applied here.
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness/cluster.js';
import { renderManifests, type KubeObject } from '../manifests/render.js';

const CRD_GROUPS = ['monitoring.coreos.com/', 'cert-manager.io/'];
const needsCrd = (o: KubeObject) => CRD_GROUPS.some((g) => o.apiVersion.startsWith(g));

interface PodSpecLike {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  containers: { name: string; securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } } }[];
}

describe('e2e: manifests applied server-side to the real control plane', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let failed = false;
  const applied: { overlay: string; objects: number; skipped: string[] }[] = [];

  /** Server-side apply of a List; rejects (with kubectl's message) when the apiserver refuses any object. */
  const serverSideApply = (objects: object[]) =>
    cluster!.kubectl(['apply', '--server-side', '--field-manager=baton-e2e', '--validate=strict', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));

  async function applyOverlay(overlay: 'development' | 'monitoring' | 'example-chat'): Promise<KubeObject[]> {
    const all = await renderManifests(overlay);
    const objects = all.filter((o) => !needsCrd(o));
    const out = await serverSideApply(objects);
    // kubectl prints one "<kind>/<name> serverside-applied" line per object.
    const lines = out.trim().split('\n').filter((l) => /serverside-applied$/.test(l));
    assert.equal(lines.length, objects.length, `kubectl applied ${lines.length} of ${objects.length}:\n${out}`);
    const back = JSON.parse(await cluster!.kubectl(['get', '-f', '-', '-o', 'json'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }))) as { items: KubeObject[] };
    assert.deepEqual(back.items.map((o) => `${o.kind}/${o.metadata.name}`), objects.map((o) => `${o.kind}/${o.metadata.name}`));
    applied.push({ overlay, objects: objects.length, skipped: all.filter(needsCrd).map((o) => `${o.kind}/${o.metadata.name}`) });
    return objects;
  }

  before(async function () {
    this.timeout(60 * 60_000);
    cluster = await startCluster();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async function () {
    this.timeout(60_000);
    if (failed && cluster) console.error(`\n===== manifests e2e failed (run dir kept: ${cluster.runDir}) =====\n${cluster.logTails(20)}`);
    // A dead APIService backend stalls discovery: remove it before stopping.
    await cluster?.api.delete('/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io').catch(() => undefined);
    await cluster?.stop(failed);
    for (const a of applied) console.log(`      applied ${a.overlay}: ${a.objects} objects server-side${a.skipped.length ? `; CRD kinds checked client-side only: ${a.skipped.join(', ')}` : ''}`);
  });

  it('the development overlay applies server-side; the stored Deployment runs non-root with a read-only root filesystem', async () => {
    const objects = await applyOverlay('development');
    assert.ok(objects.some((o) => o.kind === 'APIService'), 'the overlay registers the APIService');
    const d = JSON.parse(await cluster!.kubectl(['get', 'deployment', 'baton', '-n', 'baton-system', '-o', 'json'])) as { spec: { template: { spec: PodSpecLike } } };
    const pod = d.spec.template.spec;
    assert.ok(pod.containers.length >= 2, `adapter and engine sidecar: ${pod.containers.map((c) => c.name)}`);
    for (const c of pod.containers) {
      const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      assert.equal(nonRoot, true, `${c.name}: runAsNonRoot`);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${c.name}: capabilities`);
    }
    const apiService = JSON.parse(await cluster!.kubectl(['get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'json'])) as { spec: { caBundle?: string; service?: { name: string; namespace: string } } };
    assert.ok(apiService.spec.caBundle && Buffer.from(apiService.spec.caBundle, 'base64').toString().includes('BEGIN CERTIFICATE'), 'caBundle is a PEM certificate');
    assert.deepEqual(apiService.spec.service && [apiService.spec.service.namespace, apiService.spec.service.name], ['baton-system', 'baton']);
  });

  it('the RBAC it grants works on the real authorizer (SubjectAccessReviews)', async () => {
    // A SubjectAccessReview rather than `kubectl auth can-i`: no discovery, so the (backend-less) APIService is no factor.
    const can = async (user: string, attrs: { verb: string; group?: string; resource: string; namespace?: string; name?: string }): Promise<boolean> => {
      const r = await cluster!.api.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
        spec: { user, groups: user.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', 'system:authenticated'] : ['system:authenticated'], resourceAttributes: attrs },
      });
      assert.equal(r.status, 201, r.text);
      return (JSON.parse(r.text) as { status: { allowed: boolean } }).status.allowed;
    };
    const baton = 'system:serviceaccount:baton-system:baton';
    assert.equal(await can(baton, { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' }), true, 'auth-delegator');
    assert.equal(await can(baton, { verb: 'get', resource: 'configmaps', namespace: 'kube-system', name: 'extension-apiserver-authentication' }), true, 'authentication reader');
    assert.equal(await can('system:serviceaccount:kube-system:horizontal-pod-autoscaler', { verb: 'list', group: 'external.metrics.k8s.io', resource: 'baton_desired_replicas', namespace: 'llm' }), true, 'the HPA controller reads external metrics');
    assert.equal(await can(baton, { verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'llm' }), false, 'least privilege: Baton cannot delete workloads');
    assert.equal(await can(baton, { verb: 'get', resource: 'secrets', namespace: 'kube-system' }), false, 'least privilege: no secrets outside its namespace');
    assert.equal(await can('mallory', { verb: 'list', group: 'external.metrics.k8s.io', resource: 'baton_desired_replicas', namespace: 'llm' }), false, 'an unprivileged user reads no metrics');
  });

  it('the admission policy lets Baton\'s ServiceAccount change only pod-deletion-cost on pods and baton.io/ labels on nodes', async () => {
    await cluster!.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vap-e2e' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'vap-e2e', labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'x' }], nodeSelector: { none: 'none' } } },
    ]);
    const asBaton = ['--as=system:serviceaccount:baton-system:baton', '--as-group=system:serviceaccounts', '--as-group=system:authenticated'];
    const patch = (kind: string, name: string, body: object, ns?: string) =>
      cluster!.kubectl(['patch', kind, name, ...(ns ? ['-n', ns] : []), '--type=merge', '-p', JSON.stringify(body), ...asBaton]);
    // The policy takes a moment to be enforced after creation: retry the allowed patch, then the denied ones.
    // Each try changes the label to a new value: a patch that changes nothing is not admitted at all, so repeating one
    // that got through before the policy was enforced would never be denied.
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        await assert.rejects(patch('pod', 'p', { metadata: { labels: { app: `y${attempt}` } } }, 'vap-e2e'), /baton-writes-only-its-own-fields|pod-deletion-cost/);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await patch('pod', 'p', { metadata: { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-5' } } }, 'vap-e2e');
    await assert.rejects(patch('pod', 'p', { metadata: { annotations: { other: '1' } } }, 'vap-e2e'), /pod-deletion-cost/);
    const node = JSON.parse(await cluster!.kubectl(['get', 'nodes', '-o', 'json'])) as { items: { metadata: { name: string } }[] };
    if (node.items.length > 0) {
      const n = node.items[0]!.metadata.name;
      await patch('node', n, { metadata: { labels: { 'baton.io/slot.chat.decode': '2' } } });
      await assert.rejects(patch('node', n, { metadata: { labels: { 'node-role.kubernetes.io/gpu': '' } } }), /baton\.io/);
    }
    // Anyone else is not matched by the policy.
    await cluster!.kubectl(['patch', 'pod', 'p', '-n', 'vap-e2e', '--type=merge', '-p', JSON.stringify({ metadata: { labels: { app: 'z' } } })]);
  });

  it('the monitoring objects without CRDs (dashboards ConfigMap) apply server-side', async () => {
    const objects = await applyOverlay('monitoring');
    assert.ok(objects.some((o) => o.kind === 'ConfigMap'), 'the dashboards ConfigMap');
  });

  it('the example P/D service (Deployments, HPAs with per-HPA tolerance) applies server-side and keeps its fields', async () => {
    const objects = await applyOverlay('example-chat');
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.ok(hpas.length >= 2);
    for (const h of hpas) {
      const stored = JSON.parse(await cluster!.kubectl(['get', 'hpa', h.metadata.name, '-n', h.metadata.namespace!, '-o', 'json'])) as { spec: unknown };
      // Nothing the manifest sets was dropped by the apiserver (e.g. behavior.*.tolerance behind a feature gate).
      assert.deepEqual(pick(stored.spec, (h as unknown as { spec: unknown }).spec), (h as unknown as { spec: unknown }).spec, `${h.metadata.name}: the apiserver dropped or changed fields`);
    }
  });

  it('an invalid object fails the apply (the check can fail): unknown field, wrong type', async () => {
    const [dep] = (await renderManifests('example-chat')).filter((o) => o.kind === 'Deployment') as [KubeObject & { spec: Record<string, unknown> }];
    await assert.rejects(serverSideApply([{ ...dep, spec: { ...dep.spec, replicaz: 2 } }]), /unknown field|replicaz/);
    await assert.rejects(serverSideApply([{ ...dep, spec: { ...dep.spec, replicas: 'two' } }]), /replicas|Invalid|invalid/);
  });
});

/**
 * `actual` restricted to the keys present in `shape` (recursively), to compare a stored object with what was sent.
 * A number sent where the API keeps a resource.Quantity comes back as its canonical string ("0" for 0): equal.
 */
function pick(actual: unknown, shape: unknown): unknown {
  if (typeof shape === 'number' && typeof actual === 'string' && Number(actual) === shape) return shape;
  if (Array.isArray(shape)) return Array.isArray(actual) ? shape.map((s, i) => pick(actual[i], s)) : actual;
  if (shape && typeof shape === 'object') {
    if (!actual || typeof actual !== 'object') return actual;
    return Object.fromEntries(Object.keys(shape).map((k) => [k, pick((actual as Record<string, unknown>)[k], (shape as Record<string, unknown>)[k])]));
  }
  return actual;
}
