import assert from 'node:assert/strict';
import { loadRuleText } from '../../rules/load.js';
import type { QueryResult } from '../../rules/prometheus.js';
import type { History } from '../../whatif/history.js';
import { runWhatIf, whatIfQueries } from '../../whatif/replay.js';

const rule = loadRuleText(`services:
  - name: chat
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: 'sum(rate(tokens_total[1m]))'
    wake: {promql: 'sum(gateway_queue)', idleSeconds: 120}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1, signalRecoveryS: 0}
    pools:
      - {name: p, role: prefill, minReplicas: 0, maxReplicas: 8}
      - {name: d, role: decode, minReplicas: 0, maxReplicas: 8}
`, 'chat.yaml').services[0]!;

describe('whatif: a scale-to-zero rule replays as the adapter runs it', () => {
  it('asks for the wake query; asleep without decode TPS, woken by it, back to zero after the idle window', () => {
    assert.ok(whatIfQueries(rule).some((q) => q.name === 'wake' && q.promql === 'sum(gateway_queue)'));
    // 15 s steps over 10 min: nothing until 2 min, demand (queue 2, then 1500 tok/s) until 5 min, then idle.
    const times = Array.from({ length: 41 }, (_, i) => i * 15);
    const vector = (v: number | undefined): QueryResult => ({ kind: 'vector', series: v === undefined ? [] : [{ labels: {}, value: v, timestampS: 0 }] });
    const history: History = {
      times, stepS: 15, errors: {},
      at(name, i) {
        const t = times[i]!;
        const busy = t >= 120 && t < 300;
        if (name === 'wake') return vector(busy ? 2 : 0);
        if (name === 'decodeTps') return vector(t < 135 ? undefined : busy ? 1500 : 0);
        return undefined;
      },
    };
    const run = runWhatIf({ rule, history, hpaSyncPeriodS: 15 });
    const d = (t: number) => run.steps.find((s) => s.t === t)!;
    assert.equal(d(105).replicas.d, 0, 'asleep, and not held: no decode TPS is no outage while the wake query answers');
    assert.equal(d(105).held, false);
    assert.ok(d(120).reasons.includes('wake'));
    assert.ok(d(135).replicas.d! >= 1);
    assert.equal(d(240).replicas.d, 2, '1500 tok/s at 1000 per unit');
    assert.ok(d(405).replicas.d! >= 1, 'idle for less than the window');
    assert.equal(d(600).replicas.d, 0);
    assert.equal(d(600).replicas.p, 0);
  });
});
