import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { dbTime, fromDbTime, type Db } from '../db/db.js';
import type { Role } from './user-store.js';

export interface Session {
  tokenHash: string;
  userId: string;
  login: string;
  role: Role;
  lang: string | null;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

/** last_seen_at is written at most this often: a page view is not a write, the idle timeout is in minutes. */
const TOUCH_EVERY_MS = 60_000;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Console sessions and sign-in failures, in the database: every worker and host sees the same. */
export class SessionStore {
  constructor(
    private readonly db: Db,
    private readonly limits: SessionLimits,
  ) {}

  /** A new random token (256 bits) and its CSRF token; only the token's hash is stored. */
  async create(trx: Knex.Transaction, userId: string, ip: string | null): Promise<{ token: string }> {
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    await trx('console_sessions').insert({
      token_hash: tokenHash(token),
      user_id: userId,
      csrf_token: randomBytes(32).toString('base64url'),
      created_at: dbTime(now),
      last_seen_at: dbTime(now),
      expires_at: dbTime(new Date(now.getTime() + this.limits.absoluteMs)),
      client_ip: ip?.slice(0, 64) ?? null,
    });
    return { token };
  }

  /**
   * The live session of a token, or null: unknown, past its absolute end, idle too long, or its
   * user disabled. A dead one is deleted on the way.
   */
  async find(token: string, now = new Date()): Promise<Session | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const hash = tokenHash(token);
    const r = (await this.db
      .knex('console_sessions as s')
      .join('console_users as u', 'u.id', 's.user_id')
      .where('s.token_hash', hash)
      .first(
        's.token_hash',
        's.user_id',
        's.csrf_token',
        's.created_at',
        's.last_seen_at',
        's.expires_at',
        'u.login',
        'u.role',
        'u.lang',
        'u.disabled',
      )) as Record<string, unknown> | undefined;
    if (!r) return null;
    const lastSeen = (fromDbTime(String(r.last_seen_at)) as Date).getTime();
    const expires = (fromDbTime(String(r.expires_at)) as Date).getTime();
    if (
      Boolean(Number(r.disabled)) ||
      now.getTime() >= expires ||
      now.getTime() - lastSeen >= this.limits.idleMs
    ) {
      await this.db.knex('console_sessions').where({ token_hash: hash }).delete();
      return null;
    }
    if (now.getTime() - lastSeen >= TOUCH_EVERY_MS) {
      await this.db
        .knex('console_sessions')
        .where({ token_hash: hash })
        .update({ last_seen_at: dbTime(now) });
    }
    return {
      tokenHash: hash,
      userId: String(r.user_id),
      login: String(r.login),
      role: r.role as Role,
      lang: r.lang == null ? null : String(r.lang),
      csrfToken: String(r.csrf_token),
      createdAt: String(r.created_at),
      lastSeenAt: String(r.last_seen_at),
      expiresAt: String(r.expires_at),
    };
  }

  async delete(token: string, trx?: Knex.Transaction): Promise<void> {
    await (trx ?? this.db.knex)('console_sessions')
      .where({ token_hash: tokenHash(token) })
      .delete();
  }

  async deleteForUser(trx: Knex.Transaction, userId: string): Promise<number> {
    return trx('console_sessions').where({ user_id: userId }).delete();
  }

  /** Sessions past their absolute end or idle for good; the ones still valid are left alone. */
  async purgeExpired(now = new Date()): Promise<number> {
    return this.db
      .knex('console_sessions')
      .where('expires_at', '<=', dbTime(now))
      .orWhere('last_seen_at', '<=', dbTime(new Date(now.getTime() - this.limits.idleMs)))
      .delete();
  }

  // Sign-in failures and locks: rows, so 5 failures spread over workers still lock.

  async lockedUntil(login: string, now = new Date()): Promise<string | null> {
    const r = (await this.db
      .knex('console_login_locks')
      .where({ login })
      .where('locked_until', '>', dbTime(now))
      .first('locked_until')) as Record<string, unknown> | undefined;
    return r ? String(r.locked_until) : null;
  }

  async addFailure(trx: Knex.Transaction, login: string, ip: string | null, now = new Date()): Promise<void> {
    await trx('console_sign_in_failures').insert({
      login,
      at: dbTime(now),
      client_ip: ip?.slice(0, 64) ?? null,
    });
  }

  async failuresSince(trx: Knex.Transaction, login: string, since: Date): Promise<number> {
    const r = (await trx('console_sign_in_failures')
      .where({ login })
      .where('at', '>', dbTime(since))
      .count({ n: '*' })
      .first()) as Record<string, unknown> | undefined;
    return Number(r?.n ?? 0);
  }

  async lock(trx: Knex.Transaction, login: string, until: Date): Promise<void> {
    await trx('console_login_locks')
      .insert({ login, locked_until: dbTime(until) })
      .onConflict('login')
      .merge({ locked_until: dbTime(until) });
  }

  /** A successful sign-in starts the count again. */
  async clearFailures(trx: Knex.Transaction, login: string): Promise<void> {
    await trx('console_sign_in_failures').where({ login }).delete();
    await trx('console_login_locks').where({ login }).delete();
  }
}
