import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { withCommitRetry } from '../db/commit-retry.js';
import { dbTime, fromDbTime, isUniqueViolation, type Db } from '../db/db.js';
import { backoff, sleep } from '../shared/backoff.js';
import { UpstreamError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import type { IssuedToken, TokenLease, TokenProvider } from './refund-api-client.js';

const log = getLogger('refund-token');

export interface TokenStoreOptions {
  /** How long a refresher may hold the lock before others may take it (it crashed). */
  lockMs?: number;
  /** How long a caller waits for someone else's refresh before giving up. */
  waitMs?: number;
  /** A token this close to its validTo is treated as expired. */
  earlyExpiryMs?: number;
  owner?: string;
}

interface Row {
  token: string | null;
  validTo: Date | null;
  generation: number;
}

const ROW_ID = 1;
/** The wait between looks while another process refreshes the token: from 40-80 ms, doubling to 320-640. */
const LOCK_WAIT = { baseMs: 80, maxMs: 640 };

/**
 * The deployment's one Refund API token, in the database.
 *
 * Kaspi keeps one token active per login: every GetToken kills the previous one. So processes must
 * not each fetch their own, or they would knock each other's token out in a loop. The token lives
 * in one row with a `generation`; a refresh happens only under a lock taken by a conditional update
 * of that row, and a process that got a 401 on generation N refreshes only if the row still holds
 * N: if someone already replaced it, it uses theirs. Within a process, concurrent renewals of the
 * same generation share one attempt. Every write of the row runs again when the database aborted
 * it for a conflict (src/db/commit-retry.ts): on Galera two nodes taking the lock at once conflict
 * at COMMIT, the loser runs again and finds it taken.
 */
export class RefundTokenStore implements TokenProvider {
  private readonly owner: string;
  private readonly lockMs: number;
  private readonly waitMs: number;
  private readonly earlyExpiryMs: number;
  private readonly inFlight = new Map<number, Promise<TokenLease>>();

  constructor(
    private readonly db: Db,
    private readonly issue: () => Promise<IssuedToken>,
    opts: TokenStoreOptions = {},
  ) {
    this.owner = (opts.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`).slice(
      0,
      100,
    );
    this.lockMs = opts.lockMs ?? 30_000;
    this.waitMs = opts.waitMs ?? 45_000;
    this.earlyExpiryMs = opts.earlyExpiryMs ?? 60_000;
  }

  async current(): Promise<TokenLease> {
    const row = await this.read();
    if (this.usable(row)) return { token: row.token as string, generation: row.generation };
    return this.refresh(row.generation);
  }

  async renew(stale: TokenLease): Promise<TokenLease> {
    // Only the generation that failed is dropped: a newer one stored meanwhile stays.
    await this.write('token drop', () =>
      this.db
        .knex('refund_api_token')
        .where({ id: ROW_ID, generation: stale.generation })
        .whereNotNull('token')
        .update({ token: null, valid_to: null, updated_at: dbTime() }),
    );
    return this.refresh(stale.generation);
  }

  /** What is stored, for the CLI and tests: never the token itself. */
  async describe(): Promise<{ present: boolean; validTo: Date | null; generation: number }> {
    const row = await this.read();
    return { present: row.token !== null, validTo: row.validTo, generation: row.generation };
  }

  private refresh(staleGeneration: number): Promise<TokenLease> {
    const running = this.inFlight.get(staleGeneration);
    if (running) return running;
    const p = this.refreshShared(staleGeneration).finally(() => this.inFlight.delete(staleGeneration));
    this.inFlight.set(staleGeneration, p);
    return p;
  }

  private async refreshShared(staleGeneration: number): Promise<TokenLease> {
    const deadline = Date.now() + this.waitMs;
    let stale = staleGeneration;
    for (let round = 1; ; round++) {
      const row = await this.read();
      if (row.generation > stale && this.usable(row))
        return { token: row.token as string, generation: row.generation };
      // A newer generation that is itself expired or dropped is stale as well.
      if (row.generation > stale) stale = row.generation;
      if (await this.tryLock()) {
        try {
          return await this.refreshLocked(stale);
        } finally {
          await this.unlock();
        }
      }
      if (Date.now() > deadline) {
        throw new UpstreamError(
          'refund_token_busy',
          'Refund API token is being refreshed elsewhere for too long',
          true,
        );
      }
      await sleep(backoff(round, LOCK_WAIT));
    }
  }

  private async refreshLocked(stale: number): Promise<TokenLease> {
    const row = await this.read();
    if (row.generation > stale && this.usable(row))
      return { token: row.token as string, generation: row.generation };
    const issued = await this.issue();
    const now = dbTime();
    const stored = await this.write('token store', () =>
      this.db
        .knex('refund_api_token')
        .where({ id: ROW_ID, lock_owner: this.owner })
        .update({
          token: issued.token,
          valid_to: issued.validTo ? dbTime(issued.validTo) : null,
          generation: row.generation + 1,
          lock_owner: null,
          lock_until: null,
          updated_at: now,
        }),
    );
    if (stored === 1) {
      log.info('Refund API token renewed', {
        generation: row.generation + 1,
        validTo: issued.validTo?.toISOString(),
      });
      return { token: issued.token, generation: row.generation + 1 };
    }
    // Our lock expired while Kaspi answered and someone else is refreshing: their token will
    // replace ours; a 401 on this one then leads to theirs, not to another GetToken.
    log.warn('Refund API token lock lost during refresh', { generation: row.generation });
    return { token: issued.token, generation: row.generation };
  }

  private usable(row: Row): boolean {
    if (row.token === null) return false;
    return row.validTo === null || row.validTo.getTime() - this.earlyExpiryMs > Date.now();
  }

  private async tryLock(): Promise<boolean> {
    const now = new Date();
    const n = await this.write('token lock', () =>
      this.db
        .knex('refund_api_token')
        .where({ id: ROW_ID })
        .where((q) => q.whereNull('lock_owner').orWhere('lock_until', '<', dbTime(now)))
        .update({ lock_owner: this.owner, lock_until: dbTime(new Date(now.getTime() + this.lockMs)) }),
    );
    return n === 1;
  }

  private async unlock(): Promise<void> {
    await this.write('token unlock', () =>
      this.db
        .knex('refund_api_token')
        .where({ id: ROW_ID, lock_owner: this.owner })
        .update({ lock_owner: null, lock_until: null }),
    );
  }

  /** One statement on the token's row, run again after a conflict. */
  private write<T>(what: string, statement: () => PromiseLike<T>): Promise<T> {
    return withCommitRetry(this.db, what, async () => statement());
  }

  private async read(): Promise<Row> {
    let r = await this.db.knex('refund_api_token').where({ id: ROW_ID }).first();
    if (!r) {
      try {
        await this.write('token row', () =>
          this.db.knex('refund_api_token').insert({ id: ROW_ID, generation: 0, updated_at: dbTime() }),
        );
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      r = await this.db.knex('refund_api_token').where({ id: ROW_ID }).first();
    }
    return {
      token: r.token == null ? null : String(r.token),
      validTo: fromDbTime(r.valid_to as string | null),
      generation: Number(r.generation),
    };
  }
}
