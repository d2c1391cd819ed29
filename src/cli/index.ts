import { Command } from 'commander';
import { ConfigError, EXIT_CONFIG, describeConfig } from '../config/config.js';
import { registerAccountCommands } from './account-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { CliError, print, withContext } from './cli-context.js';
import { registerPaymentCommands } from './payment-commands.js';
import { registerQrCommands } from './qr-commands.js';
import { registerReconcileCommands } from './reconcile-commands.js';
import { registerRefundCommands } from './refund-commands.js';
import { registerUserCommands } from './user-commands.js';
import { migrateLatest } from '../db/migrate.js';

/** `npm run cli -- <command>`: the operator's tools, on the same config and database as the service. */
export function buildProgram(): Command {
  const program = new Command('cli').description('Kaspi gateway command line').showHelpAfterError();
  program
    .command('migrate')
    .description('apply pending database migrations (safe to re-run)')
    .action(
      withContext(
        async ({ db }) => {
          const done = await migrateLatest(db);
          print({ database: db.describe, applied: done, status: 'up to date' });
        },
        { migrate: false },
      ),
    );
  program
    .command('config')
    .description('list every setting with its default')
    .action(async () => {
      for (const c of describeConfig())
        process.stdout.write(`${c.key.padEnd(28)} ${c.doc} [dev: ${c.dev || '-'}, prod: ${c.prod || '-'}]\n`);
    });
  registerAccountCommands(program);
  registerPaymentCommands(program);
  registerRefundCommands(program);
  registerQrCommands(program);
  registerUserCommands(program);
  registerAuditCommands(program);
  registerReconcileCommands(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    if (e instanceof ConfigError) {
      // As the service does: one line naming the setting, before any database is opened, exit 78.
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    if (e instanceof CliError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
