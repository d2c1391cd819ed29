import os from 'node:os';
import type { Knex } from 'knex';
import { dbTime, type Db } from '../db/db.js';

/**
 * The audit log: who did what, from every interface. A change and its entry are written in ONE
 * transaction (`audit.record(trx, ...)` inside the change's own `knex.transaction`), so there is
 * never a refund without its entry, nor an entry for a change that rolled back.
 *
 *   await db.knex.transaction(async (trx) => {
 *     const id = await store.insert(trx, ...);
 *     await audit.record(trx, { actor, action: 'refund.filed', target: { type: 'refund', id }, details });
 *   });
 */

/** Who asks, as each interface names it: `console:<login>`, `api` (the admin key), `cli:<OS user>`. */
export interface Actor {
  id: string;
  /** The client's address, when there is one (HTTP). */
  ip?: string | null;
}

export const actors = {
  console: (login: string, ip?: string | null): Actor => ({ id: `console:${login}`, ip: ip ?? null }),
  api: (ip?: string | null): Actor => ({ id: 'api', ip: ip ?? null }),
  cli: (): Actor => ({ id: `cli:${cliUser()}`, ip: null }),
  /** A sign-in attempt for a login that may not exist: the login as typed, never trusted. */
  anonymous: (ip?: string | null): Actor => ({ id: 'anonymous', ip: ip ?? null }),
};

function cliUser(): string {
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** Actions written so far; add yours here (dotted: `<thing>.<what happened>`). */
export const AUDIT_ACTIONS = [
  'refund.filed',
  'refund.resumed',
  'credit.retried',
  'item.resolved',
  'registry.uploaded',
  'refund.recorded',
  'qr.created',
  'qr.return_started',
  'qr.cancelled',
  'account.added',
  'account.closed',
  'account.reopened',
  'order.added',
  'order.closed',
  'user.added',
  'user.password_changed',
  'user.role_changed',
  'user.disabled',
  'user.enabled',
  'signin.succeeded',
  'signin.failed',
  'signin.locked',
  'signout',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type TargetType = 'payment' | 'refund' | 'item' | 'registry' | 'qr' | 'account' | 'order' | 'user';

export interface AuditRecord {
  actor: Actor;
  action: AuditAction;
  target?: { type: TargetType; id: string };
  /** Amounts (tiyn, or formatted text), reason, note, before/after. Never a secret. */
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
  clientIp: string | null;
}

const MAX_DETAILS_CHARS = 16000;

export const audit = {
  /** Writes one entry with the caller's transaction (or the knex of a change that is one statement). */
  async record(trx: Knex.Transaction | Knex, r: AuditRecord): Promise<void> {
    let details = r.details === undefined ? null : JSON.stringify(r.details);
    if (details !== null && details.length > MAX_DETAILS_CHARS)
      details = JSON.stringify({ truncated: details.slice(0, MAX_DETAILS_CHARS - 100) });
    await trx('audit_log').insert({
      at: dbTime(),
      actor: r.actor.id.slice(0, 200),
      action: r.action,
      target_type: r.target?.type ?? null,
      target_id: r.target?.id.slice(0, 200) ?? null,
      details,
      client_ip: r.actor.ip?.slice(0, 64) ?? null,
    });
  },
};

export interface AuditFilter {
  /** UTC times as stored (dbTime). */
  from?: string;
  to?: string;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Keyset paging: entries older than this id. */
  beforeId?: string;
  limit?: number;
}

function toEntry(r: Record<string, unknown>): AuditEntry {
  let details: Record<string, unknown> | null = null;
  if (r.details != null) {
    try {
      details = JSON.parse(String(r.details)) as Record<string, unknown>;
    } catch {
      details = { text: String(r.details) };
    }
  }
  return {
    id: String(r.id),
    at: String(r.at),
    actor: String(r.actor),
    action: String(r.action),
    targetType: r.target_type == null ? null : String(r.target_type),
    targetId: r.target_id == null ? null : String(r.target_id),
    details,
    clientIp: r.client_ip == null ? null : String(r.client_ip),
  };
}

/** Reading the log: newest first, paged by id. */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async list(f: AuditFilter = {}): Promise<AuditEntry[]> {
    let q = this.db.knex('audit_log').orderBy('id', 'desc');
    if (f.from) q = q.where('at', '>=', f.from);
    if (f.to) q = q.where('at', '<', f.to);
    if (f.actor) q = q.where('actor', f.actor);
    if (f.action) q = q.where('action', f.action);
    if (f.targetType) q = q.where('target_type', f.targetType);
    if (f.targetId) q = q.where('target_id', f.targetId);
    if (f.beforeId) q = q.where('id', '<', f.beforeId);
    const rows = (await q.limit(Math.min(f.limit ?? 100, 1000))) as Record<string, unknown>[];
    return rows.map(toEntry);
  }

  /** Every entry about one thing, oldest first (a payment's timeline). */
  async forTarget(type: TargetType, id: string): Promise<AuditEntry[]> {
    const rows = (await this.db
      .knex('audit_log')
      .where({ target_type: type, target_id: id })
      .orderBy('id')
      .limit(1000)) as Record<string, unknown>[];
    return rows.map(toEntry);
  }
}

export function auditView(e: AuditEntry) {
  return {
    id: e.id,
    at: `${e.at.replace(' ', 'T')}Z`,
    actor: e.actor,
    action: e.action,
    target: e.targetType ? { type: e.targetType, id: e.targetId } : null,
    details: e.details,
    clientIp: e.clientIp,
  };
}
