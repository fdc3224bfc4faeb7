// `baton explain` against a real adapter (startAdapter with client-certificate auth over a scripted Prometheus):
// the PromQL sent, the raw answer, the values and the policy's reasons, as text and as JSON; errors name the cause.
import assert from 'node:assert/strict';
import { explainCommand, explainUrl, type ExplainDocument } from '../../cli/commands/explain.js';
import { startAdapterHarness, startScriptedPrometheus, until, type AdapterHarness, type ScriptedPrometheusServer } from './harness.js';

const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const TBT_Q = 'histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{service="chat"}[1m])))';
const RULES = `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    guards:
      - {name: tbt_p99, promql: '${TBT_Q}', slo: 0.05, tiers: [{above: 0.9, scaleOut: 0.1}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 40}
`;

describe('baton explain against a real adapter', function () {
  this.timeout(30_000);
  let prom: ScriptedPrometheusServer | undefined;
  let h: AdapterHarness | undefined;

  before(async () => {
    prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 1500]]);
    prom.answers.set(TBT_Q, [[{}, 0.02]]);
    h = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url });
    await until('a first good evaluation', async () => h!.running.evaluator.state('chat')?.lastGood, 10_000);
  });

  after(async () => {
    await h?.close();
    await prom?.close();
  });

  async function explain(...args: string[]): Promise<string> {
    let printed = '';
    await explainCommand((t) => (printed += t)).exitOverride().parseAsync(args, { from: 'user' });
    return printed;
  }
  const auth = (): string[] => ['--server', h!.url, '--ca-file', h!.pki.servingCa, '--cert-file', h!.pki.userCert, '--key-file', h!.pki.userKey];

  it('prints the PromQL sent, the raw result, the computed value and the reasons', async () => {
    const text = await explain('llm', 'baton_desired_replicas', '--selector', 'role=decode', ...auth());
    assert.match(text, /^llm\/baton_desired_replicas {2}selector: "role=decode"\n/);
    assert.ok(text.includes(`    promql  ${DECODE_Q}\n`), text);
    assert.match(text, /result {2}vector, 1 series\n {12}\{pool="decode-h100"\} {2}1500\n/);
    assert.ok(text.includes(`    promql  ${TBT_Q}\n`), text);
    assert.match(text, /result {2}vector, 1 series\n {12}\{\} {2}0\.02\n/);
    // 1.5 units → decode 2; the prefill value is not selected.
    assert.match(text, /\nValues served\n {2}baton_desired_replicas\{pool="decode-h100",role="decode",service="chat"\} = 2 {3}\(computed /);
    assert.doesNotMatch(text, /prefill-h100"[^\n]*= \d/);
    assert.match(text, /\nReasons\n(?: {2}\S+ +chat[^\n]*\n)+/);
    assert.match(text, / {2}signal +chat[^\n]*: /);
    // The level arithmetic: 1500 tok/s / 1000 per unit = 1.5 units; prefill 1.5 × P/D rounded up per pool.
    assert.match(text, /\nHow chat's level was computed\n(?: {2}\S+ +[^\n]+\n)+/);
    assert.match(text, / {2}need +need = decode TPS 1500 \/ 1000 tok\/s per unit = 1\.5 units\n/);
    assert.match(text, / {2}prefill +prefill: 1\.5 × \d+\/\d+ = [\d.]+ units → prefill-h100 3 × 1/);
  });

  it('--json prints the document the adapter serves', async () => {
    const doc = JSON.parse(await explain('llm', 'baton_desired_replicas', '--json', ...auth())) as ExplainDocument;
    assert.equal(doc.namespace, 'llm');
    assert.equal(doc.selector, '');
    assert.deepEqual(doc.queries.map((q) => q.promql), [DECODE_Q, TBT_Q]);
    assert.deepEqual(doc.queries[0]!.raw, { kind: 'vector', series: [{ labels: { pool: 'decode-h100' }, value: 1500, timestampS: (doc.queries[0]!.raw as { series: { timestampS: number }[] }).series[0]!.timestampS }] });
    assert.deepEqual(Object.fromEntries(doc.values.map((v) => [v.labels.pool, v.value])), { 'prefill-h100': 3, 'decode-h100': 2 });
    assert.ok(doc.reasons.some((r) => r.code === 'signal' && r.service === 'chat'), JSON.stringify(doc.reasons));
    const steps = doc.derivations?.find((d) => d.service === 'chat')?.steps ?? [];
    assert.deepEqual(steps.filter((x) => x.step === 'level').map((x) => x.units), [1.5]);
  });

  it('shows a held evaluation and its problem when Prometheus answers nothing usable', async () => {
    prom!.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, NaN]]);
    const text = await until('a held evaluation', async () => {
      const t = await explain('llm', 'baton_desired_replicas', ...auth());
      assert.match(t, / {2}held +chat: decode TPS unusable/);
      return t;
    }, 10_000);
    assert.match(text, /\{pool="decode-h100"\} {2}not finite \(NaN or ±Inf\)\n/);
    prom!.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 1500]]);
  });

  it("errors carry the adapter's Status: unknown metric, bad selector, missing client certificate", async () => {
    await assert.rejects(explain('llm', 'nope', ...auth()), /answered 404 NotFound: metric nope is not defined by any rule/);
    await assert.rejects(explain('llm', 'baton_desired_replicas', '--selector', 'pool in (a', ...auth()), /answered 400 BadRequest: unable to parse label selector/);
    await assert.rejects(explain('llm', 'baton_desired_replicas', '--server', h!.url, '--ca-file', h!.pki.servingCa), /answered 401 Unauthorized: Unauthorized: no client certificate presented/);
  });

  it('verifies the serving certificate unless --insecure', async () => {
    const noCa = ['--server', h!.url, '--cert-file', h!.pki.userCert, '--key-file', h!.pki.userKey];
    await assert.rejects(explain('llm', 'baton_desired_replicas', ...noCa), /cannot reach the adapter at https:\/\/127\.0\.0\.1:\d+: .*(self-signed|certificate)/);
    const text = await explain('llm', 'baton_desired_replicas', ...noCa, '--insecure');
    assert.match(text, /Values served/);
  });

  it('refuses bad flags with a clear message', async () => {
    assert.throws(() => explainUrl({ server: 'http://127.0.0.1:1', namespace: 'a', metric: 'b' }), /--server must be an https:\/\/ URL/);
    assert.throws(() => explainUrl({ server: 'nope', namespace: 'a', metric: 'b' }), /--server must be a URL/);
    assert.equal(explainUrl({ server: 'https://h:1/', namespace: 'llm', metric: 'm', selector: 'a in (b,c)' }).toString(), 'https://h:1/explain/namespaces/llm/m?labelSelector=a+in+%28b%2Cc%29');
    await assert.rejects(explain('llm', 'm', '--server', h!.url, '--cert-file', h!.pki.userCert), /--cert-file and --key-file go together/);
    await assert.rejects(explain('llm', 'm', '--server', h!.url, '--ca-file', '/nonexistent/ca.crt'), /--ca-file \/nonexistent\/ca\.crt: ENOENT/);
  });
});
