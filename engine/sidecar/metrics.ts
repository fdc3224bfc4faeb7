// prom-client metrics for every engine decision, on a registry of its own.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class EngineMetrics {
  readonly registry = new Registry();
  readonly desiredReplicas = new Gauge({ name: 'baton_engine_desired_replicas', help: 'Replicas the plan wants per service pool (what the pool HPA gets)', labelNames: ['service', 'role', 'pool'], registers: [this.registry] });
  readonly groups = new Gauge({ name: 'baton_engine_groups', help: 'Deployment Groups per service and RDMA tier', labelNames: ['service', 'tier'], registers: [this.registry] });
  readonly decisions = new Counter({ name: 'baton_engine_decisions_total', help: 'Placement reasons by code', labelNames: ['service', 'code'], registers: [this.registry] });
  readonly planSeconds = new Histogram({ name: 'baton_engine_plan_seconds', help: 'Time to compute one placement plan', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1], registers: [this.registry] });
  readonly cycles = new Counter({ name: 'baton_engine_cycles_total', help: 'Engine cycles by outcome', labelNames: ['result'], registers: [this.registry] });
  readonly patches = new Counter({ name: 'baton_engine_patches_total', help: 'Node label and pod annotation patches by result', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly conflicts = new Counter({ name: 'baton_engine_patch_conflicts_total', help: 'HTTP 409 answers to resourceVersion-guarded patches', registers: [this.registry] });
  readonly targetReplicas = new Gauge({ name: 'baton_engine_target_replicas', help: 'Replicas a pool\'s workload is asked for, read through its scale subresource', labelNames: ['service', 'pool', 'kind'], registers: [this.registry] });
  readonly readyReplicas = new Gauge({ name: 'baton_engine_ready_replicas', help: 'Ready replicas per service pool (a multi-node group counts once, when all its pods are Ready)', labelNames: ['service', 'pool'], registers: [this.registry] });
  readonly targetReads = new Counter({ name: 'baton_engine_target_reads_total', help: 'Scale subresource reads by result', labelNames: ['result'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'baton_engine_is_leader', help: '1 while this engine holds the Lease', registers: [this.registry] });
  readonly advisory = new Gauge({ name: 'baton_engine_advisory', help: '1 in advisory mode (computes and publishes, writes nothing)', registers: [this.registry] });
}
