import { randomUUID } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { actors, AUDIT_ACTIONS, type AuditStore } from '../audit/audit-log.js';
import type { EvidenceEntry } from '../http/request-log-evidence.js';
import type { AccountAdmin } from '../billing/account-admin.js';
import type { AccountStore } from '../billing/account-store.js';
import { QR_STATES, type QrState } from '../kaspi-qr/kaspi-qr-store.js';
import { getLogger } from '../log/logger.js';
import {
  PAYMENT_SOURCES,
  PAYMENT_STATES,
  type Payment,
  type PaymentSource,
  type PaymentState,
  type PaymentStore,
} from '../payments/payment-store.js';
import { retryCreditNow, type RetryNowDeps } from '../payments/retry-now.js';
import type { RefundService } from '../refunds/refund-service.js';
import { REFUND_STATUSES, type RefundStatus } from '../refunds/refund-store.js';
import { refundable } from '../refunds/refundable.js';
import { isAppError, NotFoundError, ValidationError } from '../shared/errors.js';
import { parseTenge } from '../shared/money.js';
import { ASSETS } from './assets.js';
import {
  clearCookie,
  cookieFlags,
  cookies,
  crossOrigin,
  csrfOk,
  CsrfError,
  isLang,
  LANG_COOKIE,
  needRole,
  securityHeaders,
  SESSION_COOKIE,
  setCookie,
} from './console-http.js';
import {
  accountPage,
  accountsPage,
  attentionPage,
  auditPage,
  confirmRefundPage,
  errorPage,
  notice,
  overviewPage,
  paymentPage,
  paymentsPage,
  qrPage,
  refundPage,
  refundsPage,
  signInPage,
  usersPage,
  type Ctx,
  type PaymentFilterForm,
} from './console-pages.js';
import type { ConsoleQueries } from './console-queries.js';
import { localDateToUtc, localDayStart, type Lang } from './format.js';
import { html, type SafeHtml } from './html.js';
import { translator } from './i18n.js';
import type { Session } from './session-store.js';
import type { UserService } from './user-service.js';

const log = getLogger('console');

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
}

const PAGE = 50;
const SOURCES: readonly PaymentSource[] = PAYMENT_SOURCES;
const STATES: readonly PaymentState[] = PAYMENT_STATES;

function one(v: unknown, max = 200): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  return s === '' ? undefined : s.slice(0, max);
}

function cursor(v: unknown): string | undefined {
  const s = one(v, 20);
  return s && /^[1-9]\d{0,19}$/.test(s) ? s : undefined;
}

/** Where to go after sign-in: a console path of ours, never another site (`//evil`, `/\evil`). */
function safeNext(v: unknown): string {
  const s = one(v, 500);
  return s && /^\/console(\/[\w\-./?=&%]*)?$/.test(s) && !s.includes('//') ? s : '/console';
}

/**
 * The operator console, server-rendered, under /console on the admin listener
 * (docs/decisions/010-console-rendering.md). Every change goes through the same services as the
 * admin API (refunds, retry, users), which write the audit entry in the change's transaction.
 */
export function consoleRoutes(deps: ConsoleDeps): Router {
  const router = Router();
  const s = deps.settings;
  const form = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 50 });

  router.use('/console', securityHeaders);

  for (const a of [
    { ...ASSETS.css, type: 'text/css; charset=utf-8' },
    { ...ASSETS.js, type: 'text/javascript; charset=utf-8' },
  ]) {
    router.get(a.path, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.type(a.type).send(a.body);
    });
  }

  // Who asks, in what language; pages are never cached (they hold payer data and a CSRF token).
  router.use('/console', async (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store');
    const jar = cookies(req);
    const token = jar[SESSION_COOKIE];
    const session = token ? await deps.users.session(token) : null;
    let lang: Lang = isLang(session?.lang)
      ? (session?.lang as Lang)
      : isLang(jar[LANG_COOKIE])
        ? (jar[LANG_COOKIE] as Lang)
        : s.lang;
    if (!session && req.method === 'GET' && isLang(req.query.lang)) {
      lang = req.query.lang;
      setCookie(res, LANG_COOKIE, lang, cookieFlags(req, s.cookieSecure), 365 * 86400);
    }
    res.locals.ctx = {
      t: translator(lang),
      lang,
      offset: s.offset,
      session,
      path: req.path === '/' ? '/console' : `/console${req.path}`,
      refundsEnabled: deps.refunds.enabled,
    } satisfies Ctx;
    res.locals.hadToken = Boolean(token);
    next();
  });

  const ctx = (res: Response) => res.locals.ctx as Ctx;
  const send = (res: Response, page: SafeHtml, status = 200) =>
    res.status(status).type('text/html; charset=utf-8').send(page.text);

  router.get('/console/sign-in', (req, res) => {
    const c = ctx(res);
    if (c.session) return res.redirect(303, safeNext(req.query.next));
    const ended = req.query.ended === '1';
    send(
      res,
      signInPage(c, { next: safeNext(req.query.next), error: ended ? c.t('sessionEnded') : undefined }),
    );
  });

  router.post('/console/sign-in', form, async (req, res) => {
    const c = ctx(res);
    if (crossOrigin(req)) throw new CsrfError();
    const b = req.body as Record<string, unknown>;
    const login = typeof b.login === 'string' ? b.login : '';
    const password = typeof b.password === 'string' ? b.password : '';
    const old = cookies(req)[SESSION_COOKIE];
    const r = await deps.users.signIn(login, password, req.ip ?? null, old);
    if (!r.ok) {
      return send(
        res,
        signInPage(c, {
          error: r.locked ? c.t('signInLocked') : c.t('signInFailed'),
          login: login.slice(0, 64),
          next: safeNext(b.next),
        }),
        401,
      );
    }
    setCookie(res, SESSION_COOKIE, r.token, cookieFlags(req, s.cookieSecure));
    res.redirect(303, safeNext(b.next));
  });

  // Everything below needs a live session; a POST also its CSRF token.
  router.use('/console', form, (req: Request, res: Response, next: NextFunction) => {
    const c = ctx(res);
    if (!c.session) {
      if (res.locals.hadToken) clearCookie(res, SESSION_COOKIE, cookieFlags(req, s.cookieSecure));
      if (req.method === 'GET' || req.method === 'HEAD') {
        const nextPath = `/console${req.url === '/' ? '' : req.url}`;
        const q = new URLSearchParams({ next: nextPath });
        if (res.locals.hadToken) q.set('ended', '1');
        res.redirect(303, `/console/sign-in?${q.toString()}`);
        return;
      }
      send(res, signInPage(c, { error: c.t('sessionEnded') }), 401);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (crossOrigin(req) || !csrfOk(b._csrf, c.session)) {
        log.warn('console POST refused: missing or wrong CSRF token', {
          path: req.path,
          login: c.session.login,
          ip: req.ip,
        });
        next(new CsrfError());
        return;
      }
    }
    next();
  });

  const sess = (res: Response) => ctx(res).session as Session;
  const actor = (req: Request, res: Response) => actors.console(sess(res).login, req.ip);

  router.post('/console/sign-out', async (req, res) => {
    const token = cookies(req)[SESSION_COOKIE] as string;
    await deps.users.signOut(token, sess(res).login, req.ip ?? null);
    clearCookie(res, SESSION_COOKIE, cookieFlags(req, s.cookieSecure));
    res.redirect(303, '/console/sign-in');
  });

  router.post('/console/lang', async (req, res) => {
    const b = req.body as Record<string, unknown>;
    if (!isLang(b.lang)) throw new ValidationError('lang must be ru or en');
    await deps.users.setLang(sess(res).userId, b.lang);
    setCookie(res, LANG_COOKIE, b.lang, cookieFlags(req, s.cookieSecure), 365 * 86400);
    res.redirect(303, safeNext(b.back));
  });

  router.get(['/console', '/console/'], async (_req, res) => {
    const now = new Date();
    const today = localDayStart(now, s.offset, 0);
    const yesterday = localDayStart(now, s.offset, 1);
    const tomorrow = localDayStart(new Date(now.getTime() + 86_400_000), s.offset, 0);
    const [t, y, answers, pending, refunds] = await Promise.all([
      deps.queries.bySource(today, tomorrow),
      deps.queries.bySource(yesterday, today),
      deps.queries.kaspiAnswers(today, tomorrow),
      deps.payments.unfinishedCredits(s.stuckAfterMs, 0),
      deps.queries.refundsByStatus(),
    ]);
    send(res, overviewPage(ctx(res), { today: t, yesterday: y, answers, pending, refunds }));
  });

  router.get('/console/payments', async (req, res) => {
    const q = req.query;
    const f: PaymentFilterForm = {
      q: one(q.q),
      from: one(q.from, 10),
      to: one(q.to, 10),
      source: SOURCES.includes(q.source as PaymentSource) ? (q.source as string) : undefined,
      state: STATES.includes(q.state as PaymentState) ? (q.state as string) : undefined,
      min: one(q.min, 20),
      max: one(q.max, 20),
    };
    const from = f.from ? localDateToUtc(f.from, s.offset) : null;
    const toDay = f.to ? localDateToUtc(f.to, s.offset) : null;
    const to = toDay ? new Date(toDay.getTime() + 86_400_000) : null;
    const minAmount = f.min ? parseTenge(f.min) : null;
    const maxAmount = f.max ? parseTenge(f.max) : null;
    if ((f.from && !from) || (f.to && !to)) throw new ValidationError('dates are YYYY-MM-DD');
    if ((f.min && minAmount === null) || (f.max && maxAmount === null))
      throw new ValidationError('amounts are tenge like 1500.00');
    const before = cursor(q.before);
    const filter = {
      from: from ? from.toISOString().replace('T', ' ').replace('Z', '') : undefined,
      to: to ? to.toISOString().replace('T', ' ').replace('Z', '') : undefined,
      source: f.source as PaymentSource | undefined,
      state: f.state as PaymentState | undefined,
      minAmount: minAmount ?? undefined,
      maxAmount: maxAmount ?? undefined,
    };
    let list: Payment[];
    let next: string | null = null;
    if (f.q) {
      // One box for every number a person may hold: Kaspi's txn_id, JetPay's or QR's id, our
      // prv_txn, or the account. The exact matches first, then the account's payments paged by key.
      const byAccount = await deps.payments.list({ ...filter, account: f.q, before, limit: PAGE });
      const exact = before
        ? []
        : [
            ...(await deps.payments.findByTxnAnySource(f.q)),
            ...(/^\d{1,20}$/.test(f.q) ? [await deps.payments.findById(f.q)] : []),
          ].filter((p): p is Payment => p !== null && matches(p, filter));
      const seen = new Set<string>();
      list = [...exact, ...byAccount].filter((p) => !seen.has(p.id) && (seen.add(p.id), true));
      next = byAccount.length === PAGE ? (byAccount.at(-1) as Payment).id : null;
    } else {
      list = await deps.payments.list({ ...filter, before, limit: PAGE });
      next = list.length === PAGE ? (list.at(-1) as Payment).id : null;
    }
    send(res, paymentsPage(ctx(res), f, list, next, before !== undefined));
  });

  async function paymentOr404(id: string): Promise<Payment> {
    const p = /^\d{1,20}$/.test(id) ? await deps.payments.findById(id) : null;
    if (!p) throw new NotFoundError('payment');
    return p;
  }

  async function showPayment(res: Response, p: Payment, status?: SafeHtml) {
    const [refunds, evidence, timeline] = await Promise.all([
      deps.refunds.forPayment(p.id),
      deps.evidenceFor(p.txnId),
      deps.audit.forTarget('payment', p.id),
    ]);
    send(
      res,
      paymentPage(
        ctx(res),
        { payment: p, refunds, refundable: refundable(p, refunds), evidence, timeline },
        status,
      ),
    );
  }

  router.get('/console/payments/:id', async (req, res) => {
    const p = await paymentOr404(String(req.params.id));
    const c = ctx(res);
    const filed = cursor(req.query.filed);
    let status: SafeHtml | undefined;
    if (filed) {
      const r = await deps.refunds.get(filed).catch(() => null);
      if (r && r.paymentId === p.id) status = notice(html`${c.t('refundFiled')} ${r.status}`);
    }
    if (req.query.retried === '1') status = notice(html`${c.t('retryAsked')} ${p.state}`);
    await showPayment(res, p, status);
  });

  router.post('/console/payments/:id/retry', async (req, res) => {
    needRole(sess(res), 'operator');
    const p = await paymentOr404(String(req.params.id));
    await retryCreditNow(deps.retry, p.id, actor(req, res));
    res.redirect(303, `/console/payments/${p.id}?retried=1`);
  });

  router.post('/console/payments/:id/refund', async (req, res) => {
    needRole(sess(res), 'operator');
    const p = await paymentOr404(String(req.params.id));
    const b = req.body as Record<string, unknown>;
    const amountText = one(b.amount, 20) ?? '';
    const amount = parseTenge(amountText.replace(',', '.'));
    if (amount === null || amount <= 0) throw new ValidationError('the amount is tenge like 1500.00');
    const reason = one(b.reason, 500);
    if (!reason) throw new ValidationError('a reason is required (1 to 500 characters)');
    if (b.confirmed !== 'yes' || typeof b.key !== 'string' || !/^[\w-]{36}$/.test(b.key)) {
      // The confirmation step: the amount in words, and the key that makes a repeated POST
      // (a reload, a double click) the same refund instead of a second one.
      return send(res, confirmRefundPage(ctx(res), p, amount, amountText, reason, randomUUID()));
    }
    const { refund } = await deps.refunds.create({
      txnId: p.txnId,
      amount,
      reason,
      idempotencyKey: `console:${b.key}`,
      createdBy: `console:${sess(res).login}`,
      actor: actor(req, res),
    });
    res.redirect(303, `/console/payments/${p.id}?filed=${refund.id}`);
  });

  router.get('/console/refunds', async (req, res) => {
    const status = REFUND_STATUSES.includes(req.query.status as RefundStatus)
      ? (req.query.status as RefundStatus)
      : undefined;
    const flagged = req.query.flagged === 'true';
    const before = cursor(req.query.before);
    let list = await deps.refunds.list({ status, flagged: flagged || undefined, before, limit: PAGE });
    const next = list.length === PAGE ? (list.at(-1) as { id: string }).id : null;
    // Flagged first, newest first within each.
    list = [...list.filter((r) => r.flaggedAt), ...list.filter((r) => !r.flaggedAt)];
    send(res, refundsPage(ctx(res), { status, flagged }, list, next, REFUND_STATUSES));
  });

  async function showRefund(res: Response, id: string, status?: SafeHtml) {
    const r = await deps.refunds.get(id);
    const exchanges = (await deps.evidenceFor(r.txnId)).filter((e) => e.channel === 'refund_api');
    send(res, refundPage(ctx(res), r, exchanges, status));
  }

  router.get('/console/refunds/:id', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('refund');
    await showRefund(res, id);
  });

  router.post('/console/refunds/:id/resume', async (req, res) => {
    needRole(sess(res), 'operator');
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('refund');
    const r = await deps.refunds.resume(id, actor(req, res));
    await showRefund(res, id, notice(html`${ctx(res).t('resumed')} ${r.status}`));
  });

  router.get('/console/attention', async (_req, res) => {
    const stuckSince = new Date(Date.now() - s.stuckAfterMs).toISOString().replace('T', ' ').replace('Z', '');
    const [credits, fatal, flagged, jetpay, qr] = await Promise.all([
      deps.payments.unfinishedCredits(s.stuckAfterMs, 100),
      deps.refunds.list({ status: 'fatal', limit: 100 }),
      deps.refunds.list({ flagged: true, limit: 100 }),
      // A JetPay payment still waiting for its callback past the limit: its credit is in doubt.
      deps.payments.list({ source: 'jetpay', state: 'awaiting_callback', to: stuckSince, limit: 100 }),
      deps.queries.qrUnknown(),
    ]);
    const seen = new Set<string>();
    const refunds = [...flagged, ...fatal].filter((r) => !seen.has(r.id) && (seen.add(r.id), true));
    send(
      res,
      attentionPage(ctx(res), { stuck: credits.stuck, stuckCount: credits.stuckCount, refunds, jetpay, qr }),
    );
  });

  function accountsOr404(res: Response) {
    if (!deps.accounts) throw new NotFoundError('accounts', ctx(res).t('accountsExternal'));
    return deps.accounts;
  }

  router.get('/console/accounts', async (req, res) => {
    const acc = accountsOr404(res);
    const q = one(req.query.q);
    if (q) {
      const a = await acc.store.getAccount(q);
      if (a)
        return res.redirect(303, `/console/accounts/show?${new URLSearchParams({ account: a.account })}`);
    }
    const [accounts, orders] = await Promise.all([
      q ? Promise.resolve([]) : acc.store.listAccounts({ limit: 100 }),
      acc.store.listOrders({ limit: 100 }),
    ]);
    send(res, accountsPage(ctx(res), q, accounts, orders));
  });

  async function showAccount(res: Response, account: string, status?: SafeHtml) {
    const acc = accountsOr404(res);
    const a = await acc.store.getAccount(account);
    if (!a) throw new NotFoundError('account', `account ${account} not found`);
    send(res, accountPage(ctx(res), a, await deps.queries.ledger(a.account), status));
  }

  router.get('/console/accounts/show', async (req, res) => {
    await showAccount(res, one(req.query.account) ?? '');
  });

  router.post('/console/accounts', async (req, res) => {
    needRole(sess(res), 'operator');
    const acc = accountsOr404(res);
    const b = req.body as Record<string, unknown>;
    const a = await acc.admin.addAccount(
      { account: one(b.account) ?? '', name: one(b.name) ?? '' },
      actor(req, res),
    );
    await showAccount(res, a.account, notice(ctx(res).t('accountSaved')));
  });

  router.post('/console/accounts/status', async (req, res) => {
    needRole(sess(res), 'operator');
    const acc = accountsOr404(res);
    const b = req.body as Record<string, unknown>;
    if (b.status !== 'closed' && b.status !== 'active')
      throw new ValidationError('status is closed or active');
    const a = await acc.admin.setAccountStatus(one(b.account) ?? '', b.status, actor(req, res));
    await showAccount(res, a.account, notice(ctx(res).t('accountSaved')));
  });

  router.post('/console/orders', async (req, res) => {
    needRole(sess(res), 'operator');
    const acc = accountsOr404(res);
    const b = req.body as Record<string, unknown>;
    const amount = parseTenge((one(b.amount, 20) ?? '').replace(',', '.'));
    if (amount === null) throw new ValidationError('the amount is tenge like 1500.00');
    await acc.admin.addOrder(
      {
        number: one(b.number) ?? '',
        amount,
        account: one(b.account) ?? null,
        description: one(b.description) ?? '',
      },
      actor(req, res),
    );
    res.redirect(303, '/console/accounts');
  });

  router.post('/console/orders/close', async (req, res) => {
    needRole(sess(res), 'operator');
    const acc = accountsOr404(res);
    await acc.admin.cancelOrder(one((req.body as Record<string, unknown>).number) ?? '', actor(req, res));
    res.redirect(303, '/console/accounts');
  });

  router.get('/console/qr', async (req, res) => {
    const state = QR_STATES.includes(req.query.state as QrState) ? (req.query.state as QrState) : undefined;
    const account = one(req.query.account);
    const list = await deps.queries.qrPurchases({ state, account });
    send(res, qrPage(ctx(res), { state, account }, list, QR_STATES));
  });

  router.get('/console/audit', async (req, res) => {
    needRole(sess(res), 'admin');
    const f = {
      actor: one(req.query.actor),
      action: AUDIT_ACTIONS.includes(req.query.action as never) ? (req.query.action as string) : undefined,
      target: one(req.query.target),
    };
    const entries = await deps.audit.list({
      actor: f.actor,
      action: f.action,
      targetId: f.target,
      beforeId: cursor(req.query.before),
      limit: PAGE,
    });
    const next = entries.length === PAGE ? (entries.at(-1) as { id: string }).id : null;
    send(res, auditPage(ctx(res), f, entries, next, AUDIT_ACTIONS));
  });

  router.get('/console/users', async (_req, res) => {
    needRole(sess(res), 'admin');
    send(res, usersPage(ctx(res), await deps.users.list()));
  });

  router.post('/console/users', async (req, res) => {
    needRole(sess(res), 'admin');
    const b = req.body as Record<string, unknown>;
    const { user, generatedPassword } = await deps.users.add(
      { login: one(b.login, 64) ?? '', role: one(b.role, 16) ?? '' },
      actor(req, res),
    );
    const c = ctx(res);
    send(
      res,
      usersPage(
        c,
        await deps.users.list(),
        notice(
          html`${c.t('userAdded')} ${user.login}. ${c.t('generatedPassword')}
            <code>${generatedPassword ?? ''}</code>`,
        ),
      ),
    );
  });

  router.post('/console/users/:login/:what', async (req, res) => {
    needRole(sess(res), 'admin');
    const login = String(req.params.login);
    const what = String(req.params.what);
    const c = ctx(res);
    const b = req.body as Record<string, unknown>;
    let extra: SafeHtml | string = '';
    if (what === 'role') await deps.users.setRole(login, one(b.role, 16) ?? '', actor(req, res));
    else if (what === 'disable' || what === 'enable')
      await deps.users.setDisabled(login, what === 'disable', actor(req, res));
    else if (what === 'password') {
      const r = await deps.users.setPassword(login, undefined, actor(req, res));
      extra = html` ${c.t('generatedPassword')} <code>${r.generatedPassword ?? ''}</code>`;
    } else throw new NotFoundError('page');
    send(res, usersPage(c, await deps.users.list(), notice(html`${c.t('userChanged')} ${login}.${extra}`)));
  });

  router.use('/console', (_req: Request, res: Response) => {
    const c = ctx(res);
    send(res, errorPage(c, c.t('notFound'), c.t('notFound')), 404);
  });

  // The console's one error mapper: an HTML page that says what was refused, never a stack or SQL.
  router.use('/console', (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const c = (res.locals.ctx as Ctx | undefined) ?? {
      t: translator(s.lang),
      lang: s.lang,
      offset: s.offset,
      session: null,
      path: '/console',
      refundsEnabled: false,
    };
    if (res.headersSent) return;
    const e = err as { type?: string };
    if (e?.type === 'entity.too.large' || e?.type === 'entity.parse.failed')
      return send(res, errorPage(c, c.t('badRequest'), c.t('badRequest')), 400);
    if (err instanceof CsrfError) return send(res, errorPage(c, c.t('csrfRefused'), c.t('csrfRefused')), 403);
    if (isAppError(err) && err.operational) {
      const title =
        err.httpStatus === 403
          ? `${c.t('forbidden')} ${c.session?.role ?? ''})`
          : err.httpStatus === 404
            ? c.t('notFound')
            : err.httpStatus === 409
              ? c.t('conflict')
              : c.t('badRequest');
      return send(res, errorPage(c, title, err.message), err.httpStatus);
    }
    log.error('console request failed', { err, path: req.path, requestId: req.id });
    send(res, errorPage(c, c.t('internal'), c.t('internal')), 500);
  });

  return router;
}

function matches(
  p: Payment,
  f: { from?: string; to?: string; source?: string; state?: string; minAmount?: number; maxAmount?: number },
): boolean {
  return (
    (!f.from || p.receivedAt >= f.from) &&
    (!f.to || p.receivedAt < f.to) &&
    (!f.source || p.source === f.source) &&
    (!f.state || p.state === f.state) &&
    (f.minAmount === undefined || p.amount >= f.minAmount) &&
    (f.maxAmount === undefined || p.amount <= f.maxAmount)
  );
}
