import type { Page } from 'playwright-core';
import { dbKinds } from '../support/databases.js';
import { launchBrowser, screenshot, seriousAxeViolations, type TestBrowser } from '../support/browser.js';
import { installRemote } from '../support/fake-kaspi-qr-remote.js';
import { AUTH, paidQrPurchase, startReturnsGateway, type ReturnsSetup } from '../support/kaspi-qr-returns.js';
import { balanceOf } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';

const PASSWORDS = { operator: 'operator-password-01', viewer: 'viewer-pass-00001' };

/**
 * The console's Kaspi QR pages against the fake Kaspi QR server the API tests use: a QR on screen,
 * a remote invoice refreshed on demand and cancelled, an r3 return filed from the payment's page
 * (the refunds ledger, source kaspi_qr), and an r2 return session with its return QR.
 */
describe.each(dbKinds)('[%s] the console Kaspi QR pages in a real browser', (kind) => {
  let browser: TestBrowser;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    logs = captureLogs('warn');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function setup(scheme: 'r1' | 'r2' | 'r3', more = {}): Promise<{ s: ReturnsSetup; base: string }> {
    const s = await startReturnsGateway(kind, scheme, { CONSOLE_LANG: 'en', ...more });
    const { adminPort } = await s.t.gateway.start({ jobs: false });
    const cli = { id: 'cli:test', ip: null };
    for (const login of ['operator', 'viewer'] as const)
      await s.t.gateway.services.users.add({ login, role: login, password: PASSWORDS[login] }, cli);
    return { s, base: `http://127.0.0.1:${adminPort}` };
  }

  async function signIn(base: string, login: keyof typeof PASSWORDS): Promise<Page> {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill(PASSWORDS[login]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/console`);
    return page;
  }

  async function make(page: Page, account: string, amount: string, what: string, phone?: string) {
    await page.getByRole('navigation').getByRole('link', { name: 'Kaspi QR' }).click();
    await page.getByLabel('Account', { exact: true }).first().fill(account);
    await page.getByLabel('Amount', { exact: true }).fill(amount);
    await page.getByLabel('Kind').selectOption(what);
    if (phone) await page.getByLabel('Phone (for an invoice)').fill(phone);
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/console\/qr\/\d+\?created=1$/);
    return page.url().replace(/^.*\/console\/qr\/(\d+).*$/, '$1');
  }

  describe('r3', () => {
    let s: ReturnsSetup;
    let base: string;
    let n = 0;

    beforeAll(async () => {
      ({ s, base } = await setup('r3'));
      installRemote(s.fake);
    });
    afterAll(async () => {
      await s?.t.close();
      await s?.fake.stop();
    });

    async function account(): Promise<string> {
      n += 1;
      const a = `CQ${process.pid}${n}${Math.floor(Math.random() * 1e5)}`;
      await s.t.gateway.stores.accounts.addAccount({ account: a, name: 'QR Payer', balance: 0 });
      return a;
    }

    it('when an operator makes a QR for an account, then the page shows the QR image and the pay page, and qr.created names the operator', async () => {
      const a = await account();
      const page = await signIn(base, 'operator');
      const id = await make(page, a, '1500.00', 'qr');
      await expect(page.getByRole('status').textContent()).resolves.toContain('Created');
      const img = page.getByRole('img', { name: 'The QR code to scan in the Kaspi app' });
      await expect(img.getAttribute('src')).resolves.toMatch(/^data:image\/svg\+xml;base64,/);
      await expect(page.locator('dl.fields').textContent()).resolves.toContain('1,500.00\u00a0KZT');
      await expect(page.getByRole('link', { name: /\/pay\/[0-9a-f]+/ }).count()).resolves.toBe(1);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `${kind}-kaspi-qr-purchase`);
      const entries = await s.t.gateway.db.knex('audit_log').where({ action: 'qr.created', target_id: id });
      expect(entries.map((e: { actor: string }) => e.actor)).toEqual(['console:operator']);
      // The list shows it; a viewer sees the list without the form, and the POST is refused.
      await page.getByRole('navigation').getByRole('link', { name: 'Kaspi QR' }).click();
      await expect(page.getByRole('row', { name: new RegExp(a) }).count()).resolves.toBe(1);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `${kind}-kaspi-qr`);
      await page.close();
      const viewer = await signIn(base, 'viewer');
      await viewer.goto(`${base}/console/qr`);
      await expect(viewer.getByRole('button', { name: 'Create' }).count()).resolves.toBe(0);
      const csrf = await viewer.locator('input[name=_csrf]').first().inputValue();
      const res = await viewer.request.post(`${base}/console/qr`, {
        form: { _csrf: csrf, account: a, amount: '10.00', kind: 'qr' },
      });
      expect(res.status()).toBe(403);
      expect(await s.t.gateway.db.knex('audit_log').where({ action: 'qr.created' })).toHaveLength(1);
      await viewer.close();
    });

    it('when Kaspi shows another amount paid for a QR, then the payment is on the Attention page with its flag, and the admin API lists it as flagged', async () => {
      const a = await account();
      const page = await signIn(base, 'operator');
      const id = await make(page, a, '300.00', 'qr');
      const txnId = (await page.locator('h1 .txn').textContent()) ?? '';
      await page.getByRole('navigation').getByRole('link', { name: 'Attention' }).click();
      await expect(page.getByRole('row', { name: new RegExp(txnId) }).count()).resolves.toBe(0);
      s.fake.setStatus(txnId, 'Processed');
      s.kaspi.purchase(txnId, 29000); // the payer paid 290.00 for a 300.00 QR
      const made = await s.t.admin().get(`/api/qr/payments/${id}`).set(AUTH);
      const at = new Date((made.body as { createdAt: string }).createdAt);
      const engine = s.t.gateway.services.kaspiQr!.engine;
      await engine.run({}, new Date(at.getTime() + 1_100));
      await engine.run({}, new Date(at.getTime() + 120_000));
      expect(logs.find('error', 'another amount than asked')).toHaveLength(1);
      logs.clear();
      await page.reload();
      const row = page.getByRole('row', { name: new RegExp(txnId) });
      await expect(row.count()).resolves.toBe(1);
      await expect(row.textContent()).resolves.toContain('amount_mismatch');
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.close();
      const api = await s.t.admin().get('/api/payments?flagged=true').set(AUTH);
      expect(api.status).toBe(200);
      const listed = (api.body as { payments: { prvTxn: string; flags: string[] }[] }).payments;
      expect(listed.filter((p) => p.prvTxn === id)).toEqual([
        expect.objectContaining({ flags: ['amount_mismatch'] }),
      ]);
      expect(listed.every((p) => p.flags.length > 0)).toBe(true);
      const bad = await s.t.admin().get('/api/payments?flagged=yes').set(AUTH);
      expect(bad.status).toBe(400);
      // Newest flag first, not by id: a `before` cursor would skip or repeat, so it is refused.
      const paged = await s.t.admin().get(`/api/payments?flagged=true&before=${id}`).set(AUTH);
      expect(paged.status).toBe(400);
      expect(api.body).toMatchObject({ nextBefore: null });
    });

    it('when an operator sends an invoice to a phone and checks it, then Kaspi is asked at most once per 30 s, the paid invoice is credited once, and another is cancelled', async () => {
      const a = await account();
      const page = await signIn(base, 'operator');
      const id = await make(page, a, '200.00', 'remote', '+7 (707) 123-45-67');
      const qrId = (await page.locator('h1 .txn').textContent()) ?? '';
      expect(s.fake.calls('remoteCreate').at(-1)?.json).toMatchObject({ PhoneNumber: '87071234567' });
      await expect(page.locator('dl.fields').textContent()).resolves.toContain('8707***4567');
      const statusCalls = () =>
        s.fake.calls('paymentStatus').filter((r) => r.path.endsWith(`/${qrId}`)).length;
      expect(statusCalls()).toBe(0);
      await page.getByRole('button', { name: 'Check the status with Kaspi' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('pending');
      await page.getByRole('button', { name: 'Check the status with Kaspi' }).click();
      expect(statusCalls()).toBe(1);

      s.fake.setStatus(qrId, 'Processed');
      await s.t.gateway.db
        .knex('kaspi_qr_remote_invoices')
        .where({ payment_id: id })
        .update({ last_refresh_at: '2000-01-01 00:00:00.000' });
      await page.getByRole('button', { name: 'Check the status with Kaspi' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('paid');
      expect(statusCalls()).toBe(2);
      expect(await balanceOf(s.t.gateway, a)).toBe(20000);
      // Paid: nothing more to ask or cancel.
      await expect(page.getByRole('button', { name: 'Cancel the invoice' }).count()).resolves.toBe(0);

      const other = await make(page, a, '300.00', 'remote', '87071234567');
      await page.getByRole('button', { name: 'Cancel the invoice' }).click();
      await expect(page.getByRole('status').textContent()).resolves.toContain('cancelled');
      const cancelled = await s.t.gateway.db
        .knex('audit_log')
        .where({ action: 'qr.cancelled', target_id: other });
      expect(cancelled.map((e: { actor: string }) => e.actor)).toEqual(['console:operator']);
      expect(await balanceOf(s.t.gateway, a)).toBe(20000);
      await page.close();
    });

    it('when an operator returns part of a Kaspi QR purchase from its payment page, then it goes through the refunds ledger (payment/return) once, audited under their name', async () => {
      const p = await paidQrPurchase(s, 60000);
      const page = await signIn(base, 'operator');
      await page.goto(`${base}/console/payments/${p.paymentId}`);
      await expect(page.getByLabel('Amount').inputValue()).resolves.toBe('600.00');
      await page.getByLabel('Amount').fill('250.00');
      await page.getByLabel('Reason').fill('returned at the desk');
      await page.getByRole('button', { name: 'File refund' }).click();
      await page.getByRole('button', { name: 'Confirm refund' }).click();
      await page.waitForURL(/filed=\d+/);
      await expect(page.getByRole('status').textContent()).resolves.toContain('Refund filed');
      const rows = await s.t.gateway.db.knex('refunds').where({ payment_id: p.paymentId });
      expect(rows).toHaveLength(1);
      expect(Number(rows[0].amount)).toBe(25000);
      expect(s.fake.calls('paymentReturn')).toHaveLength(1);
      const filed = await s.t.gateway.db.knex('audit_log').where({ action: 'refund.filed' });
      expect(filed.map((e: { actor: string }) => e.actor)).toEqual(['console:operator']);
      await expect(page.getByText('Left to refund').textContent()).resolves.toContain('350.00');
      // The timeline: received, the refund, where it is now.
      const tl = (await page.locator('ol.timeline').textContent()) ?? '';
      expect(tl).toContain('received');
      expect(tl).toContain('refund.filed');
      expect(tl).toContain('now');
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `${kind}-kaspi-qr-return`);
      await page.close();
    });
  });

  describe('r1', () => {
    let s: ReturnsSetup;
    let base: string;

    beforeAll(async () => {
      ({ s, base } = await setup('r1'));
    });
    afterAll(async () => {
      await s?.t.close();
      await s?.fake.stop();
    });

    it('when an operator opens a paid r1 Kaspi QR payment, then there is no return form and the page says where to refund it', async () => {
      const p = await paidQrPurchase(s, 40000);
      const page = await signIn(base, 'operator');
      await page.goto(`${base}/console/payments/${p.paymentId}`);
      await expect(page.getByRole('button', { name: 'File refund' }).count()).resolves.toBe(0);
      await expect(page.getByRole('button', { name: 'Start return session' }).count()).resolves.toBe(0);
      await expect(page.getByText('refund it in the Kaspi Pay app, section Возврат').count()).resolves.toBe(
        1,
      );
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.close();
    });
  });

  describe('r2', () => {
    let s: ReturnsSetup;
    let base: string;

    beforeAll(async () => {
      ({ s, base } = await setup('r2', { PUBLIC_BASE_URL: 'https://pay.example.kz' }));
    });
    afterAll(async () => {
      await s?.t.close();
      await s?.fake.stop();
      // Every WARN or ERROR of the run was expected: a viewer's refused POST, and the start's notice
      // that the test CA's client certificate (valid 20 days) is close to its end.
      const expected = /CSRF|client certificate expires within 30 days/;
      expect(logs.lines.filter((l) => !expected.test(l.message))).toEqual([]);
    });

    it('when an operator starts a return with the payer present, then the return session shows its return QR and page, and qr.return_started names the operator', async () => {
      const p = await paidQrPurchase(s, 60000);
      const page = await signIn(base, 'operator');
      await page.goto(`${base}/console/payments/${p.paymentId}`);
      // r2 returns need the payer: no refund form, the return-session form instead.
      await expect(page.getByRole('button', { name: 'File refund' }).count()).resolves.toBe(0);
      await page.getByLabel('Amount').fill('100.00');
      await page.getByLabel('Reason').fill('the payer is at the desk');
      await page.getByRole('button', { name: 'Start return session' }).click();
      await page.waitForURL(/\/console\/qr\/returns\/\d+\?started=1$/);
      await expect(page.getByRole('status').textContent()).resolves.toContain('pending');
      await expect(
        page.getByRole('link', { name: /^https:\/\/pay\.example\.kz\/return\/[0-9a-f]{32}$/ }).count(),
      ).resolves.toBe(1);
      const img = page.getByRole('img', { name: 'The return QR for the payer to scan' });
      await expect(img.getAttribute('src')).resolves.toMatch(/^data:image\/svg\+xml;base64,/);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `${kind}-kaspi-qr-return-session`);
      expect(s.fake.calls('returnCreate')).toHaveLength(1);
      // Pending, the page says what it waits for; once the engine has followed the session with
      // Kaspi (the payer scanned and it was returned), "Show the current state" shows it.
      await expect(page.getByText('Waiting for the payer to scan').count()).resolves.toBe(1);
      await s.t.gateway.services.qrReturns!.sessions.run({ now: new Date(Date.now() + 5_000) });
      await page.getByRole('link', { name: 'Show the current state' }).click();
      await expect(page.locator('dl.fields').textContent()).resolves.not.toContain('pending');
      await expect(page.getByRole('link', { name: 'Show the current state' }).count()).resolves.toBe(0);
      const started = await s.t.gateway.db.knex('audit_log').where({ action: 'qr.return_started' });
      expect(started.map((e: { actor: string }) => e.actor)).toEqual(['console:operator']);
      // The payment's page lists the session.
      await page.goto(`${base}/console/payments/${p.paymentId}`);
      await expect(page.getByRole('link', { name: /Return session \d+/ }).count()).resolves.toBe(1);
      await page.close();
    });
  });
});
