import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { getLogger } from '../log/logger.js';
import { isAppError, ValidationError } from '../shared/errors.js';
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
  securityHeaders,
  SESSION_COOKIE,
  setCookie,
} from './console-http.js';
import type { Lang } from './format.js';
import { translator } from './i18n.js';
import { errorPage, signInPage, type Ctx } from './pages/index.js';
import { registerAccountsRoutes } from './routes/accounts.js';
import { registerAdminRoutes } from './routes/admin.js';
import { ctx, safeNext, send, sess, type ConsoleDeps } from './routes/common.js';
import { registerPaymentsRoutes } from './routes/payments.js';
import { registerQrRoutes } from './routes/qr.js';
import { registerReconcileRoutes, uploadBody } from './routes/reconcile.js';
import { registerRefundsRoutes } from './routes/refunds.js';

export type { ConsoleDeps, ConsoleSettings } from './routes/common.js';

const log = getLogger('console');

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

  // The registry upload is multipart: its fields (the CSRF token among them) are read first.
  router.use('/console/reconciliation/upload', uploadBody(deps));

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

  // The pages, one file per group (src/console/routes/).
  registerPaymentsRoutes(router, deps);
  registerRefundsRoutes(router, deps);
  registerAccountsRoutes(router, deps);
  registerQrRoutes(router, deps);
  registerReconcileRoutes(router, deps);
  registerAdminRoutes(router, deps);

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
