// Messages between the main thread (rules, evaluator, decisions) and the serving worker (HTTPS, authentication, the
// HPA request path). The worker answers metric reads from a mirror of the published values; whatever its mirror cannot
// answer (errors, /explain, SubjectAccessReviews, the main registry's metrics) it asks the main thread for.
import type { AuthenticationConfig } from '../authn.js';
import type { SubjectAccessReviewSpec, AccessDecision } from '../authz.js';
import type { LogLevel, TlsOptions } from '../server.js';
import type { ServingRules } from '../cached-provider.js';

export interface WorkerInit {
  tls: TlsOptions;
  auth: { insecureDev: true } | { authentication: AuthenticationConfig; authorization: 'all' | { review: true; ttlMs?: number } };
  host?: string;
  port?: number;
  metricsPort?: number;
  insecureWarnIntervalMs?: number;
}

/**
 * One service's published values: [service, atMs, windowS, [pool, value, labels?][]], or [service, null] when it has
 * none. Labels travel only when they are not the rule's own (publishedLabels), so the worker keeps one object per pool.
 */
export type PublishedEntry = [string, number, number | null, [string, number, Record<string, string>?][]] | [string, null];

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'rules'; rules: ServingRules }
  | { type: 'published'; entries: PublishedEntry[] }
  | { type: 'ready'; ready: true | string }
  | { type: 'reply'; id: number; value?: unknown; error?: RemoteError }
  | { type: 'setAuthentication'; config: AuthenticationConfig }
  | { type: 'setServingCert'; certPem: string; keyPem: string }
  | { type: 'close' };

export type Call =
  | { method: 'getExternalMetric' | 'explain'; namespace: string; metric: string; selectorText: string }
  | { method: 'review'; spec: SubjectAccessReviewSpec }
  | { method: 'metrics' };

export type FromWorker =
  | { type: 'listening'; url: string; port: number; metricsUrl?: string; selfSignedCaPem?: string }
  | { type: 'failed'; message: string }
  | { type: 'call'; id: number; call: Call }
  | { type: 'log'; level: LogLevel; message: string; fields?: Record<string, unknown> }
  | { type: 'closed' };

/** An error crossing the port: a MetricError keeps its code and reason. */
export interface RemoteError {
  message: string;
  code?: 400 | 403 | 404 | 500 | 503;
  reason?: string;
}

export type { AccessDecision };
