import { dbKinds } from '../support/databases.js';
import { installRemote, type FakeRemote } from '../support/fake-kaspi-qr-remote.js';
import { balanceOf } from '../support/ledger.js';
import { AUTH, startReturnsGateway, type ReturnsSetup } from '../support/kaspi-qr-returns.js';
import { captureLogs } from '../support/log-capture.js';

/**
 * Remote invoices by phone (r3): created with remote/create, never polled on a timer, asked on an
 * event at most once per 30 s, checked once at 24 h + 5 min then cancelled, credited once.
 */
describe.each(dbKinds)('[%s] Kaspi QR remote invoices, r3', (kind) => {
  let s: ReturnsSetup;
  let remote: FakeRemote;
  let n = 0;

  beforeAll(async () => {
    s = await startReturnsGateway(kind, 'r3');
    remote = installRemote(s.fake);
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });
  afterEach(() => s.fake.clearFaults());

  async function account(): Promise<string> {
    n += 1;
    const a = `RM${process.pid}${n}${Math.floor(Math.random() * 1e5)}`;
    await s.t.gateway.stores.accounts.addAccount({ account: a, name: 'Remote Payer', balance: 0 });
    return a;
  }
  const create = (body: Record<string, unknown>, key = `rm-${Math.random()}`) =>
    s.t
      .admin()
      .post('/api/qr/payments')
      .set(AUTH)
      .set('Idempotency-Key', key)
      .send({ kind: 'remote', amount: '1500.50', phone: '+7 (707) 123-45-67', ...body });
  const get = (id: string, refresh = false) =>
    s.t
      .admin()
      .get(`/api/qr/payments/${id}${refresh ? '?refresh=true' : ''}`)
      .set(AUTH);
  const statusCalls = (qrPaymentId: string) =>
    s.fake.calls('paymentStatus').filter((r) => r.path.endsWith(`/${qrPaymentId}`)).length;
  /** 30 s passed since the last status call. */
  const windowPassed = (id: string) =>
    s.t.gateway.db
      .knex('kaspi_qr_remote_invoices')
      .where({ payment_id: id })
      .update({ last_refresh_at: '2000-01-01 00:00:00.000' });

  it('when an invoice is sent, then remote/create carries the phone as 8 + 10 digits, and the same key answers the same invoice', async () => {
    const a = await account();
    const key = `rm-key-${a}`;
    const res = await create({ account: a }, key);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: 'remote', state: 'pending', account: a, amount: '1500.50' });
    const sent = s.fake.calls('remoteCreate').at(-1);
    expect(sent?.json).toMatchObject({ PhoneNumber: '87071234567', OrganizationBin: '180340021791' });
    expect(sent?.raw).toContain('"Amount":1500.5');
    const again = await create({ account: a }, key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    const before = s.fake.calls('remoteCreate').length;
    expect((await create({ account: a }, key)).status).toBe(200);
    expect(s.fake.calls('remoteCreate')).toHaveLength(before);
    for (const bad of ['12345', '+7 707 123 45', '+1 707 123 45 67', '9071234567'])
      expect((await create({ account: a, phone: bad })).status).toBe(400);
    expect(s.fake.calls('remoteCreate')).toHaveLength(before);
  });

  it('when a minute passes with engine ticks and no event, then Kaspi is asked nothing about the invoice', async () => {
    const a = await account();
    const res = await create({ account: a });
    const qrId = res.body.txnId as string;
    const kaspiQr = s.t.gateway.services.kaspiQr;
    const remoteSvc = s.t.gateway.services.qrRemote;
    const t0 = Date.now();
    for (let i = 0; i <= 30; i++) {
      const now = new Date(t0 + i * 2000);
      await kaspiQr?.engine.run({}, now);
      await remoteSvc?.expire(now);
    }
    expect(statusCalls(qrId)).toBe(0);
  });

  it('when events come between minutes of idling (a fake clock), then Kaspi is asked only on an event, at most once per 30 s, and zero times in between', async () => {
    const a = await account();
    const res = await create({ account: a });
    const id = res.body.id as string;
    const qrId = res.body.txnId as string;
    const kaspiQr = s.t.gateway.services.kaspiQr!;
    const remoteSvc = s.t.gateway.services.qrRemote!;
    const t0 = Date.now() + 60_000; // after any refresh of the real clock
    const at = (ms: number) => new Date(t0 + ms);
    /** A minute of engine ticks (every 2 s) and expiry checks, from `from`, with no event. */
    const idle = async (from: number) => {
      for (let ms = from; ms < from + 60_000; ms += 2_000) {
        await kaspiQr.engine.run({}, at(ms));
        await remoteSvc.expire(at(ms));
      }
    };
    const seen: number[] = [];
    await remoteSvc.refresh(id, at(0)); // an event: one call
    seen.push(statusCalls(qrId));
    await idle(1_000);
    seen.push(statusCalls(qrId)); // a minute with no event: none
    await remoteSvc.refresh(id, at(61_000)); // an event: one call
    await remoteSvc.refresh(id, at(62_000)); // within 30 s of it: the stored state
    await remoteSvc.refresh(id, at(80_000));
    seen.push(statusCalls(qrId));
    await idle(81_000);
    seen.push(statusCalls(qrId));
    await remoteSvc.refresh(id, at(141_000)); // 80 s after the last call: one more
    seen.push(statusCalls(qrId));
    expect(seen).toEqual([1, 1, 2, 2, 3]);
  });

  it('when the status is asked on events, then at most one Kaspi call per 30 s, and a payment is credited once', async () => {
    const a = await account();
    const res = await create({ account: a, amount: '200.00' });
    const id = res.body.id as string;
    const qrId = res.body.txnId as string;
    expect((await get(id)).body.state).toBe('pending');
    expect(statusCalls(qrId)).toBe(0); // a plain read never asks Kaspi
    await get(id, true);
    await get(id, true);
    await get(id, true);
    expect(statusCalls(qrId)).toBe(1);

    s.fake.setStatus(qrId, 'Processed');
    expect((await get(id, true)).body.state).toBe('pending'); // inside the window: the stored state
    await windowPassed(id);
    const paid = await get(id, true);
    expect(paid.body).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(statusCalls(qrId)).toBe(2);
    expect(await balanceOf(s.t.gateway, a)).toBe(20000);
    // The post-payment check: payment/details once, the amount as asked.
    expect(s.fake.calls('paymentDetails').filter((r) => r.path.includes(qrId))).toHaveLength(1);
    await windowPassed(id);
    await get(id, true);
    expect(statusCalls(qrId)).toBe(2); // paid is final: never asked again
    const lines = await s.t.gateway.db.knex('account_ledger').where({ payment_id: id, kind: 'credit' });
    expect(lines).toHaveLength(1);
  });

  it('when Kaspi shows another TotalAmount than asked, then the paid invoice is flagged for a person', async () => {
    const a = await account();
    const res = await create({ account: a, amount: '300.00' });
    const qrId = res.body.txnId as string;
    s.kaspi.purchase(qrId, 29000);
    s.fake.setStatus(qrId, 'Processed');
    const paid = await get(res.body.id as string, true);
    expect(paid.body).toMatchObject({ state: 'paid', flag: 'amount_mismatch' });
    expect(await balanceOf(s.t.gateway, a)).toBe(30000); // credited what was asked, not corrected
  });

  it('when the answer to remote/create is lost, then unknown, ERROR, and it is never sent again', async () => {
    const a = await account();
    const logs = captureLogs('error');
    s.fake.fault('remoteCreate', { reset: 'after' });
    const before = s.fake.calls('remoteCreate').length;
    const key = `rm-lost-${a}`;
    const res = await create({ account: a }, key);
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('kaspi_qr_outcome_unknown');
    expect(res.body.message).toMatch(/never sent again/);
    const again = await create({ account: a }, key);
    expect(again.status).toBe(502);
    expect(s.fake.calls('remoteCreate').length - before).toBe(1);
    expect(logs.find('error', 'remote/create answer lost')).toHaveLength(1);
    expect(logs.raw()).not.toContain('87071234567');
    const unknown = await s.t.admin().get('/api/qr/remote-invoices/unknown').set(AUTH);
    expect(unknown.body.filter((i: { account: string }) => i.account === a)).toEqual([
      expect.objectContaining({ state: 'unknown', phone: '8707***4567' }),
    ]);
    expect(await s.t.gateway.db.knex('payments').where({ account: a })).toHaveLength(0);
  });

  it('when the operator cancels, then remote/cancel, a last read, cancelled and never credited', async () => {
    const a = await account();
    const res = await create({ account: a });
    const id = res.body.id as string;
    const cancelled = await s.t.admin().post(`/api/qr/payments/${id}/cancel`).set(AUTH);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(s.fake.calls('remoteCancel').at(-1)?.json).toMatchObject({ OrganizationBin: '180340021791' });
    expect(statusCalls(res.body.txnId as string)).toBe(1);
    const [pay] = await s.t.gateway.db.knex('payments').where({ id });
    expect(pay.state).toBe('declined');
    expect((await s.t.admin().post(`/api/qr/payments/${id}/cancel`).set(AUTH)).status).toBe(409);
  });

  it('when 24 h + 5 min pass unpaid, then one check, remote/cancel and a last read; nothing before', async () => {
    const a = await account();
    const res = await create({ account: a });
    const qrId = res.body.txnId as string;
    const made = Date.now();
    const job = s.t.gateway.services.qrRemote;
    await job?.expire(new Date(made + 23 * 3_600_000));
    expect(statusCalls(qrId)).toBe(0);
    const cancelsOf = () =>
      s.fake.calls('remoteCancel').filter((r) => r.raw.includes(`"QrPaymentId":${qrId}`)).length;
    await job?.expire(new Date(made + 24 * 3_600_000 + 5 * 60_000 + 1000));
    expect(statusCalls(qrId)).toBe(2);
    expect(cancelsOf()).toBe(1);
    expect((await get(res.body.id as string)).body.state).toBe('cancelled');
    await job?.expire(new Date(made + 25 * 3_600_000));
    expect(statusCalls(qrId)).toBe(2);
    expect(cancelsOf()).toBe(1);
  });

  it('when the invoice was paid just before the 24 h check, then it is credited and not cancelled', async () => {
    const a = await account();
    const res = await create({ account: a, amount: '50.00' });
    s.fake.setStatus(res.body.txnId as string, 'Processed');
    await s.t.gateway.services.qrRemote?.expire(new Date(Date.now() + 25 * 3_600_000));
    expect((await get(res.body.id as string)).body).toMatchObject({ state: 'paid', credit: 'credited' });
    expect(
      s.fake.calls('remoteCancel').filter((r) => r.raw.includes(`"QrPaymentId":${res.body.txnId}`)),
    ).toHaveLength(0);
    expect(await balanceOf(s.t.gateway, a)).toBe(5000);
  });

  it("when the payer's name is asked, then it is answered, never logged, and at most 45 a minute per device", async () => {
    const logs = captureLogs('debug');
    const ok = await s.t.admin().get('/api/qr/client-info?phone=87071234567').set(AUTH);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ phone: '8707***4567', name: remote.clientName });
    expect(s.fake.calls('clientInfo').at(-1)?.path).toMatch(/phoneNumber=87071234567&deviceToken=/);
    expect(logs.raw()).not.toContain(remote.clientName);
    expect(logs.raw()).not.toContain('87071234567');
    await s.t.gateway.stores.requestLog.flush();
    expect(JSON.stringify(await s.t.gateway.db.knex('request_log'))).not.toContain(remote.clientName);
    expect((await s.t.admin().get('/api/qr/client-info?phone=123').set(AUTH)).status).toBe(400);
    // The limit, on one minute of a fixed clock: 45 go to Kaspi, the 46th is refused here.
    const svc = s.t.gateway.services.qrRemote;
    const minute = new Date(Date.UTC(2031, 0, 1, 10, 0, 5));
    const calls = s.fake.calls('clientInfo').length;
    for (let i = 0; i < 45; i++) await svc?.clientInfo('87071234567', minute);
    await expect(svc?.clientInfo('87071234567', minute)).rejects.toMatchObject({
      code: 'rate_limited',
      httpStatus: 429,
    });
    expect(s.fake.calls('clientInfo').length - calls).toBe(45);
    // The next minute has room again.
    await svc?.clientInfo('87071234567', new Date(minute.getTime() + 60_000));
  });

  describe('on r2', () => {
    let r2: ReturnsSetup;
    beforeAll(async () => {
      r2 = await startReturnsGateway(kind, 'r2');
    });
    afterAll(async () => {
      await r2.t.close();
      await r2.fake.stop();
    });

    it('when a remote invoice is asked, then 409 not_supported_by_scheme and nothing is sent', async () => {
      await r2.t.gateway.stores.accounts.addAccount({ account: 'RM-R2', name: 'x', balance: 0 });
      const res = await r2.t
        .admin()
        .post('/api/qr/payments')
        .set(AUTH)
        .set('Idempotency-Key', 'rm-r2')
        .send({ kind: 'remote', account: 'RM-R2', amount: '10.00', phone: '87071234567' });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('not_supported_by_scheme');
      expect(r2.fake.requests).toHaveLength(0);
    });
  });
});
