// The serving worker: the HTTPS server (TLS, authentication, authorization cache, the HPA request path) in its own
// thread and heap, answering metric reads from a mirror of the published values. The evaluator's rounds allocate and
// keep thousands of objects per round; in the main thread their garbage collection paused every request. Here the
// request path pauses only for its own small heap. What the mirror cannot answer goes to the main thread.
import { parentPort } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { publishedLabels } from '../../rules/evaluator.js';
import type { AccessDecision } from '../authz.js';
import { CachedRulesProvider, type PublishedGood, type PublishedSource, type ServingRule, type ServingRules } from '../cached-provider.js';
import { MetricError, type Explanation, type ExternalMetricSample, type MetricErrorReason, type ServingProvider } from '../provider.js';
import { createAdapterServer, type AdapterServer, type AuthOptions } from '../server.js';
import type { Call, FromWorker, PublishedEntry, RemoteError, ToWorker, WorkerInit } from './protocol.js';

/** A call to the main thread that has not answered by then fails (the request answers 500, never hangs). */
const CALL_DEADLINE_MS = 5000;

const port = parentPort;
if (!port) throw new Error('adapter/serving/worker.ts runs as a worker thread');
const post = (m: FromWorker): void => port.postMessage(m);

/** The published values as the main thread last sent them. */
class Mirror implements PublishedSource {
  private ruleSet: ServingRules = { services: [] };
  private byName = new Map<string, ServingRule>();
  private readonly states = new Map<string, { lastGood?: PublishedGood }>();
  ready: true | string = 'no rules loaded';

  rules(): ServingRules {
    return this.ruleSet;
  }

  state(service: string): { lastGood?: PublishedGood } | undefined {
    return this.states.get(service);
  }

  setRules(rules: ServingRules): void {
    this.ruleSet = rules;
    this.byName = new Map(rules.services.map((r) => [r.name, r]));
    for (const name of [...this.states.keys()]) if (!this.byName.has(name)) this.states.delete(name);
  }

  apply(entries: PublishedEntry[]): void {
    for (const e of entries) {
      const rule = this.byName.get(e[0]);
      if (!rule) continue;
      if (e[1] === null) {
        this.states.delete(e[0]);
        continue;
      }
      const [, atMs, windowS, values] = e;
      const labels = publishedLabels(rule);
      const good: PublishedGood = {
        atMs,
        values: values.map(([pool, value, own]) => {
          const i = rule.pools.findIndex((p) => p.name === pool);
          const p = rule.pools[i];
          return { metric: rule.metric.name, labels: own ?? labels[i] ?? {}, role: p?.role ?? 'decode', pool, value };
        }),
      };
      if (windowS !== null) good.windowS = windowS;
      this.states.set(e[0], { lastGood: good });
    }
  }
}

let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

function call<T>(c: Call): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`the main thread did not answer ${c.method} within ${CALL_DEADLINE_MS} ms`));
    }, CALL_DEADLINE_MS);
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    post({ type: 'call', id, call: c });
  });
}

function remoteError(e: RemoteError): Error {
  return e.code && e.reason ? new MetricError(e.code, e.reason as MetricErrorReason, e.message) : new Error(e.message);
}

/** Errors and /explain: the main thread's own providers answer, so their words are exactly the inline server's. */
const mainThread: ServingProvider = {
  metricNames: () => [],
  getExternalMetric: (namespace, metric, _selector, selectorText) => call<ExternalMetricSample[]>({ method: 'getExternalMetric', namespace, metric, selectorText }),
  explain: (namespace, metric, _selector, selectorText) => call<Explanation>({ method: 'explain', namespace, metric, selectorText }),
};

const mirror = new Mirror();
let server: AdapterServer | undefined;

async function start(init: WorkerInit): Promise<void> {
  const auth: AuthOptions = 'insecureDev' in init.auth
    ? { insecureDev: true }
    : {
      authentication: init.auth.authentication,
      authorization: init.auth.authorization === 'all'
        ? { allowAllAuthenticated: true }
        : { reviewer: (spec) => call<AccessDecision>({ method: 'review', spec }), ...(init.auth.authorization.ttlMs !== undefined ? { ttlMs: init.auth.authorization.ttlMs } : {}) },
    };
  server = await createAdapterServer({
    provider: new CachedRulesProvider(mirror, Date.now, mainThread),
    tls: init.tls,
    auth,
    registry: new Registry(),
    extraMetrics: () => call<string>({ method: 'metrics' }),
    ready: () => mirror.ready,
    log: (level, message, fields) => post({ type: 'log', level, message, ...(fields ? { fields } : {}) }),
    ...(init.host !== undefined ? { host: init.host } : {}),
    ...(init.port !== undefined ? { port: init.port } : {}),
    ...(init.metricsPort !== undefined ? { metricsPort: init.metricsPort } : {}),
    ...(init.insecureWarnIntervalMs !== undefined ? { insecureWarnIntervalMs: init.insecureWarnIntervalMs } : {}),
  });
  post({ type: 'listening', url: server.url, port: server.port, ...(server.metricsUrl ? { metricsUrl: server.metricsUrl } : {}), ...(server.selfSignedCaPem ? { selfSignedCaPem: server.selfSignedCaPem } : {}) });
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'init':
      start(m.init).catch((e: unknown) => post({ type: 'failed', message: (e as Error)?.message ?? String(e) }));
      break;
    case 'rules':
      mirror.setRules(m.rules);
      break;
    case 'published':
      mirror.apply(m.entries);
      break;
    case 'ready':
      mirror.ready = m.ready;
      break;
    case 'reply': {
      const p = pending.get(m.id);
      if (!p) break;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(remoteError(m.error));
      else p.resolve(m.value);
      break;
    }
    case 'setAuthentication':
      server?.setAuthentication(m.config);
      break;
    case 'setServingCert':
      server?.setServingCert(m.certPem, m.keyPem);
      break;
    case 'close':
      void (server?.close() ?? Promise.resolve()).then(() => {
        post({ type: 'closed' });
        port.close();
      });
      break;
  }
});
