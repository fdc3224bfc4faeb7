// Leader election with a coordination.k8s.io/v1 Lease: whoever holds an unexpired lease writes; everyone else only
// computes. Every take-over and renewal is a replace with the read resourceVersion, so two engines cannot both win.
import type * as k8s from '@kubernetes/client-node';
import { statusOf, type KubeClients } from './kube.js';

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  durationS: number;
}

/**
 * A MicroTime as the apiserver parses it (RFC3339 with exactly six fraction digits). client-node 1.4 would send a Date
 * through toISOString (three digits), which the apiserver refuses with 400.
 */
export function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

export class LeaderElector {
  /** Local monotonic time (ms) until which our leadership is certain; 0 = not leader. */
  private leaderUntil = 0;

  constructor(private readonly c: KubeClients, private readonly o: LeaseOptions, private readonly clock: () => number = Date.now, private readonly onError: (err: Error) => void = () => undefined) {}

  /** True while the lease we last renewed has not run out (leaving a margin for clock skew). */
  isLeader(): boolean {
    return this.clock() < this.leaderUntil;
  }

  /** Acquire or renew; returns whether we lead now. Errors count as not leading. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const start = this.clock();
    try {
      const won = await this.attempt();
      this.leaderUntil = won ? start + this.o.durationS * 1000 * 0.8 : 0;
    } catch (err) {
      this.onError(err as Error);
      // Keep whatever time is left on a lease we hold; a failed renewal does not extend it.
      if (!this.isLeader()) this.leaderUntil = 0;
    }
    return this.isLeader();
  }

  private async attempt(): Promise<boolean> {
    const { namespace, name, identity, durationS } = this.o;
    const nowDate = new Date();
    const now = microTime(nowDate);
    let lease: k8s.V1Lease;
    try {
      lease = await this.c.coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      try {
        await this.c.coordination.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: durationS, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
        return true;
      } catch (e) {
        if (statusOf(e) === 409) return false; // someone else created it first
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? durationS) * 1000 < nowDate.getTime();
    const mine = spec.holderIdentity === identity;
    if (!mine && !expired && spec.holderIdentity) return false;
    const next: k8s.V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationS,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await this.c.coordination.replaceNamespacedLease({ name, namespace, body: next });
      return true;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      // The adapter and the engine of one pod share the pod's identity (they lead together): a conflict with the other
      // process renewing the same lease is not a lost election.
      const fresh = await this.c.coordination.readNamespacedLease({ name, namespace });
      const renewedAt = fresh.spec?.renewTime ? new Date(fresh.spec.renewTime).getTime() : 0;
      return fresh.spec?.holderIdentity === identity && renewedAt + (fresh.spec?.leaseDurationSeconds ?? durationS) * 1000 >= Date.now();
    }
  }

  /** Gives the lease up on a clean shutdown so a successor does not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.isLeader()) return;
    this.leaderUntil = 0;
    try {
      const lease = await this.c.coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.c.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: microTime(new Date(0)) } } });
    } catch {
      // best effort: the lease expires on its own
    }
  }
}
