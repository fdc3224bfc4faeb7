// A monitoring fault must never scale capacity down. When one of a service's engine targets stops answering scrapes, its
// counter's samples fade out of rate() over the next window and the decode TPS sum would read low. The vLLM preset
// answers nothing while that is happening, so the evaluator holds its last good value. Real Prometheus, two targets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Evaluator } from '../../rules/evaluator.js';
import { loadRuleFiles } from '../../rules/load.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { RulesProvider } from '../../rules/provider.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { FakeVllmExporter } from '../support/vllm-exporter.js';

const RULES = `services:
  - name: chat
    namespaces: [llm]
    engine: vllm
    match: {service: chat}
    window: 10s
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 40}
      - {name: decode-a, role: decode, gpuType: H100, preference: 0, minReplicas: 1, maxReplicas: 40}
      - {name: decode-b, role: decode, gpuType: H100, preference: 1, minReplicas: 0, maxReplicas: 40}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 30
`;

describe('scrape outage of one engine target (real Prometheus): no scale-in on the fading rate', function () {
  this.timeout(90_000);
  let a: FakeVllmExporter;
  let b: FakeVllmExporter;
  let tsdb: RunningTsdb | undefined;
  let evaluator: Evaluator;
  let client: PrometheusClient;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-outage-'));
    writeFileSync(join(dir, 'chat.yaml'), RULES);
    const ruleSet = (await loadRuleFiles([join(dir, 'chat.yaml')])).ruleSet!;
    a = new FakeVllmExporter('chat');
    b = new FakeVllmExporter('chat');
    a.setLoad('decode-a', { decodeTps: 3000, interTokenS: 0.02 });
    b.setLoad('decode-b', { decodeTps: 3000, interTokenS: 0.02 });
    const targets = [await a.start(), await b.start()];
    tsdb = await startTsdb('prometheus', { targets, labels: { service: 'chat' }, scrapeIntervalS: 1 });
    client = new PrometheusClient({ url: tsdb.url, timeoutMs: 2000 });
    evaluator = new Evaluator({ query: client.query, registry: new Registry(), log: () => {} });
    evaluator.setRules(ruleSet);
    evaluator.start();
  });

  after(async () => {
    await evaluator?.stop();
    client?.close();
    await tsdb?.stop();
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const decodeTotal = (p: RulesProvider): number | undefined => {
    try {
      let sum = 0;
      for (const s of p.getExternalMetric('llm', 'baton_desired_replicas', (l) => l.role === 'decode', 'role=decode')) sum += s.value;
      return sum;
    } catch {
      return undefined; // 503 while stale: the HPA holds
    }
  };

  it('holds the decode replicas while the dead target fades out of the rate window', async () => {
    const provider = new RulesProvider(evaluator);
    // 6,000 TPS = 6 units of decode once the 10 s window is full.
    const deadline = Date.now() + 45_000;
    for (;;) {
      if (decodeTotal(provider) === 6) break;
      if (Date.now() > deadline) throw new Error(`never settled at 6 decode replicas: ${decodeTotal(provider)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await b.stop(); // target b now fails every scrape: up{service="chat"} == 0 for it
    const seen: number[] = [];
    const problems = new Set<string>();
    // Inside the 10 s rate window the dead target's samples would drag the sum down. Observed for 7 s: near 10 s its
    // last samples leave the window, the clause rightly lets go, and what follows is a real (smaller) load.
    const end = Date.now() + 7_000;
    while (Date.now() < end) {
      const v = decodeTotal(provider);
      if (v !== undefined) seen.push(v);
      const problem = evaluator.state('chat')!.lastProblem;
      if (problem) problems.add(problem);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(seen.length > 10);
    assert.ok(Math.min(...seen) >= 6, `decode replicas went down during the scrape outage: ${seen.join(',')}`);
    assert.ok([...problems].some((p) => /decode TPS unusable/.test(p)), `the evaluator never held: ${[...problems].join('; ') || 'no problem seen'}`);
  });
});
