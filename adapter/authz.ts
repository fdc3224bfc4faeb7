// Authorization by SubjectAccessReview (reference A10), cached per (user, uid, groups, extra, verb, namespace, metric)
// — everything the SAR is asked about — so the HPA's 15 s loop costs one SAR per TTL, not one per request.
// `system:masters` is allowed without asking, as in the generic apiserver. Concurrent misses for one key share a
// single SAR (singleflight), which has a deadline: a slow apiserver answer fails that request, and the next asks anew.
import type { UserIdentity } from './authn.js';
import { BoundedMap } from './bounded-map.js';
import { withDeadline } from './deadline.js';
import { GROUP, VERSION } from './discovery.js';

/** The spec of an authorization.k8s.io/v1 SubjectAccessReview (the subset we send). */
export interface SubjectAccessReviewSpec {
  user: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
  resourceAttributes?: { namespace: string; verb: string; group: string; version: string; resource: string };
  nonResourceAttributes?: { path: string; verb: string };
}

export interface AccessDecision {
  allowed: boolean;
  reason?: string;
}

/** Posts a SubjectAccessReview and returns its status; rejects when the review could not be made. */
export type SubjectAccessReviewer = (spec: SubjectAccessReviewSpec) => Promise<AccessDecision>;

export interface AuthorizerOptions {
  reviewer: SubjectAccessReviewer;
  /** How long allow and deny decisions are reused (generic apiserver default: 10 s). */
  ttlMs?: number;
  /** Bound on cached decisions; expired entries are swept when it is reached. */
  maxEntries?: number;
  /** Bound on the bytes of cached decisions (default 16 MiB): group and extra lists can be long. */
  maxBytes?: number;
  /** A SubjectAccessReview that has not answered by then fails (default 5 s). */
  reviewTimeoutMs?: number;
  now?: () => number;
  /** Called once per SAR actually sent (metrics). */
  onReview?: (outcome: 'allowed' | 'denied' | 'error') => void;
}

export const MASTERS_GROUP = 'system:masters';

interface Entry {
  /** Decided: when the decision expires. Pending: when the review's deadline passes. */
  expires: number;
  decision?: AccessDecision;
  pending?: Promise<AccessDecision>;
}

/** Verb the generic apiserver derives for GET on the collection path namespaces/{ns}/{metric}. */
export const METRIC_VERB = 'list';

export class MetricAuthorizer {
  private readonly cache: BoundedMap<Entry>;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly reviewTimeoutMs: number;

  constructor(private readonly opts: AuthorizerOptions) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.reviewTimeoutMs = opts.reviewTimeoutMs ?? 5_000;
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.cache = new BoundedMap<Entry>(this.maxEntries, opts.maxBytes ?? 16 * 1024 * 1024, (e) => (e.decision?.reason?.length ?? 0) * 2);
    this.now = opts.now ?? Date.now;
  }

  /** Synchronous when the decision is cached (the common case), a promise when a SAR has to be made. */
  authorize(identity: UserIdentity, namespace: string, metric: string): AccessDecision | Promise<AccessDecision> {
    if (identity.groups.includes(MASTERS_GROUP)) return ALLOWED_MASTERS;
    const key = cacheKey(identity, namespace, metric);
    const now = this.now();
    const hit = this.cache.get(key);
    // A pending review is shared until its deadline; past it (the timer should have failed it) it is not waited on.
    if (hit && hit.expires > now) return hit.decision ?? hit.pending!;
    if (this.cache.size >= this.maxEntries) this.sweep(now);
    const spec: SubjectAccessReviewSpec = {
      user: identity.user,
      groups: identity.groups,
      resourceAttributes: { namespace, verb: METRIC_VERB, group: GROUP, version: VERSION, resource: metric },
    };
    if (identity.uid !== undefined) spec.uid = identity.uid;
    if (Object.keys(identity.extra).length > 0) spec.extra = identity.extra;
    const entry: Entry = { expires: now + this.reviewTimeoutMs };
    entry.pending = withDeadline(this.opts.reviewer(spec), this.reviewTimeoutMs, 'SubjectAccessReview').then(
      (decision) => {
        this.opts.onReview?.(decision.allowed ? 'allowed' : 'denied');
        entry.decision = decision;
        entry.pending = undefined;
        entry.expires = this.now() + this.ttlMs;
        if (this.cache.get(key) === entry) this.cache.set(key, entry); // recount its bytes with the reason
        return decision;
      },
      (err: unknown) => {
        // Failures are not cached: the next request tries again.
        this.opts.onReview?.('error');
        if (this.cache.get(key) === entry) this.cache.delete(key);
        throw err;
      },
    );
    this.cache.set(key, entry);
    return entry.pending;
  }

  get size(): number {
    return this.cache.size;
  }

  get bytes(): number {
    return this.cache.bytes;
  }

  /** Expired entries go first; the map's own bounds then drop the oldest live ones. */
  private sweep(now: number): void {
    for (const [k, e] of [...this.cache.entries()]) if (e.value.expires <= now) this.cache.delete(k);
  }
}

/** Every field of the identity the SAR is asked about: two identities that differ in any of them never share a decision. */
function cacheKey(id: UserIdentity, namespace: string, metric: string): string {
  const extra = Object.keys(id.extra).sort().map((k) => [k, id.extra[k]]);
  return JSON.stringify([id.user, id.uid ?? null, id.groups, extra, METRIC_VERB, namespace, metric]);
}

const ALLOWED_MASTERS: AccessDecision = { allowed: true, reason: `member of ${MASTERS_GROUP}` };
