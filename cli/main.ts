// `baton`: one CLI, one subcommand per job. Each subcommand lives in its own file under cli/commands/.
import { Command } from 'commander';

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('baton')
    .description('Coordinated autoscaling for prefill/decode disaggregated LLM serving on Kubernetes')
    .showHelpAfterError();
  await program.parseAsync(argv);
}
