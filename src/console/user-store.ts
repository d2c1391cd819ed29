import type { Knex } from 'knex';
import { dbTime, type Db } from '../db/db.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** viewer < operator < admin: each may do what the one before may, and more (console.md). */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export interface ConsoleUser {
  id: string;
  login: string;
  role: Role;
  disabled: boolean;
  lang: string | null;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
  passwordChangedAt: string | null;
}

type Row = Record<string, unknown>;

function toUser(r: Row): ConsoleUser {
  return {
    id: String(r.id),
    login: String(r.login),
    role: r.role as Role,
    disabled: Boolean(Number(r.disabled)),
    lang: r.lang == null ? null : String(r.lang),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    lastLoginAt: r.last_login_at == null ? null : String(r.last_login_at),
    passwordChangedAt: r.password_changed_at == null ? null : String(r.password_changed_at),
  };
}

/** console_users rows. The hash leaves this file only through `hashOf`, for the sign-in check. */
export class UserStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Knex.Transaction) {
    return trx ?? this.db.knex;
  }

  async insert(
    trx: Knex.Transaction,
    u: { login: string; role: Role; passwordHash: string },
  ): Promise<string> {
    const now = dbTime();
    await trx('console_users').insert({
      login: u.login,
      role: u.role,
      password_hash: u.passwordHash,
      disabled: false,
      created_at: now,
      updated_at: now,
      password_changed_at: now,
    });
    const r = (await trx('console_users').where({ login: u.login }).first('id')) as Row;
    return String(r.id);
  }

  async findByLogin(login: string, trx?: Knex.Transaction): Promise<ConsoleUser | null> {
    const r = (await this.q(trx)('console_users').where({ login }).first()) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async findById(id: string, trx?: Knex.Transaction): Promise<ConsoleUser | null> {
    const r = (await this.q(trx)('console_users').where({ id }).first()) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async hashOf(login: string): Promise<{ user: ConsoleUser; hash: string } | null> {
    const r = (await this.db.knex('console_users').where({ login }).first()) as Row | undefined;
    return r ? { user: toUser(r), hash: String(r.password_hash) } : null;
  }

  async list(): Promise<ConsoleUser[]> {
    const rows = (await this.db.knex('console_users').orderBy('login')) as Row[];
    return rows.map(toUser);
  }

  async update(
    trx: Knex.Transaction,
    id: string,
    patch: { passwordHash?: string; role?: Role; disabled?: boolean; lang?: string; lastLoginAt?: string },
  ): Promise<boolean> {
    const now = dbTime();
    const u: Row = { updated_at: now };
    if (patch.passwordHash !== undefined) {
      u.password_hash = patch.passwordHash;
      u.password_changed_at = now;
    }
    if (patch.role !== undefined) u.role = patch.role;
    if (patch.disabled !== undefined) u.disabled = patch.disabled;
    if (patch.lang !== undefined) u.lang = patch.lang;
    if (patch.lastLoginAt !== undefined) u.last_login_at = patch.lastLoginAt;
    return (await trx('console_users').where({ id }).update(u)) === 1;
  }
}
