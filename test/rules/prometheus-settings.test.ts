import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleFiles, loadRuleText } from '../../rules/load.js';
import { withFileSettings } from '../../rules/prometheus-settings.js';
import { startAdapterHarness, startScriptedPrometheus, until } from '../adapter/harness.js';

const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const service = `services:
  - name: chat
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    queryIntervalSeconds: 1
    pools:
      - {name: prefill-h100, role: prefill, maxReplicas: 40}
      - {name: decode-h100, role: decode, maxReplicas: 40}
`;

describe('rules: Prometheus settings in a rule file (tenancy headers, mutual TLS, deadline, secrets as files)', () => {
  it('reads headers, header files, credentials, certificates and the timeout; relative paths are the rule file’s', () => {
    const { errors, prometheus } = loadRuleText(`prometheus:
  headers: {X-Scope-OrgID: team-a}
  headerFiles: {THANOS-TENANT: secrets/tenant}
  bearerTokenFile: /var/run/token
  caFile: ca.crt
  certFile: /tls/tls.crt
  keyFile: /tls/tls.key
  timeout: 2500ms
${service}`, '/etc/baton/rules/chat.yaml');
    assert.deepEqual(errors, []);
    assert.deepEqual(prometheus, {
      headers: { 'X-Scope-OrgID': 'team-a' }, headerFiles: { 'THANOS-TENANT': '/etc/baton/rules/secrets/tenant' },
      bearerTokenFile: '/var/run/token', caFile: '/etc/baton/rules/ca.crt', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', timeoutMs: 2500,
    });
  });

  it('refuses inline secrets, headers Baton sets, half a key pair and two kinds of credentials, naming where', () => {
    const errs = (block: string) => loadRuleText(`prometheus:\n${block}\n${service}`, 'r.yaml').errors;
    assert.match(errs('  bearerToken: abc').map((e) => e.message).join(), /bearerToken/);
    const auth = errs('  headers: {Authorization: Bearer x}');
    assert.equal(auth[0]!.path, 'prometheus.headers.Authorization');
    assert.match(auth[0]!.message, /set by Baton/);
    assert.equal(errs('  certFile: a.crt')[0]!.path, 'prometheus.certFile');
    assert.match(errs('  bearerTokenFile: t\n  basicAuthFile: b')[0]!.message, /one kind of credentials/);
    assert.match(errs('  timeout: soon')[0]!.path, /prometheus/);
  });

  it('one rule file says how to reach Prometheus: a second one is an error naming the first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-promset-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), `prometheus: {headers: {X-Scope-OrgID: a}}\n${service}`);
      writeFileSync(join(dir, 'b.yaml'), `prometheus: {headers: {X-Scope-OrgID: b}}\n${service.replace('name: chat', 'name: chat-b')}`);
      const r = await loadRuleFiles([join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
      assert.equal(r.ruleSet, undefined);
      assert.match(r.errors[0]!.message, /already given in .*a\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the flags win field by field; headers merge, a flag replacing the file’s header of the same name', () => {
    const file = { headers: { 'X-Scope-OrgID': 'file', 'X-Extra': 'e' }, bearerTokenFile: '/f/token', caFile: '/f/ca', timeoutMs: 2000 };
    assert.deepEqual(withFileSettings({ url: 'http://p' }, file), { url: 'http://p', headers: { 'X-Scope-OrgID': 'file', 'X-Extra': 'e' }, bearerTokenFile: '/f/token', caFile: '/f/ca', timeoutMs: 2000 });
    assert.deepEqual(withFileSettings({ url: 'http://p', headers: { 'X-Scope-OrgID': 'flag' }, basicAuthFile: '/c/ba', timeoutMs: 900 }, file),
      { url: 'http://p', headers: { 'X-Scope-OrgID': 'flag', 'X-Extra': 'e' }, basicAuthFile: '/c/ba', caFile: '/f/ca', timeoutMs: 900 });
  });

  it('the adapter queries with the rule file’s tenant header, and follows a reload that changes it', async function () {
    this.timeout(20_000);
    const prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 2500]]);
    const h = await startAdapterHarness({ rules: { 'chat.yaml': `prometheus: {headers: {X-Scope-OrgID: team-a}}\n${service}` }, prometheusUrl: prom.url });
    try {
      await until('a first good evaluation', async () => h.running.evaluator.state('chat')?.lastGood, 10_000);
      assert.equal(prom.headers.at(-1)!['x-scope-orgid'], 'team-a');
      writeFileSync(join(h.rulesDir, 'chat.yaml'), `prometheus: {headers: {X-Scope-OrgID: team-b}}\n${service}`);
      await h.running.store.reload();
      await until('queries with the new tenant', async () => (prom.headers.at(-1)!['x-scope-orgid'] === 'team-b' ? true : undefined), 10_000);
    } finally {
      await h.close();
      await prom.close();
    }
  });
});
