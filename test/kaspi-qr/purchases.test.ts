import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { KASPI_QR_ENGINE_JOB } from '../../src/jobs/jobs.js';
import type { Gateway } from '../../src/wiring/wiring.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { ADMIN, kaspiQrConfig, startQrGateway, type QrSetup } from '../support/kaspi-qr.js';
import { balanceOf, creditsFor, paymentsFor } from '../support/ledger.js';
import { captureLogs } from '../support/log-capture.js';

const logs = captureLogs('warn');
let seq = 0;
const key = () => `test-key-${process.pid}-${++seq}`;

interface Created {
  id: string;
  txnId: string;
  state: string;
  [k: string]: unknown;
}

describe.each(dbKinds)('[%s] Kaspi QR purchases and the status engine', (kind) => {
  let s: QrSetup;
  let g: Gateway;
  const admin = () => s.t.admin();
  const engine = () => g.services.kaspiQr!.engine;

  beforeAll(async () => {
    s = await startQrGateway(kind, 'r1');
    g = s.t.gateway;
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });
  // Each test follows its own purchase: the earlier ones are not polled any more (faults are per call).
  beforeEach(async () => {
    await g.db.knex('kaspi_qr_purchases').update({ next_poll_at: null });
    s.fake.clearFaults();
  });

  async function create(body: Record<string, unknown> = {}, k = key()): Promise<Created> {
    const res = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', k)
      .send({ account: 'QR-1', amount: '1500.50', kind: 'qr', ...body });
    expect(res.status).toBe(201);
    return res.body as Created;
  }
  const show = async (id: string) =>
    (await admin().get(`/api/qr/payments/${id}`).set(ADMIN)).body as Record<string, unknown>;
  const statusCalls = (txnId: string) =>
    s.fake.calls('paymentStatus').filter((r) => r.path === `/payment/status/${txnId}`).length;
  /** Runs the engine as if `ms` had passed since the purchase was created. */
  const tick = (c: Created, ms: number) =>
    engine().run({}, new Date(new Date(String(c.createdAt)).getTime() + ms));

  it('when a QR purchase is created, then it is an awaiting payment with its QR, and Kaspi got the amount from tiyn', async () => {
    const c = await create();
    expect(c).toMatchObject({
      state: 'pending',
      kind: 'qr',
      account: 'QR-1',
      amount: '1500.50',
      credit: null,
    });
    expect(c.txnId).toMatch(/^\d{16,19}$/);
    expect(String(c.qrToken)).toMatch(/^\d{41}$/);
    expect(String(c.qrSvg)).toContain('<svg');
    expect(String(c.payUrl)).toMatch(/\/pay\/[0-9a-f]{32}$/);
    expect(c.paymentMethods).toEqual(['Gold', 'Red', 'Loan']);
    const sent = s.fake.calls('qrCreate').at(-1)!;
    expect(sent.raw).toContain('"Amount":1500.5');
    expect(sent.raw).toMatch(/"ExternalId":"[0-9a-f]{32}"/);
    const [row] = await paymentsFor(g, c.txnId);
    expect(row).toMatchObject({ source: 'kaspi_qr', state: 'awaiting_payment', account: 'QR-1' });
    expect(Number(row.amount)).toBe(150050);
    // Who made it is in the audit log, written in the purchase's own transaction.
    const audit = await admin().get('/api/audit').query({ action: 'qr.created' }).set(ADMIN);
    expect(audit.status).toBe(200);
    const mine = (
      audit.body.entries as { actor: string; target: { id: string }; details: Record<string, string> }[]
    ).filter((e) => String(e.target.id) === String(c.id));
    expect(mine).toEqual([
      expect.objectContaining({ actor: 'api', details: { kind: 'qr', account: 'QR-1', amount: '1500.50' } }),
    ]);
  });

  it('when the same Idempotency-Key comes again, then the same purchase (200) and no second qr/create; another body is 409', async () => {
    const k = key();
    const first = await create({}, k);
    const before = s.fake.calls('qrCreate').length;
    const again = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', k)
      .send({ account: 'QR-1', amount: '1500.50', kind: 'qr' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.id);
    const other = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', k)
      .send({ account: 'QR-1', amount: '99.00', kind: 'qr' });
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('idempotency_key_reused');
    expect(s.fake.calls('qrCreate').length).toBe(before);
  });

  it('when the key is missing, the account unknown or the amount out of limits, then nothing reaches Kaspi', async () => {
    const before = s.fake.calls('qrCreate').length;
    const noKey = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .send({ account: 'QR-1', amount: '10.00' });
    expect(noKey.status).toBe(400);
    const unknown = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', key())
      .send({ account: 'NOBODY', amount: '10.00' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('account_not_found');
    const tooBig = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', key())
      .send({ account: 'QR-1', amount: '99999999.00' });
    expect(tooBig.status).toBe(422);
    expect(s.fake.calls('qrCreate').length).toBe(before);
  });

  it('when Kaspi refuses the create, then 502 with its code and message, and nothing stored', async () => {
    s.fake.fault('qrCreate', { statusCode: 990000028, message: 'Неверная сумма' });
    const res = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', key())
      .send({ account: 'QR-1', amount: '10.00' });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({
      error: 'invalid_amount',
      kaspiCode: 990000028,
      kaspiMessage: 'Неверная сумма',
    });
  });

  it('when the answer to qr/create is lost after Kaspi read it, then 502, nothing payable, not re-sent; the same key later makes a new attempt', async () => {
    const k = key();
    const before = s.fake.calls('qrCreate').length;
    const paymentsBefore = await g.db.knex('payments').count({ n: '*' });
    s.fake.fault('qrCreate', { reset: 'after' });
    const res = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', k)
      .send({ account: 'QR-1', amount: '20.00' });
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('kaspi_qr_outcome_unknown');
    expect(s.fake.calls('qrCreate').length).toBe(before + 1); // never sent twice
    expect(await g.db.knex('payments').count({ n: '*' })).toEqual(paymentsBefore);
    const lost = await g.db.knex('kaspi_qr_attempts').where({ idem_key: k });
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ state: 'lost' });
    logs.clear();

    const retry = await admin()
      .post('/api/qr/payments')
      .set(ADMIN)
      .set('Idempotency-Key', k)
      .send({ account: 'QR-1', amount: '20.00' });
    expect(retry.status).toBe(201);
    const sent = s.fake.calls('qrCreate').slice(-2);
    expect(sent[0]!.json?.ExternalId).not.toEqual(sent[1]!.json?.ExternalId);
    expect(sent[0]!.headers['x-request-id']).not.toEqual(sent[1]!.headers['x-request-id']);
  });

  it('when a purchase goes QrTokenCreated → Wait → Processed, then it is polled at its interval and credited once', async () => {
    const c = await create({ amount: '100.00' });
    const balance = await balanceOf(g, 'QR-1');
    await tick(c, 500); // not due yet: StatusPollingInterval is 1 s
    expect(statusCalls(c.txnId)).toBe(0);
    await tick(c, 1_100);
    expect(statusCalls(c.txnId)).toBe(1);
    await tick(c, 1_600); // polled 0.5 s ago: not again
    expect(statusCalls(c.txnId)).toBe(1);
    s.fake.setStatus(c.txnId, 'Wait');
    await tick(c, 2_200);
    expect(statusCalls(c.txnId)).toBe(2);
    expect(await show(c.id)).toMatchObject({ state: 'scanned' });
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 3_300);
    await tick(c, 10_000);
    await tick(c, 20_000);
    expect(statusCalls(c.txnId)).toBe(3); // not polled once paid
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited', kaspiStatus: 'Processed' });
    expect(await creditsFor(g, c.txnId)).toHaveLength(1);
    expect(await balanceOf(g, 'QR-1')).toBe(balance + 100_00);
  });

  it('when Wait is first seen late, then the confirm deadline counts from that moment, not from the creation', async () => {
    s.fake.behaviour = { ...s.fake.behaviour, QrCodeScanWaitTimeout: 180, PaymentConfirmationTimeout: 65 };
    const c = await create({ amount: '11.00' });
    await tick(c, 170_000);
    s.fake.setStatus(c.txnId, 'Wait');
    await tick(c, 171_000);
    await tick(c, 230_000); // past creation + 180 s, within Wait + 65 s
    expect(await show(c.id)).toMatchObject({ state: 'scanned' });
    await tick(c, 237_000); // past Wait + 65 s: the last call, then expired
    expect(await show(c.id)).toMatchObject({ state: 'expired' });
  });

  it('when the scan deadline passes but the last status call says Processed, then it is paid and credited', async () => {
    s.fake.behaviour = { ...s.fake.behaviour, QrCodeScanWaitTimeout: 5 };
    const c = await create({ amount: '12.00' });
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 6_000);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(await creditsFor(g, c.txnId)).toHaveLength(1);
  });

  it('when a purchase expired unpaid and is paid later, then a late check credits it (WARN), once', async () => {
    s.fake.behaviour = { ...s.fake.behaviour, QrCodeScanWaitTimeout: 5 };
    const c = await create({ amount: '13.00' });
    await tick(c, 6_000); // the last call: still QrTokenCreated
    const expired = await show(c.id);
    expect(expired).toMatchObject({ state: 'expired', credit: null });
    expect((await paymentsFor(g, c.txnId))[0]).toMatchObject({ state: 'awaiting_payment' });
    const calls = statusCalls(c.txnId);
    await tick(c, 60_000); // before the first late check (2 min after the expiry)
    expect(statusCalls(c.txnId)).toBe(calls);
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 6_000 + 121_000);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(await creditsFor(g, c.txnId)).toHaveLength(1);
    expect(logs.find('warn', 'late Processed')).toHaveLength(1);
    logs.clear();
  });

  it('when Kaspi says Error, then it is failed, declined, never credited and not polled again', async () => {
    const c = await create({ amount: '14.00' });
    s.fake.setStatus(c.txnId, 'Error');
    await tick(c, 1_100);
    await tick(c, 5_000);
    expect(statusCalls(c.txnId)).toBe(1);
    expect(await show(c.id)).toMatchObject({ state: 'failed', credit: null });
    expect((await paymentsFor(g, c.txnId))[0]).toMatchObject({ state: 'declined' });
    expect(await creditsFor(g, c.txnId)).toHaveLength(0);
  });

  it('when Kaspi answers a status we do not know, then it stays open (ERROR once), becomes unknown after the deadline, and a later Processed still credits', async () => {
    s.fake.behaviour = { ...s.fake.behaviour, QrCodeScanWaitTimeout: 5 };
    const c = await create({ amount: '15.00' });
    s.fake.setStatus(c.txnId, 'PartiallyFrobnicated');
    await tick(c, 1_100);
    await tick(c, 2_200);
    expect(await show(c.id)).toMatchObject({ state: 'pending', kaspiStatus: 'PartiallyFrobnicated' });
    expect(logs.find('error', 'unknown status')).toHaveLength(1);
    await tick(c, 6_000);
    expect(await show(c.id)).toMatchObject({ state: 'unknown' });
    expect((await paymentsFor(g, c.txnId))[0]).toMatchObject({ state: 'awaiting_payment' });
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 6_000 + 121_000);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(logs.find('error', 'unknown status')).toHaveLength(1);
    logs.clear();
  });

  it('when Kaspi is down, answers garbage or is slow, then the engine backs off with the deadlines unchanged and credits once it answers', async () => {
    s.fake.behaviour = { ...s.fake.behaviour, QrCodeScanWaitTimeout: 180 };
    const c = await create({ amount: '16.00' });
    s.fake.fault('paymentStatus', { http: 503, times: 3 }); // all three GET attempts
    await tick(c, 1_100);
    const down = await show(c.id);
    expect(down).toMatchObject({ state: 'pending' });
    expect(String(down.lastError)).toContain('HTTP 503');
    const next1 = new Date(String(down.nextPollAt)).getTime() - new Date(String(c.createdAt)).getTime();
    expect(next1).toBe(1_100 + 2_000); // interval × 2
    s.fake.fault('paymentStatus', { garbage: '<html>oops</html>', times: 3 });
    await tick(c, 3_100);
    const garbage = await show(c.id);
    expect(String(garbage.lastError)).toContain('unreadable');
    expect(new Date(String(garbage.nextPollAt)).getTime() - new Date(String(c.createdAt)).getTime()).toBe(
      3_100 + 4_000,
    );
    s.fake.fault('paymentStatus', { delayMs: 2_500, times: 3 }); // past KASPI_QR_TIMEOUT_MS
    await tick(c, 7_100);
    const slow = await show(c.id);
    expect(String(slow.lastError)).toContain('no answer');
    expect(slow.scanDeadline).toBe(c.scanDeadline);
    s.fake.clearFaults();
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 7_100 + 8_000);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(await creditsFor(g, c.txnId)).toHaveLength(1);
    expect(logs.find('warn', 'backing off')).toHaveLength(1); // once, not per retry
    logs.clear();
  }, 30_000);

  it('when Kaspi refuses our credentials (-10000), then the engine pauses, /healthz says auth_failed, and it resumes once Kaspi takes us again', async () => {
    const c = await create({ amount: '17.00' });
    s.fake.fault('paymentStatus', { statusCode: -10000, message: 'no certificate' });
    await tick(c, 1_100);
    const health = await admin().get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.kaspi_qr).toBe('auth_failed');
    expect(logs.find('error', 'engine paused')).toHaveLength(1);
    s.fake.setStatus(c.txnId, 'Processed');
    const calls = statusCalls(c.txnId);
    await tick(c, 60_000); // probes health/ping (the fake answers), resumes, polls
    expect(statusCalls(c.txnId)).toBe(calls + 1);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited' });
    expect((await admin().get('/healthz')).body.kaspi_qr).toBe('ok');
    logs.clear();
  });

  it('when more purchases are due than one batch holds, then one tick asks each of them once (not 50 a tick whatever the number open)', async () => {
    const service = g.services.kaspiQr!.service;
    const n = 260; // more than a batch (200): the tick takes a second one
    let made = 0;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (made < n) {
          made += 1;
          const { purchase } = await service.create({
            kind: 'qr',
            account: 'QR-1',
            amount: 10_00,
            idempotencyKey: key(),
          });
          ids.push(purchase.qrPaymentId);
        }
      }),
    );
    const before = s.fake.calls('paymentStatus').length;
    // A budget no loaded machine runs out of: what is tested is that the tick goes past one batch.
    const at = new Date(Date.now() + 10_000);
    const out = await engine().run({ budgetMs: 600_000 }, at);
    expect(out.polled).toBe(n);
    const asked = s.fake
      .calls('paymentStatus')
      .slice(before)
      .map((r) => r.path.split('/').pop());
    expect(new Set(asked)).toEqual(new Set(ids));
    expect(asked).toHaveLength(n);
    // Asked once: the same moment again finds none due (each moved past it by its own interval).
    expect((await engine().run({}, at)).polled).toBe(0);
  });

  it('when two gateways poll one purchase at the same moment (two engines, two leases), then Kaspi is asked once and it is credited once', async () => {
    const second: TestGateway = await startTestGateway(
      kind,
      kaspiQrConfig(s.fake, s.certs),
      {},
      s.t.database,
    );
    try {
      const c = await create({ amount: '18.00' });
      s.fake.setStatus(c.txnId, 'Processed');
      const at = new Date(new Date(String(c.createdAt)).getTime() + 1_100);
      // Both engines directly (as two runners that each believe they hold the lease) …
      await Promise.all([
        engine().run({}, at),
        second.gateway.services.kaspiQr!.engine.run({}, at),
        engine().run({}, at),
        second.gateway.services.kaspiQr!.engine.run({}, at),
      ]);
      expect(statusCalls(c.txnId)).toBe(1);
      expect(await creditsFor(g, c.txnId)).toHaveLength(1);
      // … and through the schedulers: the lease lets one of them run.
      const ran = await Promise.all([
        g.scheduler.runNow(KASPI_QR_ENGINE_JOB),
        second.gateway.scheduler.runNow(KASPI_QR_ENGINE_JOB),
      ]);
      expect(ran.filter(Boolean).length).toBeLessThanOrEqual(2);
      expect(await creditsFor(g, c.txnId)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('when a link purchase is created, then it is polled by its PaymentId like a QR', async () => {
    const c = await create({ kind: 'link', amount: '19.00' });
    expect(String(c.paymentLink)).toMatch(/^https:\/\/pay\.kaspi\.kz\/pay\//);
    expect(c.qrSvg).toBeUndefined();
    s.fake.setStatus(c.txnId, 'Processed');
    await tick(c, 1_100);
    expect(await show(c.id)).toMatchObject({ state: 'paid', credit: 'credited', kind: 'link' });
  });

  it('when purchases are listed, then by state and account', async () => {
    const res = await admin().get('/api/qr/payments?state=paid&account=QR-1').set(ADMIN);
    expect(res.status).toBe(200);
    expect(res.body.length).toBeGreaterThan(0);
    expect((res.body as { state: string }[]).every((p) => p.state === 'paid')).toBe(true);
    expect((await admin().get('/api/qr/payments?state=nope').set(ADMIN)).status).toBe(400);
    expect((await admin().get('/api/qr/payments/123456789').set(ADMIN)).status).toBe(404);
  });
});
