// The adapter ↔ engine contract with real files and a real startAdapter over the scripted Prometheus: the demand file
// carries the decided units; a fresh plan changes the per-pool values served (redistribution, and caps only with the
// engine's reason); a stale, missing or lagging plan leaves the adapter's own split, and explain says why.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdapter, type RunningAdapter } from '../../adapter/main.js';
import { applyPlan, parsePlanDocument, type EnginePlanDocument } from '../../adapter/plan-bridge.js';
import { parseDemand } from '../../engine/sidecar/config.js';
import { get } from '../adapter/fixtures.js';
import { startScriptedPrometheus, until, writePkiFiles, type ScriptedPrometheusServer } from '../adapter/harness.js';

const DECODE_Q = 'sum(rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const RULES = `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}'}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 30
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 0, maxReplicas: 40}
      - {name: decode-h100, role: decode, preference: 0, minReplicas: 0, maxReplicas: 40}
      - {name: decode-a100, role: decode, preference: 1, minReplicas: 0, maxReplicas: 40}
`;

interface Reason { code: string; service?: string; role?: string; message: string }

describe('adapter ↔ engine plan bridge (real startAdapter, real files)', function () {
  this.timeout(60_000);
  let prom: ScriptedPrometheusServer;
  let adapter: RunningAdapter;
  let dir: string;
  let demandFile: string;
  let planFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-plan-bridge-'));
    const rulesDir = join(dir, 'rules');
    mkdirSync(rulesDir);
    writeFileSync(join(rulesDir, 'chat.yaml'), RULES);
    demandFile = join(dir, 'demand.json');
    planFile = join(dir, 'plan.json');
    const pki = writePkiFiles(dir);
    prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{}, 3000]]); // 3 decode units → 3 prefill units at 1:1
    adapter = await startAdapter({
      rulesDir, prometheus: { url: prom.url, timeoutMs: 2000 }, port: 0, tls: { certFile: pki.servingCert, keyFile: pki.servingKey },
      security: { mode: 'insecure-dev' }, log: () => {}, engine: { demandFile, planFile, maxPlanAgeS: 60 },
    });
  });

  after(async () => {
    await adapter?.close();
    await prom?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function served(): Promise<Record<string, number>> {
    const r = await get(`${adapter.server.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/baton_desired_replicas?labelSelector=service%3Dchat`);
    assert.equal(r.status, 200, r.body);
    const items = (r.json as { items: { metricLabels: Record<string, string>; value: string }[] }).items;
    return Object.fromEntries(items.map((i) => [i.metricLabels.pool!, Number(i.value)]));
  }
  async function reasons(): Promise<Reason[]> {
    const r = await get(`${adapter.server.url}/explain/namespaces/llm/baton_desired_replicas?labelSelector=service%3Dchat`);
    assert.equal(r.status, 200, r.body);
    return (r.json as { reasons: Reason[] }).reasons;
  }
  function writePlan(doc: EnginePlanDocument): void {
    // tmp + rename, as the engine writes it
    writeFileSync(planFile + '.tmp', JSON.stringify(doc));
    renameSync(planFile + '.tmp', planFile);
  }
  const plan = (desired: Record<string, number>, o: Partial<EnginePlanDocument> = {}): EnginePlanDocument => ({
    generatedAt: new Date().toISOString(), desired: { chat: desired }, services: [{ service: 'chat', requested: { prefill: 3, decode: 3 } }], reasons: [], ...o,
  });

  it('writes each service’s decided units per role to the demand file, in the engine’s --demand format', async () => {
    const demand = await until('the demand file', async () => parseDemand(JSON.parse(readFileSync(demandFile, 'utf8')), demandFile), 10_000);
    const d = adapter.evaluator.state('chat')!.lastGood!.decision;
    assert.deepEqual(demand, [{ service: 'chat', units: { prefill: d.prefill.units, decode: d.decode.units } }]);
    assert.deepEqual(demand[0]!.units, { prefill: 3, decode: 3 });
    // It follows the decision.
    prom.answers.set(DECODE_Q, [[{}, 5000]]);
    await until('demand of 5 units', async () => {
      const u = parseDemand(JSON.parse(readFileSync(demandFile, 'utf8')))[0]!.units;
      return u.decode === 5 && u.prefill === 5 ? u : undefined;
    }, 10_000);
    prom.answers.set(DECODE_Q, [[{}, 3000]]);
    await until('demand back to 3 units', async () => (parseDemand(JSON.parse(readFileSync(demandFile, 'utf8')))[0]!.units.decode === 3 ? true : undefined), 10_000);
  });

  it('without a plan file serves its own split and says the plan is missing', async () => {
    rmSync(planFile, { force: true });
    await until('own split + engine-plan-missing', async () => {
      assert.deepEqual(await served(), { 'prefill-h100': 3, 'decode-h100': 3, 'decode-a100': 0 });
      return (await reasons()).some((r) => r.code === 'engine-plan-missing' && r.service === 'chat') ? true : undefined;
    }, 10_000);
  });

  it('a fresh plan changes the per-pool values served (pool fallback) and its reasons reach explain', async () => {
    writePlan(plan({ 'prefill-h100': 3, 'decode-h100': 1, 'decode-a100': 2 }, {
      reasons: [{ code: 'pool-fallback', service: 'chat', role: 'decode', pool: 'decode-a100', detail: { replicas: 2 }, message: 'decode-h100 exhausted: 2 replicas on decode-a100' }],
    }));
    const values = await until('the engine split', async () => {
      const v = await served();
      return v['decode-a100'] === 2 ? v : undefined;
    }, 10_000);
    assert.deepEqual(values, { 'prefill-h100': 3, 'decode-h100': 1, 'decode-a100': 2 });
    const rs = await reasons();
    assert.ok(rs.some((r) => r.code === 'engine:pool-fallback' && /exhausted/.test(r.message)), JSON.stringify(rs));
    assert.ok(rs.some((r) => r.code === 'engine-plan' && r.role === 'decode'), JSON.stringify(rs));
    // The decision itself is untouched: the demand still says 3 decode units.
    assert.equal(parseDemand(JSON.parse(readFileSync(demandFile, 'utf8')))[0]!.units.decode, 3);
  });

  it('a plan may cap a role only with the engine’s reason', async () => {
    writePlan(plan({ 'prefill-h100': 2, 'decode-h100': 3, 'decode-a100': 0 }));
    await until('the uncapped prefill without a reason', async () => {
      const rs = await reasons();
      return rs.some((r) => r.code === 'engine-plan-lower' && r.role === 'prefill') ? rs : undefined;
    }, 10_000);
    assert.equal((await served())['prefill-h100'], 3, 'no cap without an engine reason');
    writePlan(plan({ 'prefill-h100': 2, 'decode-h100': 3, 'decode-a100': 0 }, {
      reasons: [{ code: 'capped', service: 'chat', role: 'prefill', detail: {}, message: 'capped: decode cannot be placed → prefill capped at 2 of 3 units to keep the ratio' }],
    }));
    await until('the capped prefill', async () => ((await served())['prefill-h100'] === 2 ? true : undefined), 10_000);
    assert.ok((await reasons()).some((r) => r.code === 'engine:capped' && r.role === 'prefill'));
  });

  it('a stale plan falls back to the adapter’s own split with engine-plan-stale', async () => {
    writePlan(plan({ 'prefill-h100': 3, 'decode-h100': 1, 'decode-a100': 2 }));
    await until('the engine split', async () => ((await served())['decode-a100'] === 2 ? true : undefined), 10_000);
    writePlan(plan({ 'prefill-h100': 3, 'decode-h100': 1, 'decode-a100': 2 }, { generatedAt: new Date(Date.now() - 120_000).toISOString() }));
    const rs = await until('the stale fallback', async () => {
      const v = await served();
      if (v['decode-a100'] !== 0) return undefined;
      assert.deepEqual(v, { 'prefill-h100': 3, 'decode-h100': 3, 'decode-a100': 0 });
      return reasons();
    }, 10_000);
    const stale = rs.find((r) => r.code === 'engine-plan-stale');
    assert.ok(stale && /s old \(max 60 s\)/.test(stale.message), JSON.stringify(rs));
  });
});

describe('applyPlan (pure)', () => {
  const rule = {
    name: 'chat',
    pools: [
      { name: 'p', role: 'prefill', unitsPerReplica: 1 },
      { name: 'd', role: 'decode', unitsPerReplica: 1 },
    ],
  } as unknown as Parameters<typeof applyPlan>[0];
  const decision = { prefill: { units: 4, pools: { p: 4 }, replicas: 4 }, decode: { units: 4, pools: { d: 4 }, replicas: 4 } } as unknown as Parameters<typeof applyPlan>[1];
  const values = [
    { metric: 'm', labels: {}, role: 'prefill' as const, pool: 'p', value: 4 },
    { metric: 'm', labels: {}, role: 'decode' as const, pool: 'd', value: 4 },
  ];
  const now = Date.parse('2026-01-01T00:00:10Z');

  it('a plan made for other units is refused for both roles (engine-plan-behind), never taken for one', () => {
    const doc = parsePlanDocument({ generatedAt: '2026-01-01T00:00:00Z', desired: { chat: { p: 2, d: 6 } }, services: [{ service: 'chat', requested: { prefill: 2, decode: 4 }, demanded: { prefill: 2, decode: 4 } }] });
    const out = applyPlan(rule, decision, values, { doc }, now, 60);
    assert.deepEqual(out.values.map((v) => v.value), [4, 4], 'the old bridge published the engine decode (6) beside its own prefill (4)');
    assert.ok(out.reasons.some((r) => r.code === 'engine-plan-behind' && r.role === 'prefill'));
    assert.ok(!out.reasons.some((r) => r.code === 'engine-plan'));
  });

  it('a ready-guard cap during a cold start is adopted whole: the pair stays the engine\'s one decision', () => {
    // The adapter decided prefill 3, decode 2; decode pods are still starting, so the engine holds prefill at 1.
    const d = { prefill: { units: 3, pools: { p: 3 }, replicas: 3 }, decode: { units: 2, pools: { d: 2 }, replicas: 2 } } as unknown as Parameters<typeof applyPlan>[1];
    const own = [
      { metric: 'm', labels: {}, role: 'prefill' as const, pool: 'p', value: 3 },
      { metric: 'm', labels: {}, role: 'decode' as const, pool: 'd', value: 2 },
    ];
    const doc = parsePlanDocument({
      generatedAt: '2026-01-01T00:00:05Z',
      desired: { chat: { p: 1, d: 2 } },
      services: [{ service: 'chat', requested: { prefill: 1, decode: 2 }, demanded: { prefill: 3, decode: 2 } }],
      reasons: [{ code: 'ready-guard', service: 'chat', role: 'prefill', message: 'decode is not Ready → prefill held at 1 units' }],
    });
    const out = applyPlan(rule, d, own, { doc }, now, 60);
    assert.deepEqual(out.values.map((v) => v.value), [1, 2], 'before: {prefill 3, decode 2} (engine-plan-behind for the capped role only)');
    assert.deepEqual(out.reasons.filter((r) => r.code === 'engine-plan').map((r) => r.role), ['prefill', 'decode']);
  });

  it('a plan behind the decision that holds a role for readiness is still taken whole: the guard is not lifted by a newer level', () => {
    // Load rises while decode pods start: the adapter now decides prefill 7, decode 5; the engine's last plan was made
    // for {5, 4} and holds prefill at 3 until decode is Ready. Publishing the adapter's own 7/5 would start prefill
    // ahead of decode (the e2e saw prefill 7 with 2 of 5 decode pods Ready).
    const d = { prefill: { units: 7, pools: { p: 7 }, replicas: 7 }, decode: { units: 5, pools: { d: 5 }, replicas: 5 } } as unknown as Parameters<typeof applyPlan>[1];
    const own = [
      { metric: 'm', labels: {}, role: 'prefill' as const, pool: 'p', value: 7 },
      { metric: 'm', labels: {}, role: 'decode' as const, pool: 'd', value: 5 },
    ];
    const doc = parsePlanDocument({
      generatedAt: '2026-01-01T00:00:05Z',
      desired: { chat: { p: 3, d: 4 } },
      services: [{ service: 'chat', requested: { prefill: 3, decode: 4 }, demanded: { prefill: 5, decode: 4 } }],
      reasons: [{ code: 'ready-guard', service: 'chat', role: 'prefill', message: 'decode is not Ready → prefill held at 3 units' }],
    });
    const out = applyPlan(rule, d, own, { doc }, now, 60);
    assert.deepEqual(out.values.map((v) => v.value), [3, 4], 'the engine\'s pair, until it plans for the new level');
    assert.deepEqual(out.reasons.filter((r) => r.code === 'engine-plan').map((r) => r.role), ['prefill', 'decode']);
    assert.ok(out.reasons.some((r) => r.code === 'engine-plan-guarded'), 'says why a plan behind the decision was taken');
    // Without a readiness hold, a plan behind is still refused whole (the engine catches up next cycle).
    const free = parsePlanDocument({ ...doc, reasons: [] });
    assert.deepEqual(applyPlan(rule, d, own, { doc: free }, now, 60).values.map((v) => v.value), [7, 5]);
  });

  it('one role failing a check refuses the plan for the other role too', () => {
    const doc = parsePlanDocument({ generatedAt: '2026-01-01T00:00:05Z', desired: { chat: { p: 5 } }, services: [{ service: 'chat', demanded: { prefill: 4, decode: 4 } }] });
    const out = applyPlan(rule, decision, values, { doc }, now, 60);
    assert.deepEqual(out.values.map((v) => v.value), [4, 4]);
    assert.ok(out.reasons.some((r) => r.code === 'engine-plan-mismatch' && r.role === 'decode'));
  });

  it('rejects malformed plan documents with the field named', () => {
    assert.throws(() => parsePlanDocument({ generatedAt: 'x', desired: {} }, 'f.json'), /f\.json: generatedAt/);
    assert.throws(() => parsePlanDocument({ generatedAt: '2026-01-01T00:00:00Z', desired: { chat: { p: -1 } } }, 'f.json'), /f\.json: desired\.chat\.p/);
  });
});
