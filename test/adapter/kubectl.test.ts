// A real client: kubectl (built from the pinned Kubernetes sources by scripts/build-cluster.sh) with a kubeconfig that
// points straight at a running `startAdapter`: server = the adapter's URL, certificate-authority = its serving CA,
// client certificate signed by its --client-ca-file. Values, discovery and Status errors as kubectl shows them.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCert } from '../../adapter/certs.js';
import { testPki } from './fixtures.js';
import { startAdapterHarness, startScriptedPrometheus, until, type AdapterHarness, type ScriptedPrometheusServer } from './harness.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const RULES = `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 40}
`;
const BASE = '/apis/external.metrics.k8s.io/v1beta1';

/** kubectl's path: build-cluster.sh builds what is missing (cold: ~10 minutes) and prints the bin dir last. */
function buildKubectl(): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn('bash', [join(repoRoot, 'scripts/build-cluster.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    child.once('error', rej);
    child.once('exit', (code) => {
      const binDir = out.trim().split('\n').pop() ?? '';
      const kubectl = join(binDir, 'kubectl');
      if (code === 0 && existsSync(kubectl)) res(kubectl);
      else rej(new Error(`scripts/build-cluster.sh exited ${code}; no kubectl in '${binDir}':\n${err}`));
    });
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl, asynchronously: the adapter answering it lives in this process. */
function kubectl(bin: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    const child = execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      res({ code, stdout, stderr });
    });
    // kubectl prompts for a user name on a 401 when it has no credentials: never let it wait on us.
    child.stdin?.end();
  });
}

function kubeconfig(server: string, ca: string, user: { cert: string; key: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: baton',
    `    cluster: {server: "${server}", certificate-authority: "${ca}"}`,
    'users:',
    '  - name: alice',
    `    user: {client-certificate: "${user.cert}", client-key: "${user.key}"}`,
    'contexts:',
    '  - name: baton',
    '    context: {cluster: baton, user: alice}',
    'current-context: baton',
    '',
  ].join('\n');
}

describe('kubectl get --raw against the adapter (client certificate auth)', function () {
  this.timeout(60_000);
  let bin: string;
  let prom: ScriptedPrometheusServer | undefined;
  let h: AdapterHarness | undefined;
  let config: string;
  let rogue: string;

  before(async function () {
    this.timeout(1_800_000); // a cold kubectl build compiles Kubernetes
    bin = await buildKubectl();
    prom = await startScriptedPrometheus();
    // 1,500 decode TPS = 1.5 units: decode 2, prefill ⌈1.5 × 3/2⌉ = 3.
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 1500]]);
    h = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url });
    config = join(h.dir, 'kubeconfig');
    writeFileSync(config, kubeconfig(h.url, h.pki.servingCa, { cert: h.pki.userCert, key: h.pki.userKey }));
    // Same user name, but signed by a CA the adapter does not trust.
    const rogueCert = { cert: join(h.dir, 'rogue.crt'), key: join(h.dir, 'rogue.key') };
    const other = issueCert(testPki().rogueCa, { cn: 'alice', organizations: ['team-a'], client: true });
    writeFileSync(rogueCert.cert, other.certPem);
    writeFileSync(rogueCert.key, other.keyPem, { mode: 0o600 });
    rogue = join(h.dir, 'kubeconfig-rogue');
    writeFileSync(rogue, kubeconfig(h.url, h.pki.servingCa, rogueCert));
    await until('a first good evaluation', async () => h!.running.evaluator.state('chat')?.lastGood, 10_000);
  });

  after(async () => {
    await h?.close();
    await prom?.close();
  });

  it('returns the values for a label selector', async () => {
    const r = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', `${BASE}/namespaces/llm/baton_desired_replicas?labelSelector=role%3Ddecode`]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { kind: string; items: { metricLabels: Record<string, string>; value: string }[] };
    assert.equal(list.kind, 'ExternalMetricValueList');
    assert.deepEqual(list.items.map((i) => [i.metricLabels, i.value]), [[{ service: 'chat', role: 'decode', pool: 'decode-h100' }, '2']]);

    const all = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', `${BASE}/namespaces/llm/baton_desired_replicas`]);
    assert.equal(all.code, 0, all.stderr);
    const values = Object.fromEntries((JSON.parse(all.stdout) as { items: { metricLabels: { pool: string }; value: string }[] }).items.map((i) => [i.metricLabels.pool, i.value]));
    assert.deepEqual(values, { 'prefill-h100': '3', 'decode-h100': '2' });
  });

  it('follows a change of the Prometheus answer', async () => {
    prom!.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 3700]]); // 3.7 units: decode 4, prefill ⌈5.55⌉ = 6
    await until('the new values through kubectl', async () => {
      const r = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', `${BASE}/namespaces/llm/baton_desired_replicas?labelSelector=service%3Dchat`]);
      const values = Object.fromEntries((JSON.parse(r.stdout) as { items: { metricLabels: { pool: string }; value: string }[] }).items.map((i) => [i.metricLabels.pool, i.value]));
      assert.deepEqual(values, { 'prefill-h100': '6', 'decode-h100': '4' });
      return values;
    }, 15_000);
  });

  it('reads discovery', async () => {
    const r = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', BASE]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { kind: string; groupVersion: string; resources: { name: string }[] };
    assert.equal(list.kind, 'APIResourceList');
    assert.equal(list.groupVersion, 'external.metrics.k8s.io/v1beta1');
    assert.ok(list.resources.some((x) => x.name === 'baton_desired_replicas'), r.stdout);
  });

  it('shows the Status of a bad selector as a BadRequest from the server', async () => {
    const r = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', `${BASE}/namespaces/llm/baton_desired_replicas?labelSelector=pool%20in%20(a`]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error from server \(BadRequest\): unable to parse label selector "pool in \(a" at column 11/m, r.stderr);
  });

  it('shows NotFound for an unknown metric', async () => {
    const r = await kubectl(bin, ['--kubeconfig', config, 'get', '--raw', `${BASE}/namespaces/llm/no_such_metric`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(NotFound\):.*no_such_metric/);
  });

  it('with a client certificate from an untrusted CA, kubectl is told it is not logged in', async () => {
    const r = await kubectl(bin, ['--kubeconfig', rogue, 'get', '--raw', `${BASE}/namespaces/llm/baton_desired_replicas`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /You must be logged in to the server \(Unauthorized: client certificate rejected/, r.stderr);
  });
});
