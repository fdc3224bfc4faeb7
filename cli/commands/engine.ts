// `baton engine`: the sidecar that places slots on nodes (switch affinity, heterogeneous pools, the ratio guard).
import { Command } from 'commander';
import { loadEngineConfig } from '../../engine/sidecar/config.js';
import { Engine } from '../../engine/sidecar/engine.js';
import { integer } from '../options.js';

interface EngineFlags {
  config: string;
  demand?: string;
  kubeconfig?: string;
  interval: number;
  advisory?: boolean;
  identity?: string;
  lease: string;
  leaseDuration: number;
  planConfigmap: string;
  planFile?: string;
  port?: number;
  host: string;
  once?: boolean;
}

export function engineCommand(): Command {
  return new Command('engine')
    .description('sidecar engine: plans where slots go (RDMA tiers, Deployment Groups, pool fallback, ratio guard) and labels nodes so kube-scheduler binds there')
    .requiredOption('--config <file>', 'engine config (YAML/JSON): namespace, topologyKeys, services with priority, affinity, ratio and pools')
    .option('--demand <file>', 'desired units per service and role, rewritten by the adapter (re-read every cycle)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--interval <s>', 'seconds between cycles', integer('--interval'), 10)
    .option('--advisory', 'compute and publish the plan (HTTP, --plan-file) but write nothing to the cluster', false)
    .option('--identity <id>', 'leader-election identity (default hostname-pid)')
    .option('--lease <name>', 'coordination.k8s.io/v1 Lease name in the config namespace', 'baton-engine')
    .option('--lease-duration <s>', 'lease duration in seconds', integer('--lease-duration'), 15)
    .option('--plan-configmap <name>', 'ConfigMap the leader publishes the plan to (desired.json, plan.json)', 'baton-plan')
    .option('--plan-file <file>', 'also write the plan JSON here (e.g. an emptyDir shared with the adapter)')
    .option('--port <n>', 'serve /plan, /metrics, /healthz (/readyz) and /livez on <host>:<n>', integer('--port'))
    .option('--host <addr>', 'listen address for --port (0.0.0.0 in a pod, for probes and Prometheus)', '127.0.0.1')
    .option('--once', 'run one cycle, print the plan JSON and exit', false)
    .action(async (f: EngineFlags) => {
      const engine = new Engine({
        config: loadEngineConfig(f.config),
        ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
        ...(f.demand ? { demandFile: f.demand } : {}),
        ...(f.identity ? { identity: f.identity } : {}),
        ...(f.planFile ? { planFile: f.planFile } : {}),
        ...(f.port !== undefined ? { port: f.port, host: f.host } : {}),
        intervalS: f.interval, advisory: f.advisory === true, leaseName: f.lease, leaseDurationS: f.leaseDuration, planConfigMap: f.planConfigmap,
      });
      if (f.once) {
        const r = await engine.cycleOnce();
        process.stdout.write(JSON.stringify({ leader: r.leader, planMs: r.planMs, labelPatches: r.labelPatches, costPatches: r.costPatches, errors: r.errors, plan: r.plan }, null, 2) + '\n');
        await engine.stop();
        return;
      }
      await engine.start();
      if (engine.url) process.stderr.write(`baton engine: plan and metrics on ${engine.url}\n`);
      const shutdown = () => void engine.stop().then(() => process.exit(0));
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
}
