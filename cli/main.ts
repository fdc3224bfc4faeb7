// `baton`: one CLI, one subcommand per job. Each subcommand lives in its own file under cli/commands/.
import { Command } from 'commander';
import { adapterCommand } from './commands/adapter.js';
import { demoCommand } from './commands/demo.js';
import { engineCommand } from './commands/engine.js';
import { explainCommand } from './commands/explain.js';
import { podMonitorCommand } from './commands/podmonitor.js';
import { rulesCommand } from './commands/rules.js';
import { simulateCommand } from './commands/simulate.js';
import { sweepCommand } from './commands/sweep.js';
import { whatifCommand } from './commands/whatif.js';

export function program(): Command {
  return new Command()
    .name('baton')
    .description('Coordinated autoscaling for prefill/decode disaggregated LLM serving on Kubernetes')
    .showHelpAfterError()
    .addCommand(demoCommand())
    .addCommand(simulateCommand())
    .addCommand(sweepCommand())
    .addCommand(adapterCommand())
    .addCommand(engineCommand())
    .addCommand(podMonitorCommand())
    .addCommand(rulesCommand())
    .addCommand(explainCommand())
    .addCommand(whatifCommand());
}

export async function main(argv: string[]): Promise<void> {
  await program().parseAsync(argv);
}
