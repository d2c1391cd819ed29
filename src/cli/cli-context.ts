import { loadConfig, type Config } from '../config/config.js';
import { createDb, type Db } from '../db/db.js';
import { migrateLatest } from '../db/migrate.js';
import { configureLogger, quietTestRun } from '../log/logger.js';
import { createStores, dbOptions, type Stores } from '../wiring/wiring.js';

/** What a CLI command gets: the same config, database and stores the service uses. */
export interface CliContext {
  config: Config;
  db: Db;
  stores: Stores;
}

export async function openCliContext({ migrate = true } = {}): Promise<CliContext> {
  const config = loadConfig();
  // The CLI talks on stdout; logs go to stderr and only when they matter.
  configureLogger({
    level: config.LOG_LEVEL === 'debug' ? 'debug' : 'warn',
    format: config.LOG_FORMAT,
    stream: process.stderr,
    silent: quietTestRun(),
  });
  const db = createDb(config.DATABASE_URL, { ...dbOptions(config), poolMax: 2 });
  if (migrate) await migrateLatest(db);
  return { config, db, stores: createStores(db) };
}

/**
 * Runs a command with a context and always closes the pool, so the process can exit; the request
 * log (Refund API calls from the CLI) is written out first, it is batched.
 */
export function withContext<A extends unknown[]>(
  fn: (ctx: CliContext, ...args: A) => Promise<void>,
  opts = { migrate: true },
) {
  return async (...args: A): Promise<void> => {
    const ctx = await openCliContext(opts);
    try {
      await fn(ctx, ...args);
    } finally {
      await ctx.stores.requestLog.flush();
      await ctx.db.close();
    }
  };
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export class CliError extends Error {}
