import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dbKinds } from '../support/databases.js';
import { ForcedConflict } from '../support/forced-conflict.js';
import { ADMIN, QR_API_KEY, QR_DEVICE_TOKEN, startQrGateway, type QrSetup } from '../support/kaspi-qr.js';
import { captureLogs } from '../support/log-capture.js';

/**
 * r1's Api-Key goes to Kaspi in a header and nowhere else: not in any log line at any level, not in
 * the request log, not in an answer, whatever the call did (created, polled, retried, refused).
 */
describe.each(dbKinds)('[%s] the Kaspi QR Api-Key (r1)', (kind) => {
  let s: QrSetup;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    s = await startQrGateway(kind, 'r1', { LOG_LEVEL: 'debug' });
    // After the gateway is built (it sets the logger up from its config): every level, into an array.
    logs = captureLogs('debug');
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });

  it('when purchases are made, polled, retried and refused, then the Api-Key is in no log line, request log row or answer', async () => {
    const g = s.t.gateway;
    const answers: string[] = [];
    const res = await s.t
      .admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', `key-${kind}-${Date.now()}`)
      .send({ account: 'QR-1', amount: '12.00', kind: 'qr' });
    expect(res.status).toBe(201);
    answers.push(res.text);
    const c = res.body as { id: string; txnId: string; createdAt: string };
    const at = (ms: number) => new Date(new Date(c.createdAt).getTime() + ms);
    // A GET retried on 5xx, then Kaspi refusing our key (-10000): the engine pauses.
    s.fake.fault('paymentStatus', { http: 503, times: 1 });
    await g.services.kaspiQr!.engine.run({}, at(1_100));
    s.fake.fault('paymentStatus', { statusCode: -10000, message: 'Api-Key is not valid', times: 3 });
    await g.services.kaspiQr!.engine.run({}, at(60_000));
    s.fake.clearFaults();
    await g.db.knex('kaspi_qr_state').update({ value: null });
    s.fake.setStatus(c.txnId, 'Processed');
    await g.services.kaspiQr!.engine.run({}, at(120_000));
    const shown = await s.t.admin().get(`/api/qr/payments/${c.id}`).set(ADMIN);
    expect(shown.body).toMatchObject({ state: 'paid' });
    answers.push(
      shown.text,
      (await s.t.admin().get('/healthz')).text,
      (await s.t.admin().get('/metrics')).text,
    );

    // The key did go to Kaspi (else this test proves nothing), and the debug lines were written.
    expect(s.fake.calls('paymentStatus').every((r) => r.headers['api-key'] === QR_API_KEY)).toBe(true);
    expect(logs.lines.length).toBeGreaterThan(3);
    expect(logs.lines.some((l) => l.level === 'error')).toBe(true); // the -10000 pause, at least
    await g.stores.requestLog.flush();
    const logged = JSON.stringify(await g.db.knex('request_log'));
    for (const text of [logs.raw(), logged, ...answers]) {
      expect(text).not.toContain(QR_API_KEY);
      expect(text).not.toContain(QR_DEVICE_TOKEN);
    }
    logs.clear();
  });
});

const onMysql = dbKinds.includes('mysql') ? describe : describe.skip;

onMysql('[mysql] the Kaspi QR device under the commit retry', () => {
  let s: QrSetup;
  let forced: ForcedConflict;
  captureLogs('warn');

  beforeAll(async () => {
    s = await startQrGateway('mysql', 'r3', { KASPI_QR_DEVICE_TOKEN: undefined as unknown as string });
    forced = new ForcedConflict(s.t.gateway.db.knex);
  });
  afterAll(async () => {
    await forced.clear();
    await s.t.close();
    await s.fake.stop();
  });

  it('when storing a registered device meets a deadlock (a Galera certification failure), then it runs again: one active device', async () => {
    await forced.arm('kaspi_qr_devices', 'insert', 1);
    const token = await s.t.gateway.services.kaspiQr!.service.registerDevice('12', 'GFC-RETRY');
    expect(await forced.remaining('kaspi_qr_devices', 'insert')).toBe(0);
    const rows = await s.t.gateway.db.knex('kaspi_qr_devices').where({ active: true });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ device_id: 'GFC-RETRY', device_token: token });
    expect(s.fake.calls('deviceRegister')).toHaveLength(1);
  });
});
