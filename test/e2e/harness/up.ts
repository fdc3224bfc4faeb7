// `npm run cluster:up`: the e2e control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) kept running
// for a person with kubectl, plus the fake GPU nodes of the e2e scenario. Ctrl-C stops every process.
//   npm run cluster:up [-- --hpa-sync-period 2 --no-nodes --keep]
import { startCluster } from './cluster.js';
import { gpuNodes, type PoolSpec } from './workload.js';

const NODE_POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 16 },
];

function parseArgs(argv: string[]): { syncS: number; nodes: boolean; keep: boolean } {
  const out = { syncS: 2, nodes: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-nodes') out.nodes = false;
    else if (a === '--keep') out.keep = true;
    else if (a === '--hpa-sync-period') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`cluster:up: --hpa-sync-period needs a positive number of seconds, got '${argv[i]}'`);
      out.syncS = v;
    } else if (a === '-h' || a === '--help') {
      console.log('npm run cluster:up [-- --hpa-sync-period SECONDS] [--no-nodes] [--keep (keep the run dir on exit)]');
      process.exit(0);
    } else throw new Error(`cluster:up: unknown argument '${a}' (expected --hpa-sync-period, --no-nodes, --keep, --help)`);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cluster = await startCluster({ hpaSyncPeriodS: args.syncS });
  if (args.nodes) await cluster.apply(NODE_POOLS.flatMap(gpuNodes));
  const kubectlBin = cluster.bin.path('kubectl');
  console.log(`
Cluster is up (Kubernetes ${(await cluster.api.get<{ gitVersion: string }>('/version')).gitVersion}); logs in ${cluster.runDir}
  kubeconfig: ${cluster.kubeconfig}
  kubectl:    ${kubectlBin}

  export KUBECONFIG=${cluster.kubeconfig}
  alias kubectl=${kubectlBin}
  kubectl get nodes -L baton.dev/gpu-type,baton.dev/switch

Ctrl-C stops it${args.keep ? ' (the run dir is kept)' : ' and removes the run dir'}.`);
  const stop = async (): Promise<void> => {
    console.log('\nstopping...');
    await cluster.stop(args.keep);
    process.exit(0);
  };
  // Replace the harness's kill-on-signal hooks with an orderly stop (they stay as the 'exit' safety net).
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  // Report a component that dies while the cluster is held open.
  setInterval(() => {
    try {
      cluster.processes.assertAlive();
    } catch (err) {
      console.error((err as Error).message);
      void stop();
    }
  }, 2000);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
