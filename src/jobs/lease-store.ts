import { withCommitRetry } from '../db/commit-retry.js';
import { dbNow } from '../db/db-clock.js';
import type { Db } from '../db/db.js';

export interface Lease {
  name: string;
  owner: string;
  fencingToken: string;
}

export interface LeaseRow {
  name: string;
  owner: string | null;
  fencingToken: string;
  expiresAt: string | null;
  acquiredAt: string | null;
  lastFinishedAt: string | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

type Row = Record<string, unknown>;
const str = (v: unknown) => (v == null ? null : String(v));

/**
 * Job leases in the database. Every decision is one conditional statement judged by the database's
 * clock: a lease is taken only when it is free or expired, and each take bumps the fencing token.
 * Single statements (no transaction held across awaits) on SQLite, so two connections in one
 * process never wait on each other's open transaction. Every write runs again when the database
 * aborted it for a conflict (src/db/commit-retry.ts): on Galera two nodes taking one lease at once
 * conflict at COMMIT (1213), the loser runs again and finds the lease taken.
 */
export class LeaseStore {
  constructor(private readonly db: Db) {}

  /** Takes the lease when free or expired; null when someone else holds it. */
  async acquire(name: string, owner: string, leaseMs: number): Promise<Lease | null> {
    const token = await this.tryTake(name, owner, leaseMs);
    if (token !== null) return { name, owner, fencingToken: token };
    // First run of this job anywhere: create its row (a racing creator is ignored), then try again.
    const exists = await this.db.knex('job_leases').where({ name }).first('name');
    if (exists) return null;
    await withCommitRetry(this.db, 'lease create', () =>
      this.db.knex('job_leases').insert({ name, fencing_token: 0 }).onConflict('name').ignore(),
    );
    const again = await this.tryTake(name, owner, leaseMs);
    return again === null ? null : { name, owner, fencingToken: again };
  }

  private tryTake(name: string, owner: string, leaseMs: number): Promise<string | null> {
    return withCommitRetry(this.db, 'lease take', () => this.tryTakeOnce(name, owner, leaseMs), {
      lease: name,
    });
  }

  private async tryTakeOnce(name: string, owner: string, leaseMs: number): Promise<string | null> {
    const { knex } = this.db;
    const take = (q: typeof knex) =>
      q('job_leases')
        .where({ name })
        .where((w) => w.whereNull('expires_at').orWhere('expires_at', '<=', dbNow(this.db)))
        .update({
          owner,
          fencing_token: knex.raw('fencing_token + 1'),
          acquired_at: dbNow(this.db),
          expires_at: dbNow(this.db, leaseMs),
        });
    if (this.db.dialect === 'sqlite') {
      const rows = (await take(knex).returning('fencing_token')) as unknown as Row[];
      return rows.length === 1 ? String(rows[0]?.fencing_token) : null;
    }
    // MySQL: the UPDATE's row lock holds until commit, so the token read back is the one we wrote.
    return knex.transaction(async (trx) => {
      const n = (await take(trx as unknown as typeof knex)) as unknown as number;
      if (n !== 1) return null;
      const r = (await trx('job_leases').where({ name }).first('fencing_token')) as Row | undefined;
      return r ? String(r.fencing_token) : null;
    });
  }

  /** Pushes the expiry out; false when the lease was taken over (the token moved on). */
  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    const n = await withCommitRetry(
      this.db,
      'lease renew',
      () =>
        this.db
          .knex('job_leases')
          .where({ name: lease.name, owner: lease.owner, fencing_token: lease.fencingToken })
          .update({ expires_at: dbNow(this.db, leaseMs) }),
      { lease: lease.name },
    );
    return n === 1;
  }

  async isHeld(lease: Lease): Promise<boolean> {
    const r = await this.db
      .knex('job_leases')
      .where({ name: lease.name, owner: lease.owner, fencing_token: lease.fencingToken })
      .where('expires_at', '>', dbNow(this.db))
      .first('name');
    return r !== undefined;
  }

  /** Frees the lease at once and records the run; a no-op when it was taken over meanwhile. */
  async release(lease: Lease, run: { durationMs: number; error: string | null }): Promise<boolean> {
    const n = await withCommitRetry(
      this.db,
      'lease release',
      () =>
        this.db
          .knex('job_leases')
          .where({ name: lease.name, owner: lease.owner, fencing_token: lease.fencingToken })
          .update({
            owner: null,
            expires_at: dbNow(this.db),
            last_finished_at: dbNow(this.db),
            last_duration_ms: Math.round(run.durationMs),
            last_error: run.error?.slice(0, 500) ?? null,
          }),
      { lease: lease.name },
    );
    return n === 1;
  }

  async get(name: string): Promise<LeaseRow | null> {
    const r = (await this.db.knex('job_leases').where({ name }).first()) as Row | undefined;
    if (!r) return null;
    return {
      name: String(r.name),
      owner: str(r.owner),
      fencingToken: String(r.fencing_token),
      expiresAt: str(r.expires_at),
      acquiredAt: str(r.acquired_at),
      lastFinishedAt: str(r.last_finished_at),
      lastDurationMs: r.last_duration_ms == null ? null : Number(r.last_duration_ms),
      lastError: str(r.last_error),
    };
  }
}
