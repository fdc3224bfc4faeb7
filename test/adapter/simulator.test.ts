// End to end on the product's front door: the simulator's exporter (a fixed P/D fleet whose load the test steers) →
// a real Prometheus / VictoriaMetrics scraping it every second → `startAdapter` (rules dir, evaluator, provider, HTTPS
// server with client-certificate auth) → HTTPS GETs of the External Metrics API. A load change in the simulated fleet
// must show up as the desired replicas decide() computes for both roles at the configured ratio.
import assert from 'node:assert/strict';
import { decide } from '../../engine/core/decide.js';
import { loadRuleText } from '../../rules/load.js';
import { policyConfigOf, type ServiceRule } from '../../rules/types.js';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import { homogeneousPools } from '../../sim/scenario.js';
import { startTsdb, type RunningTsdb, type TsdbKind } from '../support/prometheus.js';
import { startAdapterHarness, until, type AdapterHarness } from './harness.js';

// Every request generates exactly 350 tokens, so the decode rate is rps × 350 once the window holds steady load.
const MIX = [{ input: 3000, output: 350 }];
const OUTPUT_TOKENS = 350;
// Simulated seconds per wall second; counters are divided by it, so rate() reads simulated tokens per second.
const SPEED = 20;

const RULES = `services:
  - name: service-a
    namespaces: [llm]
    engine: vllm
    match: {service: service-a}
    window: 8s
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h100, role: decode, gpuType: H100, minReplicas: 1, maxReplicas: 40}
    guards:
      - {name: tbt_p99, slo: 0.5, tiers: [{above: 1.0, scaleOut: 0.1}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 10
`;

const METRIC_PATH = '/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/baton_desired_replicas';

interface ValueListItem {
  metricName: string;
  metricLabels: Record<string, string>;
  timestamp: string;
  window?: number;
  value: string;
}

function ruleOf(text: string): ServiceRule {
  const { services, errors } = loadRuleText(text, 'service-a.yaml');
  assert.deepEqual(errors, []);
  return services[0]!;
}

/** Desired replicas per pool decide() gives for a decode rate with no history (stability is off in these rules). */
function expectedFor(rule: ServiceRule, decodeTps: number): Record<string, number> {
  const d = decide(policyConfigOf(rule), { now: 0, decodeTps, guards: { tbt_p99: 0.03 }, replicas: {} }, {});
  return { ...d.prefill.pools, ...d.decode.pools };
}

for (const kind of ['prometheus', 'victoria-metrics'] as TsdbKind[]) {
  describe(`adapter on the simulator's exporter through a real ${kind}`, function () {
    this.timeout(120_000);
    let sim: ExporterScenario | undefined;
    let tsdb: RunningTsdb | undefined;
    let h: AdapterHarness | undefined;
    const rule = ruleOf(RULES);

    before(async () => {
      // A fixed fleet large enough for both loads: only the load changes, never the pods.
      sim = await startExporterScenario({
        rps: 2,
        mix: MIX,
        lengths: 'trace',
        speed: SPEED,
        ratesPerSimSecond: true,
        pools: homogeneousPools('H100', 20),
        policy: new StaticPolicy({ 'prefill-h100': 8, 'decode-h100': 6 }),
        stepMs: 100,
      });
      tsdb = await startTsdb(kind, { targets: [new URL(sim.url).host], scrapeIntervalS: 1 });
      h = await startAdapterHarness({ rules: { 'service-a.yaml': RULES }, prometheusUrl: tsdb.url });
    });

    after(async () => {
      await h?.close();
      await tsdb?.stop();
      await sim?.close();
    });

    /** Desired replicas per pool as the External Metrics API serves them over HTTPS. */
    async function served(selector: string): Promise<Record<string, number>> {
      const r = await h!.get(`${METRIC_PATH}?labelSelector=${encodeURIComponent(selector)}`);
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body}`);
      assert.equal(r.json.kind, 'ExternalMetricValueList');
      const out: Record<string, number> = {};
      for (const item of r.json.items as ValueListItem[]) {
        assert.equal(item.metricName, 'baton_desired_replicas');
        assert.equal(item.window, 8);
        assert.match(item.value, /^\d+$/, 'replicas are whole Quantities');
        out[item.metricLabels.pool!] = Number(item.value);
      }
      return out;
    }

    /** Waits until both roles' HPAs (one selector per pool, as they would be written) read `want`. */
    async function settle(want: Record<string, number>, why: string): Promise<void> {
      await until(`${why}: desired ${JSON.stringify(want)}`, async () => {
        const got = { ...(await served('service=service-a,pool=prefill-h100')), ...(await served('role in (decode),service=service-a')) };
        if (Object.entries(want).every(([k, v]) => got[k] === v)) return got;
        throw new Error(`served ${JSON.stringify(got)}; state ${JSON.stringify(h!.running.evaluator.state('service-a')?.queries.map((q) => [q.name, q.value ?? q.error]))}`);
      }, 60_000);
    }

    it('a load change in the simulated fleet shows up as desired replicas for both roles at the 3:2 ratio', async () => {
      // 4.6 req/s × 350 tokens = 1,600 TPS = 1.6 units: decode ⌈1.6⌉ = 2, prefill ⌈1.6 × 3/2⌉ = ⌈2.4⌉ = 3.
      const lowRps = 1600 / OUTPUT_TOKENS;
      const low = { 'prefill-h100': 3, 'decode-h100': 2 };
      assert.deepEqual(expectedFor(rule, 1600), low);
      sim!.setRate(lowRps);
      await settle(low, 'low load via setRate');

      // Up through the exporter's HTTP control: 3,700 TPS = 3.7 units: decode 4, prefill ⌈5.55⌉ = 6.
      const high = { 'prefill-h100': 6, 'decode-h100': 4 };
      assert.deepEqual(expectedFor(rule, 3700), high);
      const res = await fetch(`${sim!.url}/load`, { method: 'POST', body: JSON.stringify({ rps: 3700 / OUTPUT_TOKENS }) });
      assert.equal(res.status, 200, await res.text());
      await settle(high, 'high load via POST /load');

      // What the evaluator computed from is the real TSDB's answer: the decode rate near the offered 3,700 TPS.
      const trace = h!.running.evaluator.state('service-a')!.queries.find((q) => q.name === 'decodeTps')!;
      // The preset's rate, plus its scrape-outage clause (answers nothing while a target of the service is down).
      assert.match(trace.promql, /^sum by \(pool\) \(rate\(vllm:generation_tokens_total\{service="service-a",pool=~"decode-h100"\}\[8s\]\)\) unless on\(\) \(count\(up\{service="service-a"\} == 0 and on\(instance\) /);
      assert.ok(Math.abs(trace.value! / 3700 - 1) < 0.15, `decode TPS from ${kind}: ${trace.value}`);
      // The served prefill:decode split follows the ratio: prefill = ⌈decode units × 3/2⌉.
      const units = trace.value! / 1000;
      const now = await served('service=service-a');
      if (now['decode-h100'] === Math.ceil(units)) assert.equal(now['prefill-h100'], Math.ceil((units * 3) / 2));

      // And back down.
      sim!.setRate(lowRps);
      await settle(low, 'low load again');
    });

    it('serves a Status for a bad selector, an unknown metric and a namespace the rules do not allow', async () => {
      const bad = await h!.get(`${METRIC_PATH}?labelSelector=${encodeURIComponent('pool in (a')}`);
      assert.equal(bad.status, 400);
      assert.equal(bad.json.kind, 'Status');
      assert.equal(bad.json.reason, 'BadRequest');
      const unknown = await h!.get('/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/nope');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.reason, 'NotFound');
      const otherNs = await h!.get('/apis/external.metrics.k8s.io/v1beta1/namespaces/default/baton_desired_replicas');
      assert.equal(otherNs.status, 404);
      assert.match(otherNs.json.message, /not served in namespace default/);
    });
  });
}
