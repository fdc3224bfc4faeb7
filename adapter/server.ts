// The External Metrics API server: HTTPS, discovery, the metric path, Status errors, front-proxy authentication,
// SubjectAccessReview authorization, health, OpenAPI 404s, /metrics and /explain (reference A, F4).
// Provider calls are synchronous reads of cached values: nothing on a request path waits on Prometheus.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import { RequestAuthenticator, type AuthenticationConfig, type UserIdentity } from './authn.js';
import { MetricAuthorizer, METRIC_VERB, type AccessDecision, type SubjectAccessReviewer } from './authz.js';
import { selfSignedServing } from './certs.js';
import { API_GROUP_JSON, API_GROUP_LIST_JSON, GROUP, GROUP_VERSION, ResourceListCache } from './discovery.js';
import { AdapterHttpMetrics, type RouteLabel } from './http-metrics.js';
import { MetricError, type ExternalMetricSample, type LabelMatcher, type ServingProvider } from './provider.js';
import { NonFiniteQuantityError } from './quantity.js';
import { renderValueList } from './render.js';
import { BoundedMap } from './bounded-map.js';
import { requestNameProblem } from './request-limits.js';
import { parseSelector, SelectorParseError } from './selector.js';
import { statusJson, type StatusReason } from './status.js';

export type TlsOptions =
  | { certFile: string; keyFile: string }
  | { certPem: string; keyPem: string }
  /** Development only: a throwaway CA and a cert for localhost/127.0.0.1 (+ dnsNames). */
  | { selfSigned: true; dnsNames?: string[] };

export type AuthorizationOptions =
  /** SubjectAccessReview per (user, groups, verb, namespace, metric), cached `ttlMs` (default 10 s). */
  | { reviewer: SubjectAccessReviewer; ttlMs?: number }
  /** Every authenticated identity may read every metric (a cluster-less setup, e.g. kubectl with a client cert). */
  | { allowAllAuthenticated: true };

export type AuthOptions =
  | { authentication: AuthenticationConfig; authorization: AuthorizationOptions }
  /** No authentication, no authorization; logged loudly at start and (rate-limited) on every request. */
  | { insecureDev: true };

export type LogLevel = 'info' | 'warn' | 'error';
export type AdapterLog = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface AdapterServerOptions {
  provider: ServingProvider;
  tls: TlsOptions;
  auth: AuthOptions;
  /** Listen address; loopback by default. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** prom-client registry for the adapter's own metrics and `/metrics`; a fresh one when omitted. */
  registry?: Registry;
  /** Also serve `/metrics` over plain HTTP on this port (same host); `/metrics` on the TLS port is always there. */
  metricsPort?: number;
  /** Extra readiness condition (e.g. rules loaded); must not depend on Prometheus. Return a reason string when not ready. */
  ready?: () => true | string;
  log?: AdapterLog;
  /** Minimum interval between the per-request insecure-dev warnings (default 10 s). */
  insecureWarnIntervalMs?: number;
  /** More exposition text appended to `/metrics` (a serving worker adds the main thread's registry). */
  extraMetrics?: () => Promise<string>;
}

export interface AdapterServer {
  /** https://host:port */
  readonly url: string;
  readonly port: number;
  /** http://host:metricsPort/metrics when `metricsPort` was given. */
  readonly metricsUrl?: string;
  /** The CA that signed the serving cert when `tls.selfSigned` (for clients that verify). */
  readonly selfSignedCaPem?: string;
  readonly registry: Registry;
  /** Swap the front-proxy/client CA settings (CA rotation); new handshakes use them at once. */
  setAuthentication(config: AuthenticationConfig): void;
  /** Swap the serving certificate (rotation) without dropping the listener. */
  setServingCert(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

export const INSECURE_DEV_WARNING =
  'INSECURE: --insecure-dev is on: the External Metrics API answers anyone without authentication or authorization. Never use this in a cluster.';

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const ROUTE = Symbol('baton.route');
type Tagged = http.ServerResponse & { [ROUTE]?: RouteLabel };
const INSECURE_IDENTITY: UserIdentity = { user: 'insecure-dev', groups: ['system:masters'], extra: {}, via: 'insecure-dev' };
const ALLOW: AccessDecision = { allowed: true };
const SELECTOR_CACHE_MAX = 10_000;
const SELECTOR_CACHE_BYTES = 8 * 1024 * 1024;

function defaultLog(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component: 'adapter', message, ...fields })}\n`);
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`TLS ${what} ${path}: ${(err as Error).message}`);
  }
}

export function servingMaterial(tls: TlsOptions): { certPem: string; keyPem: string; caPem?: string } {
  if ('selfSigned' in tls) {
    const s = selfSignedServing(tls.dnsNames ?? []);
    return { certPem: s.certPem, keyPem: s.keyPem, caPem: s.caPem };
  }
  if ('certFile' in tls) return { certPem: readPem(tls.certFile, 'certificate file'), keyPem: readPem(tls.keyFile, 'key file') };
  return { certPem: tls.certPem, keyPem: tls.keyPem };
}

/** A single named route parameter (express types allow arrays for wildcards; ours are plain segments). */
function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join('/') : '';
}

function send(res: http.ServerResponse, code: number, contentType: string, body: string): void {
  res.statusCode = code;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

function sendStatus(res: http.ServerResponse, code: number, reason: StatusReason, message: string): void {
  send(res, code, JSON_TYPE, statusJson(code, reason, message));
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function createAdapterServer(opts: AdapterServerOptions): Promise<AdapterServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? defaultLog;
  const registry = opts.registry ?? new Registry();
  const metrics = new AdapterHttpMetrics(registry);
  const provider = opts.provider;
  const resourceList = new ResourceListCache();
  // Parsed selectors; a parsed matcher holds about its text's size again.
  const selectorCache = new BoundedMap<LabelMatcher | SelectorParseError>(SELECTOR_CACHE_MAX, SELECTOR_CACHE_BYTES, () => 512);

  const insecure = 'insecureDev' in opts.auth;
  let authConfig: AuthenticationConfig | undefined;
  let authenticator: RequestAuthenticator | undefined;
  let authorizer: MetricAuthorizer | undefined;
  if (!('insecureDev' in opts.auth)) {
    authConfig = opts.auth.authentication;
    authenticator = new RequestAuthenticator(authConfig);
    const authz = opts.auth.authorization;
    if ('reviewer' in authz) {
      authorizer = new MetricAuthorizer({
        reviewer: authz.reviewer,
        ...(authz.ttlMs !== undefined ? { ttlMs: authz.ttlMs } : {}),
        onReview: (outcome) => metrics.review(outcome),
      });
    }
  } else {
    log('warn', INSECURE_DEV_WARNING);
  }
  const warnEvery = opts.insecureWarnIntervalMs ?? 10_000;
  let lastInsecureWarn = 0;
  let suppressedInsecure = 0;

  const serving = servingMaterial(opts.tls);
  let currentCert = serving.certPem;
  let currentKey = serving.keyPem;
  const clientCas = () => (authConfig ? [authConfig.requestHeader.clientCaPem, ...(authConfig.clientCaPem ? [authConfig.clientCaPem] : [])] : undefined);

  /** Who is asking, or undefined after answering 401. */
  function identify(req: http.IncomingMessage, path: string, res: http.ServerResponse): UserIdentity | undefined {
    if (insecure) {
      const now = Date.now();
      if (now - lastInsecureWarn >= warnEvery) {
        log('warn', INSECURE_DEV_WARNING, { path, suppressedSinceLastWarning: suppressedInsecure });
        lastInsecureWarn = now;
        suppressedInsecure = 0;
      } else suppressedInsecure++;
      return INSECURE_IDENTITY;
    }
    const result = authenticator!.authenticate(req);
    if (result.ok) return result.identity;
    sendStatus(res, 401, 'Unauthorized', `Unauthorized: ${result.reason}`);
    return undefined;
  }

  function selectorFor(text: string): LabelMatcher | SelectorParseError {
    let m = selectorCache.get(text);
    if (m === undefined) {
      try {
        m = parseSelector(text).matches;
      } catch (err) {
        if (!(err instanceof SelectorParseError)) throw err;
        m = err;
      }
      selectorCache.set(text, m);
    }
    return m;
  }

  /** Rendered ExternalMetricValueLists by the samples array they came from: a provider that returns the same array
   * while a value is unchanged (CachedRulesProvider) gets its body rendered once, not per HPA request. */
  const renderedBodies = new WeakMap<readonly ExternalMetricSample[], string>();

  function answerMetric(
    kind: 'metric' | 'explain',
    namespace: string,
    metric: string,
    selectorText: string,
    res: http.ServerResponse,
    id: UserIdentity,
    decision: AccessDecision,
  ): void | Promise<void> {
    if (!decision.allowed) {
      const why = decision.reason ? `: ${decision.reason}` : '';
      sendStatus(
        res,
        403,
        'Forbidden',
        `${metric}.${GROUP} is forbidden: User "${id.user}" cannot ${METRIC_VERB} resource "${metric}" in API group "${GROUP}" in the namespace "${namespace}"${why}`,
      );
      return;
    }
    const matcher = selectorFor(selectorText);
    if (matcher instanceof SelectorParseError) {
      sendStatus(res, 400, 'BadRequest', matcher.message);
      return;
    }
    const failed = (err: unknown): void => providerFailed(err, res, namespace, metric, selectorText);
    try {
      if (kind === 'explain') {
        const ex = provider.explain(namespace, metric, matcher, selectorText);
        if (ex instanceof Promise) return ex.then((e) => send(res, 200, JSON_TYPE, JSON.stringify(e)), failed);
        send(res, 200, JSON_TYPE, JSON.stringify(ex));
        return;
      }
      const samples = provider.getExternalMetric(namespace, metric, matcher, selectorText);
      if (samples instanceof Promise) return samples.then((s) => sendSamples(s, res, namespace, metric, selectorText), failed);
      sendSamples(samples, res, namespace, metric, selectorText);
    } catch (err) {
      failed(err);
    }
  }

  function sendSamples(samples: ExternalMetricSample[], res: http.ServerResponse, namespace: string, metric: string, selectorText: string): void {
    if (samples.length === 0) {
      // An empty list is an HPA error anyway ("no metrics returned"); a Status says why.
      sendStatus(res, 404, 'NotFound', `no series of external metric ${metric} in namespace ${namespace} match the selector "${selectorText}"`);
      return;
    }
    let body = renderedBodies.get(samples);
    if (body === undefined) {
      try {
        body = renderValueList(samples);
      } catch (err) {
        providerFailed(err, res, namespace, metric, selectorText);
        return;
      }
      renderedBodies.set(samples, body);
    }
    send(res, 200, JSON_TYPE, body);
  }

  function providerFailed(err: unknown, res: http.ServerResponse, namespace: string, metric: string, selectorText: string): void {
    if (err instanceof MetricError) {
      sendStatus(res, err.code, err.reason, err.message);
    } else if (err instanceof NonFiniteQuantityError) {
      log('error', 'refusing to publish a non-finite metric value', { namespace, metric, selector: selectorText, value: String(err.value) });
      sendStatus(res, 500, 'InternalError', `the value of external metric ${metric} is not a finite number; refusing to publish it`);
    } else {
      log('error', 'provider failed', { namespace, metric, selector: selectorText, error: String((err as Error)?.stack ?? err) });
      sendStatus(res, 500, 'InternalError', `Internal error occurred: unable to fetch metrics`);
    }
  }

  /** Authenticate, authorize (SAR, cached) and answer; shared by the express routes and the fast path. */
  function serveMetric(kind: 'metric' | 'explain', req: http.IncomingMessage, path: string, res: http.ServerResponse, namespace: string, metric: string, selectorText: string): void | Promise<void> {
    (res as Tagged)[ROUTE] = kind;
    const id = identify(req, path, res);
    if (!id) return;
    // Names are checked before the SAR and before any cache sees them.
    const bad = requestNameProblem(namespace, metric, selectorText);
    if (bad) {
      sendStatus(res, 400, 'BadRequest', bad);
      return;
    }
    const decision = authorizer ? authorizer.authorize(id, namespace, metric) : ALLOW;
    if (!(decision instanceof Promise)) return answerMetric(kind, namespace, metric, selectorText, res, id, decision);
    return decision.then(
      (d) => answerMetric(kind, namespace, metric, selectorText, res, id, d),
      (err: unknown) => {
        log('error', 'SubjectAccessReview failed', { user: id.user, error: String(err) });
        sendStatus(res, 500, 'InternalError', 'Internal error occurred: authorization check failed');
      },
    );
  }

  function metricRoute(kind: 'metric' | 'explain') {
    return (req: Request, res: Response): void | Promise<void> => {
      const raw = req.query.labelSelector;
      const selectorText = typeof raw === 'string' ? raw : Array.isArray(raw) && typeof raw[0] === 'string' ? raw[0] : '';
      return serveMetric(kind, req, req.path, res, param(req, 'namespace'), param(req, 'metric'), selectorText);
    };
  }

  function discovery(body: () => string) {
    return (req: Request, res: Response): void => {
      (res as Tagged)[ROUTE] = 'discovery';
      // Any authenticated caller may read discovery (reference A2: the legacy fallback carries no groups).
      if (!identify(req, req.path, res)) return;
      send(res, 200, JSON_TYPE, body());
    };
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', false);

  const instrument = (res: http.ServerResponse): void => {
    const start = performance.now();
    metrics.inFlight.inc();
    res.once('close', () => {
      metrics.inFlight.dec();
      metrics.observe((res as Tagged)[ROUTE] ?? 'other', res.statusCode, (performance.now() - start) / 1000);
    });
  };
  app.use((_req: Request, res: Response, next: NextFunction) => {
    instrument(res);
    next();
  });

  /**
   * The HPA's request, routed without express: every HPA polls every 15 s, so this is the path that must be cheap.
   * Anything unusual (percent-encoded or extra segments, a trailing slash, other methods) goes through express.
   */
  const METRIC_PREFIX = `/apis/${GROUP_VERSION}/namespaces/`;
  const fastMetric = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const url = req.url;
    if (req.method !== 'GET' || url === undefined || !url.startsWith(METRIC_PREFIX)) return false;
    const q = url.indexOf('?', METRIC_PREFIX.length);
    const path = q < 0 ? url : url.slice(0, q);
    const slash = path.indexOf('/', METRIC_PREFIX.length);
    if (slash < 0 || path.indexOf('/', slash + 1) >= 0 || path.includes('%')) return false;
    const namespace = path.slice(METRIC_PREFIX.length, slash);
    const metric = path.slice(slash + 1);
    if (namespace === '' || metric === '') return false;
    let selectorText = '';
    if (q >= 0) {
      const first = new URLSearchParams(url.slice(q + 1)).get('labelSelector');
      if (first !== null) selectorText = first;
    }
    instrument(res);
    const done = serveMetric('metric', req, path, res, namespace, metric, selectorText);
    if (done) done.catch((err: unknown) => {
      log('error', 'request failed', { error: String((err as Error)?.stack ?? err) });
      if (!res.headersSent) sendStatus(res, 500, 'InternalError', 'Internal error occurred');
    });
    return true;
  };

  const health = (check: () => true | string) => (_req: Request, res: Response) => {
    (res as Tagged)[ROUTE] = 'health';
    const r = check();
    if (r === true) send(res, 200, TEXT_TYPE, 'ok');
    else send(res, 503, TEXT_TYPE, `not ready: ${r}`);
  };
  let listening = false;
  const readiness = () => (!listening ? 'not listening yet' : opts.ready ? opts.ready() : true);
  app.get('/healthz', health(() => true));
  app.get('/livez', health(() => true));
  app.get('/readyz', health(readiness));

  const serveMetrics = async (_req: Request, res: Response) => {
    (res as Tagged)[ROUTE] = 'metrics';
    const own = await registry.metrics();
    send(res, 200, registry.contentType, opts.extraMetrics ? `${own}\n${await opts.extraMetrics()}` : own);
  };
  app.get('/metrics', serveMetrics);

  app.get(['/openapi/v2', '/openapi/v3', '/openapi/v3/*rest'], (_req: Request, res: Response) => {
    (res as Tagged)[ROUTE] = 'openapi';
    sendStatus(res, 404, 'NotFound', 'this server does not publish an OpenAPI document');
  });

  app.get('/apis', discovery(() => API_GROUP_LIST_JSON));
  app.get(`/apis/${GROUP}`, discovery(() => API_GROUP_JSON));
  app.get(`/apis/${GROUP_VERSION}`, discovery(() => resourceList.render(provider.metricNames())));
  app.get(`/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`, metricRoute('metric'));
  app.get('/explain/namespaces/:namespace/:metric', metricRoute('explain'));

  app.use((req: Request, res: Response) => {
    sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${req.path})`);
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err.status === 400 || err instanceof URIError) {
      sendStatus(res, 400, 'BadRequest', `malformed request: ${err.message}`);
      return;
    }
    log('error', 'request failed', { error: String(err.stack ?? err) });
    sendStatus(res, 500, 'InternalError', 'Internal error occurred');
  });

  const server = https.createServer(
    {
      cert: currentCert,
      key: currentKey,
      ...(insecure ? {} : { requestCert: true, rejectUnauthorized: false, ca: clientCas() }),
    },
    (req, res) => {
      if (!fastMetric(req, res)) app(req, res);
    },
  );
  // Outlive Go's 90 s idle-connection timeout so the aggregator, not we, closes idle keep-alive connections.
  server.keepAliveTimeout = 95_000;
  server.headersTimeout = 96_000;
  const port = await listen(server, opts.port ?? 0, host);

  let metricsServer: http.Server | undefined;
  let metricsUrl: string | undefined;
  if (opts.metricsPort !== undefined) {
    const metricsApp = express();
    metricsApp.disable('x-powered-by');
    metricsApp.get('/metrics', serveMetrics);
    metricsServer = http.createServer(metricsApp);
    const mp = await listen(metricsServer, opts.metricsPort, host);
    metricsUrl = `http://${host}:${mp}/metrics`;
  }
  listening = true;
  log('info', 'External Metrics API server listening', {
    url: `https://${host}:${port}`,
    metricsUrl,
    authentication: insecure ? 'NONE (insecure-dev)' : 'front-proxy/x509 client certificates',
    authorization: insecure ? 'NONE (insecure-dev)' : authorizer ? 'SubjectAccessReview' : 'any authenticated user',
  });

  const refreshContext = () =>
    server.setSecureContext({
      cert: currentCert,
      key: currentKey,
      ...(insecure ? {} : { ca: clientCas() }),
    });

  const result: AdapterServer = {
    url: `https://${host}:${port}`,
    port,
    registry,
    setAuthentication(config: AuthenticationConfig) {
      if (insecure || !authenticator) throw new Error('setAuthentication: this server runs with --insecure-dev');
      authenticator.update(config);
      authConfig = config;
      refreshContext();
    },
    setServingCert(certPem: string, keyPem: string) {
      currentCert = certPem;
      currentKey = keyPem;
      refreshContext();
    },
    async close() {
      listening = false;
      await Promise.all([closeServer(server), metricsServer ? closeServer(metricsServer) : Promise.resolve()]);
    },
  };
  if (metricsUrl) Object.assign(result, { metricsUrl });
  if (serving.caPem) Object.assign(result, { selfSignedCaPem: serving.caPem });
  return result;
}
