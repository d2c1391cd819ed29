import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jsqr from 'jsqr';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import request from 'supertest';
import { dbKinds } from '../support/databases.js';
import { ADMIN, startQrGateway, type QrSetup } from '../support/kaspi-qr.js';
import { captureLogs } from '../support/log-capture.js';

// jsQR is CommonJS with `export default`: under NodeNext the default import is its module object.
type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: Decode = ((jsqr as unknown as { default?: Decode }).default ?? jsqr) as unknown as Decode;

captureLogs('warn');

/**
 * The payer's page in a real browser (Debian's Chromium through playwright-core), through the real
 * public listener: the QR decodes back to Kaspi's QrToken, and the page flips to paid without a
 * reload once the engine has read Processed.
 */
describe.each(dbKinds)('[%s] the Kaspi QR pay page', (kind) => {
  let s: QrSetup;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    s = await startQrGateway(kind, 'r1');
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

  async function create(kindOf: 'qr' | 'link' = 'qr') {
    const res = await s.t
      .admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', `page-${kindOf}-${Date.now()}-${Math.random()}`)
      .send({ account: 'QR-1', amount: '1500.50', kind: kindOf });
    expect(res.status).toBe(201);
    return res.body as { id: string; txnId: string; qrToken?: string; payUrl: string; createdAt: string };
  }

  it('when the payer opens the page, then the QR decodes to the token, and it turns to paid by itself once Kaspi says Processed', async () => {
    const c = await create();
    const token = c.payUrl.split('/pay/')[1] as string;
    const page = await browser.newPage({ viewport: { width: 600, height: 900 } });
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused/i.test(m.text())) violations.push(m.text());
    });
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) outside.push(r.url());
    });
    const res = await page.goto(`${base}/pay/${token}?lang=en`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res?.headers()['content-security-policy']).not.toContain('unsafe-inline');
    expect(await page.locator('#amount').textContent()).toBe('1,500.50 ₸');
    expect(await page.locator('body').getAttribute('data-state')).toBe('pending');

    const shot = PNG.sync.read(await page.locator('#qr').screenshot());
    const decoded = jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height);
    expect(decoded?.data).toBe(c.qrToken);

    s.fake.setStatus(c.txnId, 'Processed');
    await s.t.gateway.services.kaspiQr!.engine.run({}, new Date(new Date(c.createdAt).getTime() + 1_100));
    // No reload: the page's own script reads /pay/:token/status at the polling interval.
    await page.locator('#paid').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('body').getAttribute('data-state')).toBe('paid');
    expect(await page.locator('#paid').isVisible()).toBe(true);
    expect(await page.locator('#qr').isVisible()).toBe(false);
    expect(violations).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });

  it('when the page is read without JavaScript, then it shows the state and refreshes itself; Russian by default; an unknown token is a 404 page', async () => {
    const c = await create('link');
    const token = c.payUrl.split('/pay/')[1] as string;
    const html = await request(base).get(`/pay/${token}`);
    expect(html.status).toBe(200);
    expect(html.text).toContain('Оплатить в Kaspi');
    expect(html.text).toContain('http-equiv="refresh"');
    expect(html.text).not.toContain(c.id.length > 0 ? `>${c.id}<` : 'never');
    const status = await request(base).get(`/pay/${token}/status`);
    expect(status.body).toMatchObject({ state: 'pending' });
    expect((await request(base).get('/pay/0123456789abcdef0123456789abcdef')).status).toBe(404);
    expect((await request(base).get(`/pay/${c.id}`)).status).toBe(404);
  });
});
