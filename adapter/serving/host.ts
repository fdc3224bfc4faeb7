// The main thread's side of the serving worker (adapter/serving/worker.ts): starts it, keeps its mirror of the
// published values current (a scan every SYNC_MS: any new decision, whether the evaluator's own or adopted from an HA
// leader, is a new lastGood object), and answers its calls from the main thread's providers, reviewer and registry.
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import { publishedLabels, type Evaluator } from '../../rules/evaluator.js';
import type { RuleSet } from '../../rules/types.js';
import type { ServingRules } from '../cached-provider.js';
import type { AuthenticationConfig } from '../authn.js';
import type { SubjectAccessReviewer } from '../authz.js';
import type { PublishedGood } from '../cached-provider.js';
import { MetricError, type ExternalMetricsProvider } from '../provider.js';
import { parseSelector } from '../selector.js';
import type { AdapterLog, AdapterServer } from '../server.js';
import type { Call, FromWorker, PublishedEntry, RemoteError, ToWorker, WorkerInit } from './protocol.js';

/** How often the mirror catches up with new decisions: well inside an HPA's 15 s sync, cheap at thousands of services. */
const SYNC_MS = 200;
const START_TIMEOUT_MS = 30_000;

export interface ServingWorkerOptions {
  init: WorkerInit;
  evaluator: Pick<Evaluator, 'rules' | 'state'>;
  /** Answers what the mirror cannot (errors, /explain), synchronously, as the inline server would. */
  provider: ExternalMetricsProvider;
  reviewer?: SubjectAccessReviewer;
  registry: Registry;
  ready: () => true | string;
  log: AdapterLog;
  /** The worker died after it started (a bug): nothing serves any more. The CLI exits so that the pod restarts. */
  onFatal?: (err: Error) => void;
}

export async function startServingWorker(o: ServingWorkerOptions): Promise<AdapterServer> {
  // A small young generation: the worker keeps little, so frequent short scavenges beat rare long ones (and RSS).
  const worker = new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  const post = (m: ToWorker): void => worker.postMessage(m);
  const posted = new Map<string, PublishedGood | undefined>();
  let postedRules: RuleSet | undefined;
  let postedReady: true | string | undefined;

  const sync = (): void => {
    const rules = o.evaluator.rules();
    if (rules !== postedRules) {
      post({ type: 'rules', rules: servingRules(rules) });
      postedRules = rules;
      posted.clear();
    }
    const entries: PublishedEntry[] = [];
    for (const rule of rules.services) {
      const good = o.evaluator.state(rule.name)?.lastGood;
      if (posted.get(rule.name) === good && posted.has(rule.name)) continue;
      posted.set(rule.name, good);
      if (!good) {
        entries.push([rule.name, null]);
        continue;
      }
      const own = publishedLabels(rule);
      entries.push([rule.name, good.atMs, good.windowS ?? null, good.values.map((v) => {
        const i = rule.pools.findIndex((p) => p.name === v.pool);
        return own[i] === v.labels ? [v.pool, v.value] : [v.pool, v.value, { ...v.labels }];
      })]);
    }
    if (entries.length) post({ type: 'published', entries });
    const ready = o.ready();
    if (ready !== postedReady) {
      post({ type: 'ready', ready });
      postedReady = ready;
    }
  };

  const answer = async (c: Call): Promise<unknown> => {
    switch (c.method) {
      case 'getExternalMetric':
      case 'explain': {
        const matcher = parseSelector(c.selectorText).matches;
        return c.method === 'explain'
          ? o.provider.explain(c.namespace, c.metric, matcher, c.selectorText)
          : o.provider.getExternalMetric(c.namespace, c.metric, matcher, c.selectorText);
      }
      case 'review':
        if (!o.reviewer) throw new Error('no SubjectAccessReview configured');
        return o.reviewer(c.spec);
      case 'metrics':
        return o.registry.metrics();
    }
  };

  let closed: (() => void) | undefined;
  const listening = new Promise<Extract<FromWorker, { type: 'listening' }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the serving worker did not listen within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'listening':
          clearTimeout(timer);
          resolve(m);
          break;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(m.message));
          break;
        case 'log':
          o.log(m.level, m.message, m.fields);
          break;
        case 'call':
          answer(m.call).then(
            (value) => post({ type: 'reply', id: m.id, value }),
            (e: unknown) => post({ type: 'reply', id: m.id, error: remoteError(e) }),
          );
          break;
        case 'closed':
          closed?.();
          break;
      }
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  // The first rules and values go before the server listens, so it never answers from an empty mirror when values exist.
  sync();
  post({ type: 'init', init: o.init });
  let started: Extract<FromWorker, { type: 'listening' }>;
  try {
    started = await listening;
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  const timer = setInterval(sync, SYNC_MS);
  timer.unref();
  let closing = false;
  worker.on('error', (e) => o.log('error', 'serving worker failed', { error: String(e.stack ?? e) }));
  worker.once('exit', (code) => {
    if (closing) return;
    clearInterval(timer);
    const err = new Error(`the serving worker exited (${code}): nothing answers the External Metrics API any more`);
    o.log('error', err.message);
    o.onFatal?.(err);
  });

  const server: AdapterServer = {
    url: started.url,
    port: started.port,
    registry: o.registry,
    setAuthentication: (config: AuthenticationConfig) => post({ type: 'setAuthentication', config }),
    setServingCert: (certPem: string, keyPem: string) => post({ type: 'setServingCert', certPem, keyPem }),
    close: async () => {
      closing = true;
      clearInterval(timer);
      const done = new Promise<void>((r) => (closed = r));
      post({ type: 'close' });
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      await worker.terminate();
    },
  };
  if (started.metricsUrl) Object.assign(server, { metricsUrl: started.metricsUrl });
  if (started.selfSignedCaPem) Object.assign(server, { selfSignedCaPem: started.selfSignedCaPem });
  return server;
}

/** Only what serving reads of each rule crosses to the worker (not its PromQL, guards or policy). */
function servingRules(rs: RuleSet): ServingRules {
  return {
    services: rs.services.map((r) => {
      const out: ServingRules['services'][number] = { name: r.name, metric: r.metric, pools: r.pools, maxStalenessS: r.maxStalenessS };
      return r.namespaces ? { ...out, namespaces: r.namespaces } : out;
    }),
  };
}

function remoteError(e: unknown): RemoteError {
  if (e instanceof MetricError) return { message: e.message, code: e.code, reason: e.reason };
  return { message: e instanceof Error ? e.message : String(e) };
}
