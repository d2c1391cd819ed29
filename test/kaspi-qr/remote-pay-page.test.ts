import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import request from 'supertest';
import { dbKinds } from '../support/databases.js';
import { installRemote } from '../support/fake-kaspi-qr-remote.js';
import { AUTH, startReturnsGateway, type ReturnsSetup } from '../support/kaspi-qr-returns.js';
import { balanceOf } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';

captureLogs('warn');

/**
 * A remote invoice's pay page in a real browser (r3): the page never asks Kaspi by itself (no
 * meta refresh, its script reads only our stored state); its "check payment" button is the payer's
 * event, under the same at-most-one-Kaspi-call-per-30-s limit as every refresh, and the page flips
 * to paid without a reload. Without JavaScript the button is a plain form.
 */
describe.each(dbKinds)('[%s] the pay page of a remote invoice', (kind) => {
  let s: ReturnsSetup;
  let browser: Browser;
  let base: string;
  let n = 0;

  beforeAll(async () => {
    s = await startReturnsGateway(kind, 'r3');
    installRemote(s.fake);
    const { port } = await s.t.gateway.start({ jobs: false });
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await s.t.close();
    await s.fake.stop();
  });

  async function invoice(amount: string) {
    n += 1;
    const account = `RP${process.pid}${n}${Math.floor(Math.random() * 1e5)}`;
    await s.t.gateway.stores.accounts.addAccount({ account, name: 'Remote Payer', balance: 0 });
    const res = await s.t
      .admin()
      .post('/api/qr/payments')
      .set(AUTH)
      .set('Idempotency-Key', `rp-${account}`)
      .send({ kind: 'remote', account, amount, phone: '87071234567' });
    expect(res.status).toBe(201);
    const body = res.body as { id: string; txnId: string; payUrl: string };
    return { ...body, account, token: body.payUrl.split('/pay/')[1] as string };
  }
  const statusCalls = (qrPaymentId: string) =>
    s.fake.calls('paymentStatus').filter((r) => r.path.endsWith(`/${qrPaymentId}`)).length;
  /** 30 s passed since the last Kaspi status call of this invoice. */
  const windowPassed = (id: string) =>
    s.t.gateway.db
      .knex('kaspi_qr_remote_invoices')
      .where({ payment_id: id })
      .update({ last_refresh_at: '2000-01-01 00:00:00.000' });

  it('when the payer presses "check payment", then Kaspi is asked at most once per 30 s, and the page turns to paid without a reload', async () => {
    const c = await invoice('700.00');
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/i.test(m.text())) violations.push(m.text());
    });
    const res = await page.goto(`${base}/pay/${c.token}?lang=en`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('body').getAttribute('data-state')).toBe('pending');
    expect(await page.locator('#check').textContent()).toBe('Check payment');
    expect(statusCalls(c.txnId)).toBe(0); // opening the page asks Kaspi nothing

    const checked = () => page.waitForResponse((r) => r.url().endsWith(`/pay/${c.token}/check`));
    await Promise.all([checked(), page.locator('#check').click()]);
    expect(statusCalls(c.txnId)).toBe(1);
    expect(await page.locator('body').getAttribute('data-state')).toBe('pending');

    s.fake.setStatus(c.txnId, 'Processed');
    await Promise.all([checked(), page.locator('#check').click()]);
    expect(statusCalls(c.txnId)).toBe(1); // inside the 30 s: the stored state, no call
    expect(await page.locator('body').getAttribute('data-state')).toBe('pending');

    await windowPassed(c.id);
    await Promise.all([checked(), page.locator('#check').click()]);
    await page.locator('#paid').waitFor({ state: 'visible', timeout: 10_000 });
    expect(statusCalls(c.txnId)).toBe(2);
    expect(await page.locator('#check').isVisible()).toBe(false);
    expect(await balanceOf(s.t.gateway, c.account)).toBe(70000);
    expect(s.fake.calls('paymentDetails').filter((r) => r.path.includes(c.txnId))).toHaveLength(1);
    expect(violations).toEqual([]);
    await page.close();
  });

  it('when the page is read without JavaScript, then no meta refresh, and the button is a form that checks and comes back', async () => {
    const c = await invoice('150.00');
    const html = await request(base).get(`/pay/${c.token}`);
    expect(html.status).toBe(200);
    expect(html.text).toContain('Проверить оплату');
    expect(html.text).toContain(`action="/pay/${c.token}/check"`);
    expect(html.text).not.toContain('http-equiv="refresh"');
    expect(html.headers['content-security-policy']).toContain("form-action 'self'");
    const posted = await request(base).post(`/pay/${c.token}/check`).set('Accept', 'text/html');
    expect(posted.status).toBe(303);
    expect(posted.headers.location).toBe(`/pay/${c.token}`);
    expect(statusCalls(c.txnId)).toBe(1);
    const again = await request(base).post(`/pay/${c.token}/check`).set('Accept', 'application/json');
    expect(again.body).toMatchObject({ state: 'pending' });
    expect(statusCalls(c.txnId)).toBe(1);
    expect((await request(base).post('/pay/0123456789abcdef0123456789abcdef/check')).status).toBe(404);
  });
});
