// Decision memory across adapter restarts: a restarted evaluator given the saved memory publishes what the old one
// held (the hysteresis band keeps holding), where a fresh one drops to the bare need; and the file is read defensively.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATE_FILE_VERSION, StateFileWriter, loadStateFile } from '../../adapter/state-file.js';
import type { ServiceMemory } from '../../rules/evaluator.js';
import { all, chatRules, DECODE_Q, harness, TBT_Q, vector } from '../rules/fixtures.js';

// 20 % scale-in band: a need of 5.0 decode units holds a level of 6 (6 × 0.8 = 4.8 < 5).
const HELD = chatRules().replace('scaleInHysteresis: 0,', 'scaleInHysteresis: 0.2,');
type H = ReturnType<typeof harness>;
const load = (h: H, tps: number) => {
  h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, tps]));
  h.prom.answers.set(TBT_Q, vector([{}, 0.02]));
};
const desired = (h: H) => Object.fromEntries(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '').map((s) => [s.labels.pool, s.value]));

describe('adapter: decision memory across restarts (--state-file)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'baton-state-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a restarted evaluator with the memory holds the level; without it, the same load publishes less', async () => {
    const saved: Record<string, ServiceMemory> = {};
    const before = harness(HELD, { onDecision: (s, m) => (saved[s] = m) });
    load(before, 6000);
    await before.evaluator.evaluateAll();
    before.advance(5);
    load(before, 5000); // inside the band: held at 6 decode, 9 prefill
    await before.evaluator.evaluateAll();
    assert.deepEqual(desired(before), { 'prefill-h100': 9, 'decode-h100': 6 });
    assert.deepEqual(saved.chat!.published, { 'prefill-h100': 9, 'decode-h100': 6 });
    assert.deepEqual(before.evaluator.memories(), saved);

    const restored = harness(HELD, { restore: structuredClone(saved) });
    assert.deepEqual(restored.evaluator.state('chat')!.restored?.published, saved.chat!.published);
    load(restored, 5000);
    await restored.evaluator.evaluateAll();
    assert.deepEqual(desired(restored), { 'prefill-h100': 9, 'decode-h100': 6 }, 'the restart changed nothing');
    assert.equal(restored.evaluator.state('chat')!.restored, undefined, 'used until the first decision only');

    const fresh = harness(HELD);
    load(fresh, 5000);
    await fresh.evaluator.evaluateAll();
    assert.deepEqual(desired(fresh), { 'prefill-h100': 8, 'decode-h100': 5 }, 'forgetting the level would have lowered both');
  });

  it('a memory for other pools is not used (the rule changed while the adapter was down)', () => {
    const logs: string[] = [];
    const h = harness(HELD, { restore: { chat: { policy: { decodeUnits: 6 }, published: { 'prefill-h100': 9, 'decode-h200': 6 }, atMs: 0 } }, log: (m) => logs.push(m) });
    assert.deepEqual(h.evaluator.state('chat')!.policy, {});
    assert.match(logs.join('\n'), /chat: saved memory is for other pools/);
  });

  it('writes one atomic JSON document and reads it back; old, broken or foreign files start fresh with a warning', async () => {
    const file = join(dir, 'state.json');
    const mem: ServiceMemory = { policy: { decodeUnits: 5.5, lastScaleUpAt: 100 }, published: { p: 9, d: 6 }, atMs: 1_000_000 };
    const w = new StateFileWriter(file, () => ({ chat: mem }), () => undefined, () => 1_000_000, 20);
    w.changed();
    await new Promise((r) => setImmediate(r));
    w.changed(); // decisions within the throttle share one write
    assert.equal(w.writes, 0);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(w.writes, 1);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: number; services: Record<string, ServiceMemory> };
    assert.equal(doc.version, STATE_FILE_VERSION);
    const logs: string[] = [];
    const log = (m: string) => logs.push(m);
    assert.deepEqual(loadStateFile(file, 1_000_000 + 60_000, 900, log), { chat: mem });
    assert.deepEqual(loadStateFile(file, 1_000_000 + 901_000, 900, log), {});
    assert.match(logs.pop()!, /services\.chat is 901 s old/);
    assert.deepEqual(loadStateFile(join(dir, 'missing.json'), 0, 900, log), {});
    assert.equal(logs.length, 0, 'a missing file is the normal first start: no warning');
    writeFileSync(file, '{"version": 1, "services": {');
    assert.deepEqual(loadStateFile(file, 0, 900, log), {});
    assert.match(logs.pop()!, /is not JSON/);
    writeFileSync(file, JSON.stringify({ version: 7, services: {} }));
    assert.deepEqual(loadStateFile(file, 0, 900, log), {});
    assert.match(logs.pop()!, /not a version 1 Baton state document/);
    writeFileSync(file, JSON.stringify({ version: 1, services: { a: { ...mem, published: { p: 1.5 } }, b: mem, c: { ...mem, policy: { decodeUnits: -1 } } } }));
    assert.deepEqual(Object.keys(loadStateFile(file, 1_000_000, 900, log)), ['b']);
    assert.match(logs.join('\n'), /services\.a has published\.p that must be integer/);
    assert.match(logs.join('\n'), /services\.c has policy\.decodeUnits that must be >= 0/);
  });

  it('validates the whole memory against the state schema: a malformed recentNeeds is refused with a warning', () => {
    const file = join(dir, 'state.json');
    const mem: ServiceMemory = { policy: { decodeUnits: 5.5, recentNeeds: [[1, 2]] }, published: { p: 9 }, atMs: 1_000_000 };
    const bad = [
      { policy: { recentNeeds: 'garbage' } },
      { policy: { recentNeeds: [[1, 'x']] } },
      { policy: { recentNeeds: [[1]] } },
      { policy: { lastScaleUpAt: 'soon' } },
      { policy: { decodeUnits: 1, unknownField: 1 } },
    ];
    const services: Record<string, unknown> = { good: mem };
    bad.forEach((b, i) => (services[`bad${i}`] = { ...mem, ...b }));
    writeFileSync(file, JSON.stringify({ version: 1, services }));
    const logs: string[] = [];
    assert.deepEqual(Object.keys(loadStateFile(file, 1_000_000, 900, (m) => logs.push(m))), ['good']);
    assert.equal(logs.length, bad.length, logs.join('\n'));
    assert.match(logs[0]!, /services\.bad0 has policy\.recentNeeds that must be array; that service starts fresh/);
    assert.match(logs[4]!, /must NOT have additional properties \(unknownField\)/);
  });
});
