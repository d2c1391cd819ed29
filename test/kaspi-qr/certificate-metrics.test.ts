import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dbKinds } from '../support/databases.js';
import { startFakeKaspiQr, type FakeKaspiQr } from '../support/fake-kaspi-qr.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { ADMIN, kaspiQrConfig, QR_DEVICE_TOKEN } from '../support/kaspi-qr.js';
import { captureLogs } from '../support/log-capture.js';
import { testCerts, type TestCerts } from '../support/test-ca.js';

const logs = captureLogs('info');

describe.each(dbKinds)('[%s] the Kaspi QR client certificate, health and metrics (r2)', (kind) => {
  let certs: TestCerts;
  let fake: FakeKaspiQr;
  let dir: string;
  const certFile = () => path.join(dir, 'client.pem');
  const keyFile = () => path.join(dir, 'client.key');
  const install = (c: { cert: string; key: string }) => {
    fs.copyFileSync(c.cert, certFile());
    fs.copyFileSync(c.key, keyFile());
  };

  beforeAll(async () => {
    certs = testCerts();
    fake = await startFakeKaspiQr({ scheme: 'r2', certs });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kaspi-qr-rotate-'));
  });
  afterAll(async () => {
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (more: Record<string, string> = {}) =>
    startTestGateway(
      kind,
      kaspiQrConfig(fake, certs, { KASPI_QR_CERT_FILE: certFile(), KASPI_QR_KEY_FILE: keyFile(), ...more }),
    );

  it('when the service starts, then subject, issuer and expiry are logged, a WARN within 30 days of expiry, and SIGHUP-style reload presents the new certificate', async () => {
    install(certs.newClient('soon-expiring', 10));
    logs.clear();
    const t: TestGateway = await start();
    try {
      await t.gateway.services.kaspiQr!.service.start();
      const info = logs.find('info', 'client certificate (start)');
      expect(info).toHaveLength(1);
      expect(info[0]).toMatchObject({ file: certFile(), daysLeft: 9 });
      expect(String(info[0]!.subject)).toContain('CN=soon-expiring');
      expect(String(info[0]!.issuer)).toContain('Test Kaspi Root CA');
      expect(logs.find('warn', 'expires within 30 days')).toHaveLength(1);
      expect((await t.admin().get('/healthz')).body).toMatchObject({ status: 'ok', kaspi_qr: 'ok' });
      const before = fake.calls('healthPing').at(-1)!.clientCert;

      install(certs.newClient('rotated', 400));
      logs.clear();
      expect(t.gateway.services.kaspiQr!.service.reloadCertificates()).toBe(true);
      expect(String(logs.find('info', 'client certificate (reload)')[0]?.subject)).toContain('CN=rotated');
      expect(logs.find('warn', 'expires within 30 days')).toHaveLength(0);
      await t.gateway.services.kaspiQr!.service.ping();
      const after = fake.calls('healthPing').at(-1)!.clientCert;
      expect(after).not.toBeNull();
      expect(after).not.toBe(before);

      const metrics = (await t.admin().get('/metrics')).text;
      const expiry = /gateway_kaspi_qr_cert_expiry_seconds (\d+(?:\.\d+)?)/.exec(metrics);
      expect(Number(expiry?.[1]) / 86_400).toBeGreaterThan(398);
      // No secret in any line the service wrote.
      expect(logs.raw()).not.toContain(certs.passphrase);
      expect(logs.raw()).not.toContain(QR_DEVICE_TOKEN);
    } finally {
      await t.close();
    }
  });

  it('when our certificate is not one Kaspi accepts, then the start names the file and the reason at ERROR, /healthz says tls_failed (still 200), purchases answer 502', async () => {
    fs.copyFileSync(certs.foreignClientCert, certFile());
    fs.copyFileSync(certs.foreignClientKey, keyFile());
    logs.clear();
    const t = await start({ KASPI_QR_KEY_PASSPHRASE: '' });
    try {
      await t.gateway.services.kaspiQr!.service.start();
      const err = logs.find('error', 'TLS handshake refused');
      expect(err).toHaveLength(1);
      expect(err[0]).toMatchObject({ file: certFile() });
      const health = await t.admin().get('/healthz');
      expect(health.status).toBe(200);
      expect(health.body.kaspi_qr).toBe('tls_failed');
      await t.gateway.stores.accounts.addAccount({ account: 'QR-1', name: 'Payer', balance: 0 });
      const res = await t
        .admin()
        .post('/api/qr/payments')
        .set(ADMIN)
        .set('Idempotency-Key', 'tls-failed-1')
        .send({ account: 'QR-1', amount: '10.00' });
      expect(res.status).toBe(502);
      expect(res.body.error).toBe('kaspi_tls_failed');
      const rows = (await t.gateway.db.knex('payments').count({ n: '*' })) as { n: number | string }[];
      expect(Number(rows[0]?.n)).toBe(0); // mysql2 counts as a string
    } finally {
      await t.close();
    }
  });

  it('when /metrics is scraped, then purchases by state, the oldest open one, calls by method and outcome, polls and credits are there', async () => {
    install(certs.newClient('metrics', 400));
    const t = await start();
    try {
      await t.gateway.stores.accounts.addAccount({ account: 'QR-1', name: 'Payer', balance: 0 });
      const res = await t
        .admin()
        .post('/api/qr/payments')
        .set(ADMIN)
        .set('Idempotency-Key', 'metrics-1')
        .send({ account: 'QR-1', amount: '10.00' });
      expect(res.status).toBe(201);
      fake.setStatus(String(res.body.txnId), 'Processed');
      const open = await t
        .admin()
        .post('/api/qr/payments')
        .set(ADMIN)
        .set('Idempotency-Key', 'metrics-2')
        .send({ account: 'QR-1', amount: '11.00' });
      expect(open.status).toBe(201);
      await t.gateway.services.kaspiQr!.engine.run({}, new Date(Date.now() + 1_500));
      const text = (await t.admin().get('/metrics')).text;
      expect(text).toMatch(/gateway_kaspi_qr_payments\{state="paid"\} 1/);
      expect(text).toMatch(/gateway_kaspi_qr_payments\{state="pending"\} 1/);
      expect(text).toMatch(/gateway_oldest_pending_age_seconds\{kind="kaspi_qr"\} \d/);
      expect(text).toMatch(/gateway_kaspi_qr_calls_total\{method="qrCreate",outcome="ok"\} 2/);
      expect(text).toMatch(/gateway_kaspi_qr_calls_total\{method="paymentStatus",outcome="ok"\} 2/);
      expect(text).toMatch(/gateway_kaspi_qr_polls_total 2/);
      expect(text).toMatch(/gateway_kaspi_qr_credits_total 1/);
    } finally {
      await t.close();
    }
  });
});
