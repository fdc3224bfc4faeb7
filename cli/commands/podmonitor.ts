// `baton podmonitor`: the PodMonitor that scrapes a stack's engines with the service/role/pool labels Baton's rule
// presets select on, from the same pod-label mapping the engine reads (a preset, or the engine config's podLabels).
import { Command } from 'commander';
import { stringify } from 'yaml';
import { IDENTITY_PRESETS, resolveIdentity } from '../../engine/placement/identity.js';
import { loadEngineConfig } from '../../engine/sidecar/config.js';
import { podMonitorFor } from '../../engine/sidecar/podmonitor.js';

interface Flags {
  podLabels?: string;
  config?: string;
  name: string;
  namespace: string;
  port: string;
}

export function podMonitorCommand(): Command {
  return new Command('podmonitor')
    .description('print the PodMonitor that gives engine metrics the service/role/pool labels the rule presets select on')
    .option('--pod-labels <preset>', `the stack's pod-label convention: ${Object.keys(IDENTITY_PRESETS).join(', ')} (default baton)`)
    .option('--config <file>', "the engine config: use its podLabels mapping")
    .option('--name <name>', 'PodMonitor name', 'baton-engines')
    .option('--namespace <ns>', 'PodMonitor namespace', 'baton-system')
    .option('--port <name>', "the engines' metrics port name", 'http')
    .action((f: Flags) => {
      if (f.podLabels && f.config) throw new Error('give --pod-labels or --config, not both');
      const id = f.config ? loadEngineConfig(f.config).podLabels : resolveIdentity(f.podLabels, '--pod-labels');
      process.stdout.write(`# pod labels: ${id.source ?? 'from ' + f.config}\n${stringify(podMonitorFor(id, { name: f.name, namespace: f.namespace, port: f.port }))}`);
    });
}
