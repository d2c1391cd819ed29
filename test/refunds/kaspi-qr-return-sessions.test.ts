import { LosslessNumber } from 'lossless-json';
import { dbKinds } from '../support/databases.js';
import { balanceOf } from '../support/ledger.js';
import {
  AUTH,
  paidQrPurchase,
  qrLog,
  startReturnsGateway,
  type ReturnsSetup,
} from '../support/kaspi-qr-returns.js';

/**
 * r2 returns with the payer present: POST /api/qr/returns → return/create → the return QR page →
 * return/status polled at the session's interval → return/operations must list the purchase →
 * payment/details → payment/return with the QrReturnId.
 */
describe.each(dbKinds)('[%s] Kaspi QR return sessions, r2', (kind) => {
  let s: ReturnsSetup;
  const JOB = 'kaspi-qr-return-sessions';

  beforeAll(async () => {
    s = await startReturnsGateway(kind, 'r2', {
      KASPI_QR_DEADLINE_GRACE_MS: 0,
      PUBLIC_BASE_URL: 'https://pay.example.kz',
    });
    // Sessions are polled every 30 s: a tick right after creation finds nothing due.
    s.kaspi.behaviour.QrCodeScanEventPollingInterval = 30;
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });
  afterEach(() => {
    s.fake.clearFaults();
    s.kaspi.nextSession = { identifiedAfterMs: 0, customerPurchases: 'payer' };
  });

  const start = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    s.t
      .admin()
      .post('/api/qr/returns')
      .set(AUTH)
      .set(headers)
      .send({ reason: 'returned at the desk', ...body });
  const session = (id: string) => s.t.admin().get(`/api/qr/returns/${id}`).set(AUTH);
  /** Time passes: every open session is due now. */
  const due = () =>
    s.t.gateway.db
      .knex('kaspi_qr_return_sessions')
      .whereIn('state', ['pending', 'identified'])
      .update({ next_poll_at: '2000-01-01 00:00:00.000' });
  const tick = () => s.t.gateway.scheduler.runNow(JOB);

  it('when the payer scans the return QR, then the page showed it, and the purchase is returned with the QrReturnId', async () => {
    const p = await paidQrPurchase(s, 60000);
    // Identified only on the second status call: the first finds the QR not scanned yet.
    s.kaspi.nextSession = { identifiedAfterMs: 60 * 60_000, customerPurchases: 'payer' };
    const res = await start({ txnId: p.txnId, amount: '250.00' }, { 'Idempotency-Key': `ret-${p.txnId}` });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'pending', txnId: p.txnId, amount: '250.00' });
    expect(res.body.returnUrl).toMatch(/^https:\/\/pay\.example\.kz\/return\/[0-9a-f]{32}$/);
    expect(res.body.returnUrl).not.toContain(p.txnId);
    const again = await start({ txnId: p.txnId, amount: '250.00' }, { 'Idempotency-Key': `ret-${p.txnId}` });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    expect(s.fake.calls('returnCreate')).toHaveLength(1);

    const path = new URL(res.body.returnUrl as string).pathname;
    const pageRes = await s.t.api().get(path);
    expect(pageRes.status).toBe(200);
    expect(pageRes.text).toContain('<svg');
    expect(pageRes.text).toContain('250.00');
    expect(pageRes.text).toMatch(/http-equiv="refresh" content="30"/);
    expect((await s.t.api().get('/return/0123456789abcdef0123456789abcdef')).status).toBe(404);

    // Not due yet: the tick asks nothing. Due: one status call, still not scanned.
    await tick();
    expect(s.fake.calls('returnStatus')).toHaveLength(0);
    await due();
    await tick();
    expect(s.fake.calls('returnStatus')).toHaveLength(1);
    expect((await session(res.body.id as string)).body.state).toBe('pending');

    const qrReturnId = res.body.qrReturnId as string;
    (s.kaspi.sessions.get(qrReturnId) as { forced: string | null }).forced = 'CustomerIdentityObtained';
    await due();
    await tick();
    const done = await session(res.body.id as string);
    expect(done.body.state).toBe('returned');
    expect(done.body.refund).toMatchObject({ source: 'kaspi_qr', status: 'success', amount: '250.00' });
    expect(s.kaspi.returned(p.txnId)).toBe(25000);
    expect(await balanceOf(s.t.gateway, p.account)).toBe(35000);
    const ret = s.fake.calls('paymentReturn').at(-1);
    expect((ret?.json?.QrReturnId as LosslessNumber).value).toBe(qrReturnId);
    expect(ret?.json).not.toHaveProperty('OrganizationBin');
    expect(s.fake.calls('returnOperations').at(-1)?.raw).toContain('"MaxResult":10');
    const order = s.fake.requests.slice(-3).map((r) => r.method);
    expect(order).toEqual(['returnOperations', 'paymentDetails', 'paymentReturn']);

    const final = await s.t.api().get(path);
    expect(final.text).toContain('Money returned');
    expect(final.text).not.toContain('http-equiv="refresh"');
    const logged = (await qrLog(s.t)).filter((r) => r.txn_id === p.txnId).map((r) => r.command);
    expect(logged).toEqual([
      'return/create',
      'return/status',
      'return/status',
      'return/operations',
      'payment/details',
      'payment/return',
    ]);
  });

  it('when someone else scans it, then wrong_customer and nothing is returned', async () => {
    const p = await paidQrPurchase(s, 30000);
    s.kaspi.nextSession = { identifiedAfterMs: 0, customerPurchases: ['9000000000000000001'] };
    const res = await start({ txnId: p.txnId, amount: '100.00' });
    const sent = s.fake.calls('paymentReturn').length;
    await due();
    await tick();
    const after = await session(res.body.id as string);
    expect(after.body.state).toBe('wrong_customer');
    expect(after.body.refund).toBeNull();
    expect(s.fake.calls('paymentReturn')).toHaveLength(sent);
    expect(await s.t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(0);
    expect((await s.t.api().get(new URL(res.body.returnUrl as string).pathname)).text).toContain(
      'did not make this purchase',
    );
  });

  it('when nobody scans it before the timeout, then expired and nothing is returned; the purchase can be returned again', async () => {
    const p = await paidQrPurchase(s, 30000);
    s.kaspi.nextSession = { identifiedAfterMs: null, customerPurchases: 'payer' };
    const res = await start({ txnId: p.txnId, amount: '100.00' });
    // One open session per purchase.
    expect((await start({ txnId: p.txnId, amount: '50.00' })).status).toBe(409);
    // The scan timeout (180 s from the fake) passed.
    await s.t.gateway.db
      .knex('kaspi_qr_return_sessions')
      .where({ id: res.body.id })
      .update({ deadline: '2000-01-01 00:00:00.000' });
    await due();
    await tick();
    expect((await session(res.body.id as string)).body.state).toBe('expired');
    expect(s.kaspi.returned(p.txnId)).toBe(0);
    expect(await s.t.gateway.db.knex('refunds').where({ txn_id: p.txnId })).toHaveLength(0);
    expect((await start({ txnId: p.txnId, amount: '100.00' })).status).toBe(201);
  });

  it('when the checks fail or the scheme is not r2, then refused before return/create, nothing stored', async () => {
    const p = await paidQrPurchase(s, 10000);
    const created = s.fake.calls('returnCreate').length;
    expect((await start({ txnId: p.txnId, amount: '100.01' })).body.error).toBe('refund_exceeds_payment');
    expect((await start({ txnId: '9223372036854775001', amount: '1.00' })).body.error).toBe(
      'payment_not_found',
    );
    expect((await start({ txnId: p.txnId, amount: 'abc' })).status).toBe(400);
    expect(s.fake.calls('returnCreate')).toHaveLength(created);
    // The r2 refund without the payer points here.
    const direct = await s.t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ source: 'kaspi_qr', txnId: p.txnId, amount: '1.00', reason: 'x' });
    expect(direct.status).toBe(409);
    expect(direct.body.message).toMatch(/\/api\/qr\/returns/);
  });

  it('when the answer to return/create is lost, then 502 and nothing stored (no QR was shown)', async () => {
    const p = await paidQrPurchase(s, 10000);
    s.fake.fault('returnCreate', { reset: 'after' });
    const res = await start({ txnId: p.txnId, amount: '10.00' });
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('kaspi_qr_outcome_unknown');
    expect(await s.t.gateway.db.knex('kaspi_qr_return_sessions').where({ txn_id: p.txnId })).toHaveLength(0);
  });
});
