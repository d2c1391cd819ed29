import type { Response, Router } from 'express';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { parseTenge } from '../../shared/money.js';
import { needRole } from '../console-http.js';
import type { SafeHtml } from '../html.js';
import { accountPage, accountsPage, notice } from '../pages/index.js';
import { actor, ctx, one, send, sess, type ConsoleDeps } from './common.js';

/** Embedded billing's accounts and orders, through the same AccountAdmin as the admin API. */
export function registerAccountsRoutes(router: Router, deps: ConsoleDeps): void {
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
}
