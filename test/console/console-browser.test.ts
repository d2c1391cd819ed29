import type { Page } from 'playwright-core';
import { dbKinds } from '../support/databases.js';
import { launchBrowser, screenshot, seriousAxeViolations, type TestBrowser } from '../support/browser.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { creditedPayment, startRefundGateway } from '../support/refunds.js';
import { configureLogger } from '../../src/log/logger.js';

const PASSWORDS = {
  admin: 'admin-password-0001',
  operator: 'operator-password-01',
  viewer: 'viewer-password-0001',
  locky: 'locky-password-00001',
};

describe.each(dbKinds)('[%s] the operator console in a real browser', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;
  let browser: TestBrowser;
  let base: string;
  let paid: { txnId: string; account: string };

  beforeAll(async () => {
    configureLogger({ level: 'error', format: 'pretty', stream: process.stderr });
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake, { CONSOLE_LANG: 'en' });
    const { adminPort } = await t.gateway.start({ jobs: false });
    base = `http://127.0.0.1:${adminPort}`;
    const cli = { id: 'cli:test', ip: null };
    for (const [login, role] of [
      ['admin', 'admin'],
      ['operator', 'operator'],
      ['viewer', 'viewer'],
      ['locky', 'viewer'],
    ] as const) {
      await t.gateway.services.users.add({ login, role, password: PASSWORDS[login] }, cli);
    }
    paid = await creditedPayment(t, '1500.00');
    await t.gateway.stores.requestLog.flush();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.stop();
  });

  async function newPage(): Promise<Page> {
    // One person at a time: no cookie of an earlier test's session.
    await browser.context.clearCookies();
    return browser.context.newPage();
  }

  async function signIn(page: Page, login: keyof typeof PASSWORDS, password = PASSWORDS[login]) {
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signOut(page: Page) {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/console\/sign-in$/);
  }

  async function noSeriousAxe(page: Page) {
    expect(await seriousAxeViolations(page)).toEqual([]);
  }

  it('when a person signs in with the keyboard only, then the overview shows, the cookie is HttpOnly, SameSite=Strict, Path=/console, and the headers forbid inline script and framing', async () => {
    const page = await newPage();
    const res = await page.goto(`${base}/console`);
    expect(page.url()).toMatch(/\/console\/sign-in\?next=%2Fconsole$/);
    const h = res?.headers() ?? {};
    expect(h['content-security-policy']).toContain("script-src 'self'");
    expect(h['content-security-policy']).not.toContain('unsafe-inline');
    expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['x-frame-options']).toBe('DENY');
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-sign-in`);

    await page.getByLabel('Login').focus();
    await page.keyboard.type('operator');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORDS.operator);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/console`);
    await expect(page.getByRole('heading', { level: 1, name: 'Overview' }).isVisible()).resolves.toBe(true);
    const cookie = (await browser.context.cookies(`${base}/console`)).find(
      (c) => c.name === 'console_session',
    );
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', secure: false });
    // Only the token's hash is stored.
    const rows = (await t.gateway.db.knex('console_sessions')) as { token_hash: string }[];
    expect(rows.some((r) => r.token_hash === cookie?.value)).toBe(false);
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-overview`);
    await signOut(page);
    await page.close();
  });

  it('when an operator searches a txn_id and opens the payment, then its heading holds the txn_id and the request log shows the raw pay Kaspi sent and our answer', async () => {
    const page = await newPage();
    await signIn(page, 'operator');
    await page.getByRole('link', { name: 'Payments' }).click();
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-payments`);
    await page.getByLabel('Search').fill(paid.txnId);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('link', { name: paid.txnId }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(paid.txnId);
    const log = page.locator('section', { has: page.getByRole('heading', { name: 'Request log' }) });
    const text = (await log.textContent()) ?? '';
    expect(text).toContain(`command=pay&txn_id=${paid.txnId}`);
    expect(text).toContain('<result>0</result>');
    await expect(page.locator('dl.fields').textContent()).resolves.toContain('1,500.00\u00a0KZT');
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-payment`);
    await signOut(page);
    await page.close();
  });

  it('when an operator files a refund and confirms it, then it is filed through the Refund API and its audit entry names the operator', async () => {
    const page = await newPage();
    await signIn(page, 'operator');
    const p = (await t.gateway.stores.payments.findByTxnAnySource(paid.txnId))[0];
    await page.goto(`${base}/console/payments/${p?.id}`);
    await page.getByLabel('Amount').fill('200');
    await page.getByLabel('Reason').fill('double payment <b>by mistake</b>');
    await page.getByRole('button', { name: 'File refund' }).click();
    await expect(page.getByText('two hundred tenge 00 tiyn').isVisible()).resolves.toBe(true);
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-refund-confirm`);
    const confirmForm = Object.fromEntries(
      await page
        .locator('main form input[type=hidden]')
        .evaluateAll((els) =>
          els.map((e) => [
            (e as unknown as { name: string }).name,
            (e as unknown as { value: string }).value,
          ]),
        ),
    ) as Record<string, string>;
    await page.getByRole('button', { name: 'Confirm refund' }).click();
    await page.waitForURL(/filed=\d+/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('Refund filed');
    const refunds = await t.gateway.db.knex('refunds').where({ txn_id: paid.txnId });
    expect(refunds).toHaveLength(1);
    expect(Number(refunds[0].amount)).toBe(20000);
    expect(refunds[0].created_by).toBe('console:operator');
    const entries = await t.gateway.db.knex('audit_log').where({ action: 'refund.filed' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: 'console:operator', target_type: 'refund' });
    await expect(page.getByText('Left to refund').textContent()).resolves.toContain('1,300.00\u00a0KZT');
    // A reload of the confirmation POST is the same refund, not a second one.
    const again = await page.request.post(`${base}/console/payments/${p?.id}/refund`, { form: confirmForm });
    expect(again.url()).toMatch(/filed=\d+/);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: paid.txnId })).toHaveLength(1);
    await signOut(page);

    // ... and the admin finds it in the audit log.
    await signIn(page, 'admin');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').selectOption('refund.filed');
    await page.getByRole('button', { name: 'Apply' }).click();
    const row = page.getByRole('row', { name: /refund\.filed/ });
    await expect(row.textContent()).resolves.toContain('console:operator');
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-audit`);
    await page.getByRole('link', { name: 'Refunds' }).click();
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-refunds`);
    await page.getByRole('link', { name: 'Users' }).click();
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-users`);
    await page.getByRole('link', { name: 'Attention' }).click();
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-attention`);
    await page.getByRole('link', { name: 'Kaspi QR' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Kaspi QR' }).isVisible()).resolves.toBe(true);
    await noSeriousAxe(page);
    await signOut(page);
    await page.close();
  });

  it('when a viewer opens a payment, then there is no Refund button, and the POST is answered 403 with nothing filed', async () => {
    const page = await newPage();
    await signIn(page, 'viewer');
    const other = await creditedPayment(t, '300.00');
    const p = (await t.gateway.stores.payments.findByTxnAnySource(other.txnId))[0];
    await page.goto(`${base}/console/payments/${p?.id}`);
    await expect(page.getByRole('button', { name: 'File refund' }).count()).resolves.toBe(0);
    await expect(page.getByRole('link', { name: 'Audit log' }).count()).resolves.toBe(0);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const res = await page.request.post(`${base}/console/payments/${p?.id}/refund`, {
      form: {
        _csrf: csrf,
        amount: '300.00',
        reason: 'viewer tries',
        confirmed: 'yes',
        key: '00000000-0000-4000-8000-000000000001',
      },
    });
    expect(res.status()).toBe(403);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: other.txnId })).toHaveLength(0);
    expect((await page.request.get(`${base}/console/users`)).status()).toBe(403);
    expect((await page.request.get(`${base}/console/audit`)).status()).toBe(403);
    await signOut(page);
    await page.close();
  });

  it('when a POST comes without the CSRF token, then it is refused 403 and nothing is done', async () => {
    const page = await newPage();
    await signIn(page, 'operator');
    const other = await creditedPayment(t, '300.00');
    const p = (await t.gateway.stores.payments.findByTxnAnySource(other.txnId))[0];
    const form = {
      amount: '300.00',
      reason: 'forged',
      confirmed: 'yes',
      key: '00000000-0000-4000-8000-000000000002',
    };
    const res = await page.request.post(`${base}/console/payments/${p?.id}/refund`, { form });
    expect(res.status()).toBe(403);
    const wrong = await page.request.post(`${base}/console/payments/${p?.id}/refund`, {
      form: { ...form, _csrf: 'not-the-token' },
    });
    expect(wrong.status()).toBe(403);
    expect(await t.gateway.db.knex('refunds').where({ txn_id: other.txnId })).toHaveLength(0);
    await signOut(page);
    await page.close();
  });

  it('when a login fails 5 times, then it is locked (also for the right password), with one message for a wrong login or password, and the lock is audited', async () => {
    const page = await newPage();
    await signIn(page, 'locky', 'wrong-password-xyz');
    const wrongPassword = await page.getByRole('alert').textContent();
    await page.getByLabel('Login').fill('nobody-here');
    await page.getByLabel('Password').fill('wrong-password-xyz');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toBe(wrongPassword);
    for (let i = 0; i < 4; i++) await signIn(page, 'locky', 'wrong-password-xyz');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('locked');
    await signIn(page, 'locky');
    expect(page.url()).toContain('/console/sign-in');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('locked');
    const locks = await t.gateway.db.knex('audit_log').where({ action: 'signin.locked', target_id: 'locky' });
    expect(locks).toHaveLength(1);
    await page.close();
  });

  it('when a session sits idle past CONSOLE_SESSION_IDLE_MIN, then the next page asks to sign in again', async () => {
    const page = await newPage();
    await signIn(page, 'viewer');
    await page.waitForURL(`${base}/console`);
    await t.gateway.db.knex('console_sessions').update({ last_seen_at: '2000-01-01 00:00:00.000' });
    await page.goto(`${base}/console/payments`);
    expect(page.url()).toContain('/console/sign-in?');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('session has ended');
    await page.close();
  });

  it('when an account holds markup, then the pages show it as text and run nothing', async () => {
    const account = `<img src=x onerror="window.__xss=1">${Date.now()}`;
    await t.gateway.stores.accounts.addAccount({
      account,
      name: '<script>window.__xss=2</script>',
      balance: 0,
    });
    const txnId = newTxnId();
    const r = await pay(t.api(), txnId, account, '10.00');
    expect(r.xml.result).toBe('0');
    await t.gateway.stores.requestLog.flush();
    const page = await newPage();
    await signIn(page, 'viewer');
    await page.goto(`${base}/console/payments?q=${encodeURIComponent(account)}`);
    await expect(page.getByRole('cell', { name: account }).count()).resolves.toBe(1);
    await page.getByRole('link', { name: txnId }).click();
    await expect(page.locator('dl.fields').textContent()).resolves.toContain(account);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await page.close();
  });

  it('when an operator adds and closes an account on the Accounts page, then both are audited under their name, and a viewer sees no form', async () => {
    const page = await newPage();
    await signIn(page, 'operator');
    await page.getByRole('link', { name: 'Accounts' }).click();
    const account = `ACC-${Date.now()}`;
    await page.getByLabel('Account', { exact: true }).first().fill(account);
    await page.getByLabel('Name', { exact: true }).fill('<b>Айгуль</b> & Co');
    await page.getByRole('button', { name: 'Add', exact: true }).first().click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(account);
    await expect(page.locator('dl.fields').textContent()).resolves.toContain('<b>Айгуль</b> & Co');
    await noSeriousAxe(page);
    await page.getByRole('button', { name: 'Close account' }).click();
    await expect(page.locator('dl.fields').textContent()).resolves.toContain('closed');
    const entries = await t.gateway.db
      .knex('audit_log')
      .where({ target_type: 'account', target_id: account })
      .orderBy('id');
    expect(entries.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
      ['account.added', 'console:operator'],
      ['account.closed', 'console:operator'],
    ]);
    await page.getByRole('link', { name: 'Accounts' }).click();
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-accounts`);
    await signOut(page);
    await signIn(page, 'viewer');
    await page.goto(`${base}/console/accounts`);
    await expect(page.getByRole('button', { name: 'Add', exact: true }).count()).resolves.toBe(0);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const res = await page.request.post(`${base}/console/accounts`, {
      form: { _csrf: csrf, account: `V-${account}`, name: 'x' },
    });
    expect(res.status()).toBe(403);
    expect(await t.gateway.stores.accounts.getAccount(`V-${account}`)).toBeNull();
    await page.close();
  });

  it('when a person switches to Russian, then the page is in Russian with amounts as 1 500,00 ₸ and the choice is remembered', async () => {
    const page = await newPage();
    await signIn(page, 'operator');
    await page.waitForURL(`${base}/console`);
    // The switch is a POST answered by a redirect to the same page: wait for the new document's
    // language, never for a URL (it does not change) or a bare isVisible (it does not wait).
    await page.getByRole('button', { name: 'Русский' }).click();
    await page.locator('html[lang=ru]').waitFor();
    await page.getByRole('link', { name: 'Платежи' }).waitFor();
    const p = (await t.gateway.stores.payments.findByTxnAnySource(paid.txnId))[0];
    await page.goto(`${base}/console/payments/${p?.id}`);
    await page.getByRole('heading', { name: 'Журнал запросов' }).waitFor();
    await expect(page.locator('dl.fields').textContent()).resolves.toContain('1\u00a0500,00\u00a0₸');
    await noSeriousAxe(page);
    await screenshot(page, `${kind}-payment-ru`);
    expect((await t.gateway.db.knex('console_users').where({ login: 'operator' }).first()).lang).toBe('ru');
    // Remembered per person: a new session opens in Russian.
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL(/\/console\/sign-in$/);
    // The sign-in page is in Russian too (the language cookie): its fields by their Russian labels.
    await page.locator('html[lang=ru]').waitFor();
    await page.getByLabel('Логин').fill('operator');
    await page.getByLabel('Пароль').fill(PASSWORDS.operator);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.waitForURL(`${base}/console`);
    await page.locator('html[lang=ru]').waitFor();
    await page.getByRole('button', { name: 'English' }).click();
    await page.locator('html[lang=en]').waitFor();
    expect((await t.gateway.db.knex('console_users').where({ login: 'operator' }).first()).lang).toBe('en');
    await signOut(page);
    await page.close();
  });
});
