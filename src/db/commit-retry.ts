import type { Knex } from 'knex';
import { getLogger } from '../log/logger.js';
import { backoff, sleep } from '../shared/backoff.js';
import type { Db } from './db.js';

const log = getLogger('db');

/** Attempts of a write when DB_COMMIT_ATTEMPTS is not given: the first and three more. */
export const DEFAULT_COMMIT_ATTEMPTS = 4;
/** Between attempts: 10 ms, 20, 40 ... at most 200, with equal jitter (src/shared/backoff.ts). */
const RETRY_BACKOFF = { baseMs: 10, maxMs: 200 };

/**
 * Why the database threw a whole transaction away, when running it again from the start is safe:
 * - `deadlock`: 1213 (SQLSTATE 40001). InnoDB chose it as a deadlock victim, or Galera failed it
 *   at certification (another node committed a conflicting write first: on Galera a `SELECT … FOR
 *   UPDATE` on one node does not block another, the conflict shows at COMMIT as this error).
 *   The transaction was rolled back whole.
 * - `lock_wait`: 1205. MariaDB rolls back only the statement, but the wrapper's transaction is
 *   rolled back whole by knex when the error leaves it, so the run again starts clean.
 * - `busy`: SQLite's writer lock still held after busy_timeout; nothing was written.
 * Null for anything else (a unique violation decides something, it is never retried here).
 */
export type CommitConflict = 'deadlock' | 'lock_wait' | 'busy' | 'broken_connection';

export function commitConflict(e: unknown): CommitConflict | null {
  const err = e as { code?: string; errno?: number; sqlState?: string } | null;
  if (!err) return null;
  if (err.code === 'ER_LOCK_DEADLOCK' || err.errno === 1213 || err.sqlState === '40001') return 'deadlock';
  if (err.code === 'ER_LOCK_WAIT_TIMEOUT' || err.errno === 1205) return 'lock_wait';
  if (err.code === 'SQLITE_BUSY') return 'busy';
  return null;
}

/**
 * mysql2 lost its place in the protocol ("Should not reach here" after an error packet in the
 * middle of a CALL's result sets, or a PROTOCOL_* error): the connection must not serve another
 * query. The caller destroys it (the pool then drops it: knex validates a connection on acquire).
 */
export function isBrokenConnection(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  if (!err) return false;
  // Not a refused or reset connection (the node is down): running the pay again only waits longer.
  return (
    (typeof err.code === 'string' &&
      err.code.startsWith('PROTOCOL_') &&
      err.code !== 'PROTOCOL_CONNECTION_LOST') ||
    (typeof err.message === 'string' && /Should not reach here/.test(err.message))
  );
}

export function commitAttempts(db: Db): number {
  return Math.max(1, db.commitAttempts ?? DEFAULT_COMMIT_ATTEMPTS);
}

/**
 * Runs `work` (one transaction, or one statement on its own) and runs it again, after a jittered
 * pause, when the database aborted it for a conflict (commitConflict), up to DB_COMMIT_ATTEMPTS
 * attempts in all. Each retry is logged at debug; one WARN when the attempts run out, and the last
 * error is thrown to the caller, who answers with its protocol's own code. `work` must start its
 * transaction itself, so every attempt is a fresh one and nothing of a failed one remains.
 */
export interface CommitRetryOptions {
  /**
   * Also run it again after a broken connection (isBrokenConnection), whose transaction's outcome
   * is not known: only for work a unique key makes safe to repeat (a pay: the run again meets the
   * row of a first run that did commit as a unique violation).
   */
  idempotent?: boolean;
}

export async function withCommitRetry<T>(
  db: Db,
  what: string,
  work: () => Promise<T>,
  context: Record<string, unknown> = {},
  opts: CommitRetryOptions = {},
): Promise<T> {
  const attempts = commitAttempts(db);
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      const conflict =
        commitConflict(e) ?? (opts.idempotent && isBrokenConnection(e) ? 'broken_connection' : null);
      if (conflict === null) throw e;
      if (attempt >= attempts) {
        log.warn('database conflict: attempts ran out', { what, attempts, conflict, ...context });
        throw e;
      }
      log.debug('database conflict: running it again', { what, attempt, conflict, ...context });
      await sleep(backoff(attempt, RETRY_BACKOFF));
    }
  }
}

/** `withCommitRetry` around one knex transaction: the common case. */
export function transactionWithRetry<T>(
  db: Db,
  what: string,
  fn: (trx: Knex.Transaction) => Promise<T>,
  context: Record<string, unknown> = {},
): Promise<T> {
  return withCommitRetry(db, what, () => db.knex.transaction(fn), context);
}
