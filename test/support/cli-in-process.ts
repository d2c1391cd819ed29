import { Command } from 'commander';
import type { CommandDeps } from '../../src/cli/refund-commands.js';
import type { Config } from '../../src/config/config.js';
import { createDb } from '../../src/db/db.js';
import { createStores } from '../../src/wiring/wiring.js';

/**
 * Runs CLI commands in-process on a test gateway's database (each command opens its own pool, as
 * `npm run cli` does) and returns what they printed on stdout. `register` adds the command groups.
 */
export async function runCliInProcess(
  config: Config,
  register: (program: Command, deps: CommandDeps) => void,
  args: string[],
): Promise<string> {
  const program = new Command('cli').exitOverride();
  register(program, {
    open: async () => {
      const db = createDb(config.DATABASE_URL, { poolMax: 2 });
      return { config, db, stores: createStores(db) };
    },
  });
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'cli', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}
