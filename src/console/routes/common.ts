import type { Request, Response } from 'express';
import { actors, type Actor, type AuditStore } from '../../audit/audit-log.js';
import type { AccountAdmin } from '../../billing/account-admin.js';
import type { AccountStore } from '../../billing/account-store.js';
import type { EvidenceEntry } from '../../http/request-log-evidence.js';
import type { PaymentStore } from '../../payments/payment-store.js';
import type { RetryNowDeps } from '../../payments/retry-now.js';
import type { KaspiQrService } from '../../kaspi-qr/kaspi-qr-service.js';
import type { RemoteInvoices } from '../../kaspi-qr/remote-invoice.js';
import type { ReconcileService } from '../../reconcile/reconcile-service.js';
import type { ReturnSessions } from '../../refunds/kaspi-qr-return-sessions.js';
import type { RefundService } from '../../refunds/refund-service.js';
import type { ConsoleQueries } from '../console-queries.js';
import type { Lang } from '../format.js';
import type { SafeHtml } from '../html.js';
import type { Ctx } from '../pages/layout.js';
import type { Session } from '../session-store.js';
import type { UserService } from '../user-service.js';

export interface ConsoleSettings {
  /** CONSOLE_LANG: the language before a person picks one. */
  lang: Lang;
  /** KASPI_TXN_DATE_OFFSET. */
  offset: string;
  /** CONSOLE_COOKIE_SECURE: `Secure` on the cookie even when the request did not come over TLS. */
  cookieSecure: boolean;
  /** RETRY_STUCK_AFTER_MS: a credit unfinished this long is on the Attention page. */
  stuckAfterMs: number;
}

export interface ConsoleDeps {
  settings: ConsoleSettings;
  users: UserService;
  payments: PaymentStore;
  refunds: RefundService;
  audit: AuditStore;
  queries: ConsoleQueries;
  retry: RetryNowDeps;
  /** Embedded billing's accounts and orders; null with an external billing (the page says so). */
  accounts: { store: AccountStore; admin: AccountAdmin } | null;
  evidenceFor(txnId: string): Promise<EvidenceEntry[]>;
  /** Registries: the same service as /api/reconciliations; the upload's limit RECONCILE_MAX_FILE_BYTES. */
  reconcile: { service: ReconcileService; maxFileBytes: number } | null;
  /** Kaspi QR (null when KASPI_QR_SCHEME is unset): the same services as /api/qr/*. */
  kaspiQr: {
    service: KaspiQrService;
    remote: RemoteInvoices | null;
    sessions: ReturnSessions | null;
  } | null;
}

/** A page of a list. */
export const PAGE = 50;

/** One trimmed form or query value, cut at max; undefined when absent or empty. */
export function one(v: unknown, max = 200): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  return s === '' ? undefined : s.slice(0, max);
}

/** A row id from a path or a `before` cursor: digits only, never a JS number. */
export function cursor(v: unknown): string | undefined {
  const s = one(v, 20);
  return s && /^[1-9]\d{0,19}$/.test(s) ? s : undefined;
}

/** Where to go after sign-in: a console path of ours, never another site (`//evil`, `/\evil`). */
export function safeNext(v: unknown): string {
  const s = one(v, 500);
  return s && /^\/console(\/[\w\-./?=&%]*)?$/.test(s) && !s.includes('//') ? s : '/console';
}

export const ctx = (res: Response) => res.locals.ctx as Ctx;

export const send = (res: Response, page: SafeHtml, status = 200) =>
  res.status(status).type('text/html; charset=utf-8').send(page.text);

/** The person signed in (behind the session guard, always there). */
export const sess = (res: Response) => ctx(res).session as Session;

/** Who did it, for the audit log: `console:<login>` and the client's address. */
export const actor = (req: Request, res: Response): Actor => actors.console(sess(res).login, req.ip);
