import type { Router } from 'express';
import { AUDIT_ACTIONS } from '../../audit/audit-log.js';
import { dbTime } from '../../db/db.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { needRole } from '../console-http.js';
import { localDateToUtc } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { auditPage, notice, usersPage } from '../pages/index.js';
import { actor, ctx, cursor, one, PAGE, send, sess, type ConsoleDeps } from './common.js';

/** The admin pages: the audit log and the people who sign in. */
export function registerAdminRoutes(router: Router, deps: ConsoleDeps): void {
  router.get('/console/audit', async (req, res) => {
    needRole(sess(res), 'admin');
    const f = {
      actor: one(req.query.actor),
      action: AUDIT_ACTIONS.includes(req.query.action as never) ? (req.query.action as string) : undefined,
      target: one(req.query.target),
      day: one(req.query.day, 10),
    };
    // A Kazakhstan day, [its midnight, the next one), in the table's UTC times.
    const from = f.day ? localDateToUtc(f.day, deps.settings.offset) : null;
    if (f.day && !from) throw new ValidationError('the day is YYYY-MM-DD');
    const entries = await deps.audit.list({
      from: from ? dbTime(from) : undefined,
      to: from ? dbTime(new Date(from.getTime() + 86_400_000)) : undefined,
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
}
