// The install manifests: every kustomize root renders with kubectl's kustomize, every object is a valid Kubernetes
// object of the e2e control plane's version (strict fields), RBAC is least-privilege, the pod is locked down, and the
// overlays wire the serving certificate into the APIService.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseEngineConfig } from '../../engine/sidecar/config.js';
import { slotLabelKey } from '../../engine/placement/labels.js';
import { program } from '../../cli/main.js';
import { loadValidator, openapiSpecDir, type KindValidator } from './openapi.js';
import { MANIFESTS_DIR, OVERLAYS, kubectlPath, renderManifests, run, type KubeObject, type Overlay } from './render.js';

const find = (objs: KubeObject[], kind: string, name: string, namespace?: string): KubeObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace));
  assert.ok(o, `no ${kind} ${namespace ? `${namespace}/` : ''}${name} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path: string; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; scheme?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
}
/** The pool targets of the example engine configs: the base RBAC must let the engine read each one's /scale. */
const engineTargets = () => parseEngineConfig(parse(readFileSync(join(MANIFESTS_DIR, 'examples/scale-targets/engine.yaml'), 'utf8')), 'examples/scale-targets/engine.yaml').targets;
const podSpec = (d: KubeObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;

describe('manifests (kubectl kustomize, offline)', function () {
  // A cold build of kubectl (scripts/build-cluster.sh) takes ~10 minutes on 2 cores; warm it is < 1 s.
  this.timeout(30 * 60_000);
  const rendered = new Map<Overlay, KubeObject[]>();
  let validator: KindValidator | undefined;
  let specDir: string | undefined;

  before(async function () {
    await kubectlPath();
    for (const o of Object.keys(OVERLAYS) as Overlay[]) rendered.set(o, await renderManifests(o));
    specDir = openapiSpecDir();
    if (specDir) validator = loadValidator(specDir);
  });
  const get = (o: Overlay) => rendered.get(o)!;

  it('renders every kustomize root into Kubernetes objects', () => {
    for (const [name, objs] of rendered) assert.ok(objs.length > 0, `${name} rendered nothing`);
    const kinds = new Set(get('development').map((o) => o.kind));
    for (const k of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'APIService', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
      assert.ok(kinds.has(k), `development overlay lacks a ${k}`);
    }
    // Namespaced objects must name their namespace (the base sets none globally, to keep kube-system's RoleBinding there).
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    for (const [name, objs] of rendered) {
      for (const o of objs) if (!clusterScoped.has(o.kind)) assert.ok(o.metadata.namespace, `${name}: ${o.kind}/${o.metadata.name} has no namespace`);
    }
    const mon = new Set(get('monitoring').map((o) => o.kind));
    for (const k of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap']) assert.ok(mon.has(k), `monitoring lacks a ${k}`);
  });

  it('every built-in object validates against the OpenAPI schema of the e2e Kubernetes version (unknown fields rejected)', function () {
    if (!validator) this.skip(); // no Go module cache with k8s.io/kubernetes (BATON_CLUSTER_BIN without a build)
    let checked = 0;
    const errors: string[] = [];
    for (const [name, objs] of rendered) {
      for (const o of objs) {
        const e = validator!.validate(o);
        if (e === undefined) continue; // a CRD kind (cert-manager, prometheus-operator)
        checked++;
        errors.push(...e.map((m) => `${name}: ${m}`));
      }
    }
    assert.deepEqual(errors, []);
    assert.ok(checked >= 25, `only ${checked} objects had a schema`);
  });

  it('the validator rejects a misspelled field, a wrong type and a missing required field', function () {
    if (!validator) this.skip();
    const deployment = structuredClone(find(get('base'), 'Deployment', 'baton'));
    const spec = podSpec(deployment);
    (spec.containers[0]!.securityContext as Record<string, unknown>).readOnlyRootFilesytem = true;
    (spec as unknown as Record<string, unknown>).terminationGracePeriodSeconds = 'thirty';
    const errs = validator!.validate(deployment)!;
    assert.ok(errs.some((e) => e.includes("'readOnlyRootFilesytem'")), errs.join('\n'));
    assert.ok(errs.some((e) => e.includes('terminationGracePeriodSeconds') && e.includes('integer')), errs.join('\n'));
    const hpa = structuredClone(find(get('example-chat'), 'HorizontalPodAutoscaler', 'chat-decode-h200'));
    delete (hpa.spec as Record<string, unknown>).maxReplicas;
    assert.ok(validator!.validate(hpa)!.some((e) => e.includes('maxReplicas')));
  });

  it('cluster RBAC is least-privilege: reads, and patches only nodes and pods', () => {
    const objs = get('base');
    const rules = (find(objs, 'ClusterRole', 'baton').rules as PolicyRule[]);
    const grants = new Set(rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
    for (const g of ['/nodes:get', '/nodes:list', '/nodes:patch', '/pods:list', '/pods:patch', '/events:create']) {
      assert.ok(grants.has(g), `ClusterRole baton lacks ${g}`);
    }
    // Workloads only through their scale subresource, get only (engine pool targets); nothing else under apps.
    const workloadGrants = [...grants].filter((g) => g.startsWith('apps/') || g.startsWith('leaderworkerset.x-k8s.io/'));
    assert.deepEqual(workloadGrants.filter((g) => !/^[a-z0-9.-]+\/[a-z]+\/scale:get$/.test(g)), [], 'workloads: */scale get only');
    for (const t of engineTargets()) assert.ok(grants.has(`${t.ref.apiVersion.split('/')[0]}/${t.ref.kind.toLowerCase()}s/scale:get`), `ClusterRole baton cannot read the scale of ${t.ref.kind} (an example engine config's target)`);
    for (const r of rules) {
      assert.ok(!r.verbs.includes('*') && !(r.resources ?? []).includes('*') && !(r.apiGroups ?? []).includes('*'), `wildcard in ${JSON.stringify(r)}`);
      for (const v of ['delete', 'deletecollection', 'create', 'update', 'escalate', 'bind', 'impersonate']) {
        if (v === 'create' && (r.resources ?? []).every((x) => x === 'events')) continue;
        assert.ok(!r.verbs.includes(v), `ClusterRole baton may ${v} ${(r.resources ?? []).join(',')}`);
      }
      assert.ok(!(r.resources ?? []).includes('secrets'), 'ClusterRole baton must not read secrets');
      assert.ok(!(r.apiGroups ?? []).includes('apps') || r.verbs.every((v) => ['get', 'list', 'watch'].includes(v)), 'deployments are read-only');
    }
    const ns = find(objs, 'Role', 'baton', 'baton-system');
    const nsGrants = (ns.rules as PolicyRule[]).flatMap((r) => (r.resources ?? []).map((res) => `${res}:${r.verbs.join(',')}`));
    assert.ok(nsGrants.some((g) => g.startsWith('leases:') && g.includes('create') && g.includes('update')), nsGrants.join(' '));
    assert.ok(nsGrants.some((g) => g.startsWith('configmaps:') && g.includes('update')), nsGrants.join(' '));
  });

  it('a ValidatingAdmissionPolicy narrows Baton\'s pod and node patches to the fields the engine sets, enforced (Deny)', () => {
    const objs = get('base');
    const vap = find(objs, 'ValidatingAdmissionPolicy', 'baton-writes-only-its-own-fields') as unknown as { spec: { matchConditions: { expression: string }[]; validations: { expression: string }[]; matchConstraints: { resourceRules: { resources: string[]; operations: string[] }[] } } };
    assert.match(vap.spec.matchConditions[0]!.expression, /system:serviceaccount:baton-system:baton/);
    assert.deepEqual(vap.spec.matchConstraints.resourceRules[0]!.operations, ['UPDATE']);
    assert.ok(vap.spec.validations.some((v) => v.expression.includes("'pods'") && v.expression.includes('costKey')));
    assert.ok(vap.spec.validations.some((v) => v.expression.includes("'nodes'") && v.expression.includes("'baton.io/'")));
    const binding = find(objs, 'ValidatingAdmissionPolicyBinding', 'baton-writes-only-its-own-fields') as unknown as { spec: { policyName: string; validationActions: string[] } };
    assert.deepEqual(binding.spec, { policyName: 'baton-writes-only-its-own-fields', validationActions: ['Deny'] });
  });

  it('binds system:auth-delegator and the kube-system authentication reader to the ServiceAccount', () => {
    const objs = get('base');
    const sa = { kind: 'ServiceAccount', name: 'baton', namespace: 'baton-system' };
    const delegator = objs.find((o) => o.kind === 'ClusterRoleBinding' && (o.roleRef as { name: string }).name === 'system:auth-delegator');
    assert.ok(delegator, 'no ClusterRoleBinding to system:auth-delegator');
    assert.deepEqual(delegator.subjects, [sa]);
    const reader = objs.find((o) => o.kind === 'RoleBinding' && (o.roleRef as { name: string }).name === 'extension-apiserver-authentication-reader');
    assert.ok(reader, 'no RoleBinding to extension-apiserver-authentication-reader');
    assert.equal(reader.metadata.namespace, 'kube-system');
    assert.deepEqual(reader.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' });
    assert.deepEqual(reader.subjects, [sa]);
  });

  it('runs the adapter and the engine as non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp', () => {
    const d = find(get('base'), 'Deployment', 'baton', 'baton-system');
    const spec = podSpec(d);
    assert.equal(spec.serviceAccountName, 'baton');
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.deepEqual(spec.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    assert.deepEqual(spec.containers.map((c) => c.name).sort(), ['adapter', 'engine']);
    for (const c of spec.containers) {
      const sc = c.securityContext ?? {};
      assert.equal(sc.runAsNonRoot, true, `${c.name}: runAsNonRoot`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, `${c.name}: capabilities`);
      assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' }, `${c.name}: seccomp`);
      assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${c.name}: resources`);
    }
    const ns = find(get('base'), 'Namespace', 'baton-system');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('starts the adapter with the rules, Prometheus and serving certificate, probed over HTTPS', () => {
    const spec = podSpec(find(get('development'), 'Deployment', 'baton'));
    const adapter = spec.containers.find((c) => c.name === 'adapter')!;
    assert.deepEqual(adapter.command, ['baton']);
    const args = adapter.args ?? [];
    assert.equal(args[0], 'adapter');
    const flag = (n: string) => args.find((a) => a.startsWith(`${n}=`))?.slice(n.length + 1);
    assert.equal(flag('--rules'), '/etc/baton/rules');
    assert.match(flag('--prometheus') ?? '', /^https?:\/\//);
    assert.equal(flag('--tls-cert-file'), '/etc/baton/tls/tls.crt');
    assert.equal(flag('--tls-private-key-file'), '/etc/baton/tls/tls.key');
    assert.equal(flag('--host'), '0.0.0.0');
    assert.ok(!args.includes('--insecure-dev') && !args.includes('--self-signed'));
    assert.deepEqual([adapter.livenessProbe?.httpGet?.path, adapter.livenessProbe?.httpGet?.scheme], ['/healthz', 'HTTPS']);
    assert.deepEqual([adapter.readinessProbe?.httpGet?.path, adapter.readinessProbe?.httpGet?.scheme], ['/readyz', 'HTTPS']);
    // The mounts point at what the overlay generates: the rules ConfigMap and the (hash-suffixed) serving Secret.
    const objs = get('development');
    const secretVol = spec.volumes?.find((v) => v.secret)?.secret?.secretName;
    assert.ok(secretVol && objs.some((o) => o.kind === 'Secret' && o.metadata.name === secretVol), `Secret ${secretVol} not rendered`);
    const rulesVol = spec.volumes?.find((v) => v.name === 'rules')?.configMap?.name;
    const rulesCm = find(objs, 'ConfigMap', rulesVol ?? '?', 'baton-system');
    assert.ok(parse((rulesCm.data as Record<string, string>)['chat.yaml']!).services[0].name === 'chat');
    const engineC = spec.containers.find((c) => c.name === 'engine')!;
    assert.equal(engineC.args?.[0], 'engine');
    const configArg = engineC.args?.find((a) => a.startsWith('--config='))?.slice('--config='.length);
    const mount = engineC.volumeMounts?.find((m) => configArg?.startsWith(m.mountPath + '/'));
    assert.ok(mount, `--config=${configArg} is not on a mounted volume`);
    const cmName = spec.volumes?.find((v) => v.name === mount.name)?.configMap?.name;
    const engineCm = find(objs, 'ConfigMap', cmName ?? '?', 'baton-system');
    const engineYaml = (engineCm.data as Record<string, string>)[configArg!.slice(mount.mountPath.length + 1)];
    assert.ok(engineYaml, `ConfigMap ${cmName} has no ${configArg}`);
    assert.equal(parseEngineConfig(parse(engineYaml), 'engine.yaml').namespace, 'baton-system');
  });

  it('high availability: 2 replicas under a PodDisruptionBudget; adapter and engine of a pod share one Lease and identity', () => {
    const objs = get('development');
    const d = find(objs, 'Deployment', 'baton') as unknown as { spec: { replicas: number; template: { metadata: { labels: Record<string, string> } } } };
    assert.equal(d.spec.replicas, 2);
    const pdb = find(objs, 'PodDisruptionBudget', 'baton', 'baton-system') as unknown as { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.minAvailable, 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v, 'the PDB selects the pods');
    const spec = podSpec(find(objs, 'Deployment', 'baton'));
    const c = (name: string) => spec.containers.find((x) => x.name === name)!;
    const flag = (ctr: Container, n: string) => ctr.args?.find((a) => a === n || a.startsWith(`${n}=`));
    const value = (ctr: Container, n: string) => flag(ctr, n)?.slice(n.length + 1);
    assert.ok(flag(c('adapter'), '--ha'), 'the adapter runs with --ha');
    assert.equal(value(c('adapter'), '--ha-lease'), value(c('engine'), '--lease'), 'one Lease for both');
    assert.equal(value(c('adapter'), '--ha-identity'), '$(POD_NAME)');
    assert.equal(value(c('engine'), '--identity'), '$(POD_NAME)');
    for (const ctr of [c('adapter'), c('engine')]) {
      const env = (ctr as unknown as { env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }).env;
      assert.equal(env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${ctr.name}: POD_NAME from the pod`);
    }
    const role = find(objs, 'Role', 'baton', 'baton-system') as unknown as { rules: PolicyRule[] };
    assert.ok(role.rules.some((r) => (r.resources ?? []).includes('configmaps') && r.verbs.includes('list')), 'every replica lists the decision ConfigMaps');
  });

  it('adapter and engine share the plan through one emptyDir; every flag is one the baton CLI knows; engine probed for liveness only', () => {
    const spec = podSpec(find(get('development'), 'Deployment', 'baton'));
    const c = (name: string) => spec.containers.find((x) => x.name === name)!;
    const flag = (ctr: Container, n: string) => ctr.args?.find((a) => a.startsWith(`${n}=`))?.slice(n.length + 1);
    const [adapter, engineC] = [c('adapter'), c('engine')];
    // Each container's args parse with the real CLI definition (a renamed or misspelled flag fails here, not in a pod).
    for (const ctr of [adapter, engineC]) {
      const sub = program().commands.find((x) => x.name() === ctr.args?.[0]);
      assert.ok(sub, `${ctr.name}: no baton subcommand '${ctr.args?.[0]}'`);
      const known = new Set(sub.options.map((o) => o.long));
      for (const a of ctr.args!.slice(1)) assert.ok(known.has(a.split('=')[0]), `${ctr.name}: baton ${sub.name()} has no option ${a.split('=')[0]}`);
    }
    const demand = flag(adapter, '--engine-demand-file');
    const plan = flag(adapter, '--engine-plan-file');
    assert.ok(demand && plan, 'the adapter neither writes the demand nor reads the plan');
    assert.equal(flag(engineC, '--demand'), demand, 'the engine reads what the adapter writes');
    assert.equal(flag(engineC, '--plan-file'), plan, 'the adapter reads what the engine writes');
    const volumeOf = (ctr: Container, path: string) => ctr.volumeMounts?.find((m) => path.startsWith(m.mountPath + '/') && !m.readOnly)?.name;
    for (const path of [demand, plan]) {
      const vol = volumeOf(adapter, path);
      assert.ok(vol, `${path} is not on a writable mount of the adapter`);
      assert.equal(volumeOf(engineC, path), vol, `${path}: the engine does not mount the same volume`);
      assert.ok((spec.volumes?.find((v) => v.name === vol) as { emptyDir?: unknown } | undefined)?.emptyDir, `${vol} is not an emptyDir`);
    }
    // The adapter's decision memory survives a container restart: on a writable emptyDir.
    const stateFile = flag(adapter, '--state-file');
    assert.ok(stateFile, 'the adapter keeps no decision memory (--state-file)');
    const stateVol = volumeOf(adapter, stateFile);
    assert.ok(stateVol && (spec.volumes?.find((v) => v.name === stateVol) as { emptyDir?: unknown } | undefined)?.emptyDir, `${stateFile} is not on a writable emptyDir`);
    // The engine's endpoints on the pod IP: liveness on a declared port, and no readiness probe (an unready engine
    // would make the pod unready and take the adapter out of the APIService's Service).
    assert.equal(flag(engineC, '--host'), '0.0.0.0');
    const probe = engineC.livenessProbe?.httpGet as { path: string; port?: string } | undefined;
    assert.equal(probe?.path, '/livez');
    const ports = (engineC as { ports?: { name: string; containerPort: number }[] }).ports ?? [];
    assert.equal(ports.find((p) => p.name === probe?.port)?.containerPort, Number(flag(engineC, '--port')));
    assert.equal(engineC.readinessProbe, undefined);
    // Prometheus reaches both containers' /metrics through the Service.
    const svcPorts = (find(get('base'), 'Service', 'baton').spec as { ports: { name: string; targetPort: string }[] }).ports;
    assert.ok(svcPorts.some((p) => p.targetPort === probe?.port), 'the Service does not expose the engine metrics port');
    const sm = find(get('monitoring'), 'ServiceMonitor', 'baton', 'baton-system');
    const endpoints = (sm.spec as { endpoints: { port: string }[] }).endpoints.map((e) => e.port);
    for (const p of endpoints) assert.ok(svcPorts.some((x) => x.name === p), `ServiceMonitor endpoint ${p} is not a Service port`);
    assert.ok(endpoints.includes(svcPorts.find((p) => p.targetPort === probe?.port)!.name), 'engine metrics not scraped');
  });

  it('Service 443 → adapter port, APIService with priorities pointing at it', () => {
    const objs = get('base');
    const svc = find(objs, 'Service', 'baton', 'baton-system');
    const ports = (svc.spec as { ports: { name: string; port: number; targetPort: string }[] }).ports;
    assert.deepEqual(ports.find((p) => p.port === 443), { name: 'https', port: 443, targetPort: 'https' });
    const api = find(objs, 'APIService', 'v1beta1.external.metrics.k8s.io');
    assert.deepEqual(api.spec, {
      group: 'external.metrics.k8s.io', version: 'v1beta1', service: { name: 'baton', namespace: 'baton-system', port: 443 },
      groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: false,
    });
  });

  it('development overlay: caBundle is the CA that signed the serving certificate for baton.baton-system.svc', () => {
    const objs = get('development');
    const api = find(objs, 'APIService', 'v1beta1.external.metrics.k8s.io');
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name.startsWith('baton-serving-cert'))!;
    assert.equal(secret.type, 'kubernetes.io/tls');
    const data = secret.data as Record<string, string>;
    const caPem = Buffer.from((api.spec as { caBundle: string }).caBundle, 'base64').toString();
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(Buffer.from(data['tls.crt']!, 'base64'));
    assert.ok(leaf.verify(ca.publicKey), 'serving certificate not signed by the caBundle CA');
    assert.ok(leaf.checkHost('baton.baton-system.svc'), `SANs ${leaf.subjectAltName}`);
    assert.ok(data['tls.key']);
  });

  it('cert-manager overlay: Certificate into the mounted Secret, CA injected into the APIService', () => {
    const objs = get('cert-manager');
    const api = find(objs, 'APIService', 'v1beta1.external.metrics.k8s.io');
    assert.equal(api.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'baton-system/baton-serving-cert');
    const cert = find(objs, 'Certificate', 'baton-serving-cert', 'baton-system');
    const cs = cert.spec as { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } };
    assert.equal(cs.secretName, podSpec(find(objs, 'Deployment', 'baton')).volumes!.find((v) => v.secret)!.secret!.secretName);
    assert.ok(cs.dnsNames.includes('baton.baton-system.svc'));
    find(objs, cs.issuerRef.kind, cs.issuerRef.name, 'baton-system');
    assert.ok(!objs.some((o) => o.kind === 'Secret'), 'cert-manager overlay must not ship a Secret');
  });

  it('keda overlay: no APIService; the adapter serves the external scaler with a client CA it mounts; ScaledObjects per pool follow Baton', () => {
    const objs = get('keda');
    assert.ok(!objs.some((o) => o.kind === 'APIService'), 'KEDA owns v1beta1.external.metrics.k8s.io: the overlay must not register one');
    const spec = podSpec(find(objs, 'Deployment', 'baton', 'baton-system'));
    const adapter = spec.containers.find((c) => c.name === 'adapter')!;
    const flag = (n: string) => adapter.args?.find((a) => a.startsWith(`${n}=`))?.slice(n.length + 1);
    const sub = program().commands.find((x) => x.name() === 'adapter')!;
    const known = new Set(sub.options.map((o) => o.long));
    for (const a of adapter.args!.slice(1)) assert.ok(known.has(a.split('=')[0]), `baton adapter has no option ${a.split('=')[0]}`);
    assert.equal(flag('--keda-port'), '9443');
    const ca = flag('--keda-client-ca-file')!;
    const mount = adapter.volumeMounts!.find((m) => ca.startsWith(m.mountPath + '/'));
    assert.ok(mount, `${ca} is not on a mounted volume`);
    const secret = spec.volumes!.find((v) => v.name === mount.name)?.secret?.secretName;
    // cert-manager writes ca.crt into the serving Secret; the client certificate comes from the same CA.
    const client = find(objs, 'Certificate', 'baton-keda-client', 'baton-system').spec as { usages: string[]; issuerRef: { name: string } };
    assert.equal(secret, (find(objs, 'Certificate', 'baton-serving-cert', 'baton-system').spec as { secretName: string; issuerRef: { name: string } }).secretName);
    assert.ok(client.usages.includes('client auth'));
    assert.equal(client.issuerRef.name, (find(objs, 'Certificate', 'baton-serving-cert', 'baton-system').spec as { issuerRef: { name: string } }).issuerRef.name);
    const ports = (find(objs, 'Service', 'baton', 'baton-system').spec as { ports: { name: string; port: number; targetPort: string }[] }).ports;
    assert.ok(ports.some((p) => p.port === 9443 && p.targetPort === 'keda'));
    assert.ok((adapter as unknown as { ports: { name: string; containerPort: number }[] }).ports.some((p) => p.name === 'keda' && p.containerPort === 9443));

    const ex = get('example-chat-keda');
    assert.ok(!ex.some((o) => o.kind === 'HorizontalPodAutoscaler'), 'KEDA owns the HPAs: the example ships none of its own');
    const sos = ex.filter((o) => o.kind === 'ScaledObject');
    const deployments = ex.filter((o) => o.kind === 'Deployment').map((d) => d.metadata.name).sort();
    assert.deepEqual(sos.map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name).sort(), deployments);
    for (const so of sos) {
      const spec = so.spec as { triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[]; advanced: { horizontalPodAutoscalerConfig: { behavior: Record<'scaleUp' | 'scaleDown', { tolerance: number; stabilizationWindowSeconds: number }> } } };
      const t = spec.triggers[0]!;
      assert.equal(t.type, 'external');
      assert.equal(t.metadata.scalerAddress, 'baton.baton-system.svc:9443');
      assert.equal(`chat-${t.metadata.pool}`, (so.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name);
      assert.equal(t.metadata.service, 'chat');
      find(ex, 'TriggerAuthentication', t.authenticationRef.name, 'llm');
      for (const side of ['scaleUp', 'scaleDown'] as const) {
        assert.equal(spec.advanced.horizontalPodAutoscalerConfig.behavior[side].tolerance, 0, `${so.metadata.name} ${side}: tolerance 0 per object`);
        assert.equal(spec.advanced.horizontalPodAutoscalerConfig.behavior[side].stabilizationWindowSeconds, 0);
      }
    }
  });

  it('example service: a Deployment and an HPA per pool, node affinity on the GPU type, AverageValue 1, tolerance 0', () => {
    const objs = get('example-chat');
    const rules = parse(readFileSync(join(MANIFESTS_DIR, 'base/rules/chat.yaml'), 'utf8')) as { services: { name: string; pools: { name: string; role: string; maxReplicas: number }[] }[] };
    const svc = rules.services[0]!;
    const engine = parseEngineConfig(parse(readFileSync(join(MANIFESTS_DIR, 'base/engine/engine.yaml'), 'utf8')), 'base/engine/engine.yaml');
    assert.deepEqual(engine.services.find((s) => s.service === svc.name)!.pools.map((p) => [p.name, p.role]), svc.pools.map((p) => [p.name, p.role]), 'engine config and rule file disagree on pools');
    for (const pool of svc.pools) {
      const d = find(objs, 'Deployment', `chat-${pool.name}`, 'llm');
      const labels = (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      assert.deepEqual([labels['baton.io/service'], labels['baton.io/role'], labels['baton.io/pool']], [svc.name, pool.role, pool.name]);
      assert.ok(!('replicas' in (d.spec as object)), `${pool.name}: replicas belongs to the HPA`);
      const terms = (podSpec(d) as unknown as { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchExpressions: { key: string; operator: string; values: string[] }[] }[] } } } })
        .affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      assert.equal(terms.length, 1, 'one term: GPU type AND planned slots');
      const gpuKey = engine.keys.gpuType;
      const enginePool = engine.services.find((s) => s.service === svc.name)!.pools.find((p) => p.name === pool.name)!;
      assert.deepEqual(terms[0]!.matchExpressions.find((e) => e.key === gpuKey), { key: gpuKey, operator: 'In', values: [enginePool.gpuType] });
      assert.deepEqual(terms[0]!.matchExpressions.find((e) => e.key === slotLabelKey(svc.name, pool.name)), { key: slotLabelKey(svc.name, pool.name), operator: 'Gt', values: ['0'] });
      const hpa = find(objs, 'HorizontalPodAutoscaler', `chat-${pool.name}`, 'llm');
      const spec = hpa.spec as {
        scaleTargetRef: { name: string }; maxReplicas: number;
        metrics: { type: string; external: { metric: { name: string; selector: { matchLabels: Record<string, string> } }; target: { type: string; averageValue: string } } }[];
        behavior: Record<'scaleUp' | 'scaleDown', { tolerance: number; stabilizationWindowSeconds: number }>;
      };
      assert.equal(spec.scaleTargetRef.name, d.metadata.name);
      assert.ok(spec.maxReplicas >= pool.maxReplicas, `${pool.name}: HPA max ${spec.maxReplicas} < rule max ${pool.maxReplicas}`);
      assert.equal(spec.metrics.length, 1);
      const m = spec.metrics[0]!;
      assert.equal(m.type, 'External');
      assert.equal(m.external.metric.name, 'baton_desired_replicas');
      assert.deepEqual(m.external.metric.selector.matchLabels, { service: svc.name, pool: pool.name });
      assert.deepEqual(m.external.target, { type: 'AverageValue', averageValue: '1' });
      for (const side of ['scaleUp', 'scaleDown'] as const) {
        assert.equal(spec.behavior[side].tolerance, 0, `${pool.name} ${side} tolerance`);
        assert.equal(spec.behavior[side].stabilizationWindowSeconds, 0, `${pool.name} ${side} stabilization`);
      }
    }
  });

  it('scale-targets example: HPAs aim at the StatefulSet and the LeaderWorkerSet the engine config targets; engine pods drain in preStop', () => {
    const objs = get('example-scale-targets');
    const engine = engineTargets();
    for (const t of engine) {
      const hpa = objs.find((o) => o.kind === 'HorizontalPodAutoscaler' && (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === t.ref.name);
      assert.ok(hpa, `no HPA scales ${t.ref.kind} ${t.ref.name}`);
      assert.deepEqual((hpa.spec as { scaleTargetRef: object }).scaleTargetRef, { apiVersion: t.ref.apiVersion, kind: t.ref.kind, name: t.ref.name });
      assert.ok(objs.some((o) => o.kind === t.ref.kind && o.metadata.name === t.ref.name && o.metadata.namespace === t.ref.namespace), `no ${t.ref.kind} ${t.ref.name}`);
    }
    type Pod = { terminationGracePeriodSeconds?: number; containers: { lifecycle?: { preStop?: { exec?: { command: string[] } } } }[] };
    const sts = find(objs, 'StatefulSet', 'big-prefill-h100', 'llm');
    const lws = find(objs, 'LeaderWorkerSet', 'big-decode-h200', 'llm');
    const serving: [string, Pod, RegExp][] = [
      ['StatefulSet (vLLM)', (sts.spec as { template: { spec: Pod } }).template.spec, /vllm:num_requests_running/],
      ['LeaderWorkerSet leader (SGLang)', (lws.spec as { leaderWorkerTemplate: { leaderTemplate: { spec: Pod } } }).leaderWorkerTemplate.leaderTemplate.spec, /sglang\[:_\]num_running_reqs/],
    ];
    for (const [what, pod, gauge] of serving) {
      assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= 300, `${what}: a grace period long enough to finish requests`);
      const cmd = pod.containers[0]!.lifecycle?.preStop?.exec?.command.join(' ') ?? '';
      assert.match(cmd, gauge, `${what}: preStop waits for running requests to reach 0`);
    }
  });

  it('monitoring: PodMonitor maps pod labels to service/role/pool; ServiceMonitor scrapes the metrics port; dashboards ConfigMap for the sidecar', () => {
    const objs = get('monitoring');
    const pm = find(objs, 'PodMonitor', 'baton-engines');
    const relabel = (pm.spec as { podMetricsEndpoints: { relabelings: { sourceLabels: string[]; targetLabel?: string }[] }[] }).podMetricsEndpoints[0]!.relabelings;
    // Pods of neither role are dropped first; role values map to prefill/decode (test/engine/sidecar/podmonitor.test.ts).
    assert.deepEqual(relabel.filter((r) => r.targetLabel).map((r) => [r.sourceLabels[0], r.targetLabel]), [
      ['__meta_kubernetes_pod_label_baton_io_service', 'service'],
      ['__meta_kubernetes_pod_label_baton_io_role', 'role'],
      ['__meta_kubernetes_pod_label_baton_io_role', 'role'],
      ['__meta_kubernetes_pod_label_baton_io_pool', 'pool'],
      ['__meta_kubernetes_pod_label_apps_kubernetes_io_pod_index', 'replica_index'],
      ['__meta_kubernetes_pod_label_leaderworkerset_sigs_k8s_io_group_index', 'replica_index'],
      ['__meta_kubernetes_pod_annotation_controller_kubernetes_io_pod_deletion_cost', 'deletion_cost'],
    ]);
    const sm = find(objs, 'ServiceMonitor', 'baton', 'baton-system');
    const svcPorts = (find(get('base'), 'Service', 'baton').spec as { ports: { name: string }[] }).ports.map((p) => p.name);
    assert.ok(svcPorts.includes((sm.spec as { endpoints: { port: string }[] }).endpoints[0]!.port));
    const cm = find(objs, 'ConfigMap', 'baton-dashboards', 'baton-system');
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    for (const [file, json] of Object.entries(cm.data as Record<string, string>)) assert.ok((JSON.parse(json) as { uid?: string }).uid, `${file} has no uid`);
  });
});

describe('manifests/scripts/check-apiservice.sh', function () {
  this.timeout(20_000);
  const script = join(MANIFESTS_DIR, 'scripts/check-apiservice.sh');
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'baton-check-apiservice-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A stand-in kubectl that answers `get apiservice` as a cluster would.
  const fakeKubectl = (stdout: string, stderr: string, code: number): string => {
    const path = join(dir, `kubectl-${code}-${stdout.replace(/\W/g, '_')}`);
    writeFileSync(path, `#!/bin/sh\necho "$@" > "${path}.args"\nprintf '%s' '${stdout}'\nprintf '%s\\n' '${stderr}' >&2\nexit ${code}\n`, { mode: 0o755 });
    return path;
  };
  const check = (kubectl: string, ...args: string[]) => run('bash', [script, ...args], { env: { ...process.env, KUBECTL: kubectl } });

  it('passes when nobody owns v1beta1.external.metrics.k8s.io', async () => {
    const r = await check(fakeKubectl('', 'Error from server (NotFound): apiservices.apiregistration.k8s.io "v1beta1.external.metrics.k8s.io" not found', 1));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is free/);
  });

  it('passes when Baton already owns it (upgrade), and passes extra kubectl flags through', async () => {
    const k = fakeKubectl('baton-system/baton', '', 0);
    const r = await check(k, '--context', 'prod');
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(`${k}.args`, 'utf8'), /^--context prod get apiservice v1beta1\.external\.metrics\.k8s\.io /);
  });

  it('refuses loudly, naming the owner, when another provider has it', async () => {
    const r = await check(fakeKubectl('keda/keda-operator-metrics-apiserver', '', 0));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /REFUSING TO INSTALL/);
    assert.match(r.stderr, /Service keda\/keda-operator-metrics-apiserver/);
  });

  it('fails (not "free") when the cluster cannot be read', async () => {
    const r = await check(fakeKubectl('', 'Unable to connect to the server: dial tcp 127.0.0.1:6443: connection refused', 1));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read APIService/);
  });
});
