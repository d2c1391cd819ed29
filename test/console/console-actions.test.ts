import type { Page } from 'playwright-core';
import { dbKinds } from '../support/databases.js';
import { launchBrowser, screenshot, seriousAxeViolations, type TestBrowser } from '../support/browser.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, TXN_DATE } from '../support/kaspi.js';
import { balanceOf } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';
import { creditedPayment, startRefundGateway } from '../support/refunds.js';

const PASSWORDS = { admin: 'admin-password-0001', operator: 'operator-password-01' };
const HOUR = 3_600_000;
const dbTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/**
 * The console's remaining actions in a real browser: "Retry credit now", "Resume" on a flagged
 * refund, adding a person, signing out, the absolute session end, and the audit log by day.
 */
describe.each(dbKinds)('[%s] the console actions in a real browser', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;
  let browser: TestBrowser;
  let base: string;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    logs = captureLogs('warn');
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake, { CONSOLE_LANG: 'en' });
    const { adminPort } = await t.gateway.start({ jobs: false });
    base = `http://127.0.0.1:${adminPort}`;
    const cli = { id: 'cli:test', ip: null };
    for (const login of ['admin', 'operator'] as const)
      await t.gateway.services.users.add({ login, role: login, password: PASSWORDS[login] }, cli);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.stop();
  });

  async function signIn(login: string, password: string): Promise<Page> {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/console`);
    return page;
  }

  const audit = (action: string) => t.gateway.db.knex('audit_log').where({ action }).orderBy('id');

  it('when an operator asks "Retry credit now" on a pending credit, then it is credited once and credit.retried names them on the timeline', async () => {
    const account = `RT${Date.now()}`;
    await t.gateway.stores.accounts.addAccount({ account, name: 'Retry Payer', balance: 0 });
    // A credit the billing did not finish: pending, its next attempt an hour away.
    const id = await t.gateway.stores.payments.insert(undefined, {
      source: 'kaspi',
      txnId: newTxnId(),
      account,
      amount: 70000,
      txnDateRaw: TXN_DATE,
      state: 'pending',
      attempts: 1,
      nextAttemptAt: dbTime(new Date(Date.now() + HOUR)),
    });
    const page = await signIn('operator', PASSWORDS.operator);
    await page.goto(`${base}/console/payments/${id}`);
    await page.getByRole('button', { name: 'Retry credit now' }).click();
    await page.waitForURL(/retried=1$/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('A credit retry was asked');
    expect((await t.gateway.stores.payments.findById(id))?.state).toBe('credited');
    expect(await balanceOf(t.gateway, account)).toBe(70000);
    expect((await audit('credit.retried')).map((e: { actor: string }) => e.actor)).toEqual([
      'console:operator',
    ]);
    const tl = (await page.locator('ol.timeline').textContent()) ?? '';
    expect(tl).toContain('credit.retried');
    expect(tl).toContain('credited');
    await expect(page.getByRole('button', { name: 'Retry credit now' }).count()).resolves.toBe(0);
    // Asked again (a reload of the POST): refused, nothing credited twice.
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const again = await page.request.post(`${base}/console/payments/${id}/retry`, { form: { _csrf: csrf } });
    expect(again.status()).toBe(409);
    expect(await balanceOf(t.gateway, account)).toBe(70000);
    await page.close();
  });

  it('when an operator resumes a flagged refund, then the flag is cleared, the poll is due now, and refund.resumed names them', async () => {
    const p = await creditedPayment(t, '400.00');
    fake.script(p.txnId, [{ status: 0 }, { status: 4 }]);
    const { refund } = await t.gateway.services.refunds.create({
      txnId: p.txnId,
      amount: 10000,
      reason: 'to be flagged',
      createdBy: 'cli',
      actor: { id: 'cli:test', ip: null },
    });
    expect(await t.gateway.stores.refunds.flag(refund.id, 'not final after 14 days')).toBe(true);
    const page = await signIn('operator', PASSWORDS.operator);
    await page.getByRole('navigation').getByRole('link', { name: 'Attention' }).click();
    await page.getByRole('link', { name: refund.id, exact: true }).click();
    await expect(page.locator('dl.fields').textContent()).resolves.toContain('not final after 14 days');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('Refund resumed');
    const row = await t.gateway.db.knex('refunds').where({ id: refund.id }).first();
    expect(row.flagged_at).toBeNull();
    expect(row.next_poll_at).not.toBeNull();
    expect((await audit('refund.resumed')).map((e: { actor: string }) => e.actor)).toEqual([
      'console:operator',
    ]);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, `${kind}-refund-resumed`);
    await page.close();
  });

  it('when an admin adds a person, then their generated password is shown once and signs them in, and user.added names the admin', async () => {
    const page = await signIn('admin', PASSWORDS.admin);
    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('Login').fill('aigul');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('User added');
    const password = (await page.getByRole('status').locator('code').textContent()) ?? '';
    expect(password).toMatch(/^\S{20}$/);
    await expect(page.getByRole('row', { name: /aigul/ }).count()).resolves.toBe(1);
    expect((await audit('user.added')).at(-1)).toMatchObject({ actor: 'console:admin', target_id: 'aigul' });
    await page.close();
    const aigul = await signIn('aigul', password);
    await expect(aigul.getByText('Signed in as').textContent()).resolves.toContain('Signed in as');
    await expect(aigul.locator('header strong').textContent()).resolves.toBe('aigul');
    await aigul.close();
  });

  it('when a person signs out, then the old cookie no longer opens a page, and the sign-out is audited', async () => {
    const page = await signIn('operator', PASSWORDS.operator);
    const cookie = (await browser.context.cookies(`${base}/console`)).find(
      (c) => c.name === 'console_session',
    );
    expect(cookie).toBeDefined();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/console\/sign-in$/);
    // The same token put back (a copied cookie): the session is gone from the database.
    await browser.context.addCookies([cookie as NonNullable<typeof cookie>]);
    await page.goto(`${base}/console/payments`);
    expect(page.url()).toContain('/console/sign-in?');
    expect(page.url()).toContain('ended=1');
    expect((await audit('signout')).at(-1)).toMatchObject({ actor: 'console:operator' });
    await page.close();
  });

  it('when a session reaches CONSOLE_SESSION_MAX_HOURS (12 h) though it was never idle, then the next page asks to sign in again', async () => {
    const page = await signIn('operator', PASSWORDS.operator);
    // This sign-in's session: the newest row (earlier tests' sessions are still there).
    const row = await t.gateway.db.knex('console_sessions').orderBy('created_at', 'desc').first();
    const created = Date.parse(`${String(row.created_at).replace(' ', 'T')}Z`);
    const expires = Date.parse(`${String(row.expires_at).replace(' ', 'T')}Z`);
    expect(expires - created).toBe(12 * HOUR);
    // 12 h and a minute ago, seen a moment ago: only the absolute end applies.
    const start = new Date(Date.now() - 12 * HOUR - 60_000);
    await t.gateway.db
      .knex('console_sessions')
      .where({ token_hash: row.token_hash })
      .update({
        created_at: dbTime(start),
        expires_at: dbTime(new Date(start.getTime() + 12 * HOUR)),
        last_seen_at: dbTime(new Date()),
      });
    await page.goto(`${base}/console/payments`);
    expect(page.url()).toContain('/console/sign-in?');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('session has ended');
    expect(await t.gateway.db.knex('console_sessions').where({ token_hash: row.token_hash })).toHaveLength(0);
    await page.close();
  });

  it('when an admin filters the audit log by a Kazakhstan day, then that day’s entries show and another day’s none', async () => {
    const page = await signIn('admin', PASSWORDS.admin);
    await page.getByRole('navigation').getByRole('link', { name: 'Audit log' }).click();
    const today = new Date(Date.now() + 5 * HOUR).toISOString().slice(0, 10);
    await page.getByLabel('Day').fill(today);
    await page.getByLabel('Action').selectOption('signin.succeeded');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/day=/);
    const kzDay = (at: string) =>
      new Date(Date.parse(`${at.replace(' ', 'T')}Z`) + 5 * HOUR).toISOString().slice(0, 10);
    const ofToday = (await audit('signin.succeeded')).filter(
      (e: { at: string }) => kzDay(String(e.at)) === today,
    );
    expect(ofToday.length).toBeGreaterThan(0);
    await expect(page.getByRole('row', { name: /signin\.succeeded/ }).count()).resolves.toBe(ofToday.length);
    await page.getByLabel('Day').fill('2020-01-01');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/day=2020-01-01/);
    await expect(page.getByText('No entries.').count()).resolves.toBe(1);
    await page.close();
    // The run logged nothing a person must look at, besides what the tests caused on purpose.
    expect(logs.lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
  });
});
