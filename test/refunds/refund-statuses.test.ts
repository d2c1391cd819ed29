import { dbKinds } from '../support/databases.js';
import { FakeRefundApi, type Step } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { balanceOf } from '../support/ledger.js';
import {
  AUTH,
  creditedPayment,
  makeDue,
  noFloats,
  refundLedger,
  refundRows,
  startRefundGateway,
} from '../support/refunds.js';

type Json = Record<string, unknown>;

/**
 * Every Kaspi status (0..7) and every error code (-1, -2, 1..6), through the admin API and the
 * poller, against the fake Refund API.
 */
describe.each(dbKinds)('[%s] refund statuses and error codes', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const file = async (txnId: string, amount = '100.00'): Promise<Json> => {
    const res = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId, amount, reason: 'Возврат клиенту' });
    expect(res.status).toBe(202);
    expect(noFloats(res.body)).toEqual([]);
    return res.body as Json;
  };
  const show = async (id: unknown): Promise<Json> => {
    const res = await t
      .admin()
      .get(`/api/refunds/${String(id)}`)
      .set(AUTH);
    expect(res.status).toBe(200);
    return res.body as Json;
  };
  const tick = async () => {
    await makeDue(t.gateway);
    return t.gateway.services.refundPoller.runOnce();
  };
  /** A credited payment whose refund Kaspi answers with these steps. */
  const scripted = async (steps: Step[], sum = '500.00') => {
    const p = await creditedPayment(t, sum);
    fake.script(p.txnId, steps);
    return p;
  };

  it.each([
    [0, 'accepted'],
    [4, 'in_progress'],
    [6, 'manual'],
    [7, 'in_progress_error'],
  ])(
    'when Kaspi answers the request with status %i, then the refund is %s and polled later',
    async (code, status) => {
      const p = await scripted([{ status: code }, { status: 2 }]);
      const r = await file(p.txnId);
      expect(r).toMatchObject({ status, kaspiStatus: code, error: null, flagged: null });
      expect(r.requestIdentificator).toEqual(expect.any(String));
      expect(Date.parse(r.nextPollAt as string)).toBeGreaterThan(Date.now());
      expect(await refundLedger(t.gateway, r.id as string)).toHaveLength(0);
    },
  );

  it('when Kaspi answers SUCCESS at once (ONLINE), then the refund is success and the account debited once', async () => {
    const p = await scripted([{ status: 2 }]);
    const before = await balanceOf(t.gateway, p.account);
    const r = await file(p.txnId, '120.00');
    expect(r).toMatchObject({
      status: 'success',
      kaspiStatus: 2,
      amount: '120.00',
      amountMinor: 12000,
      nextPollAt: null,
    });
    expect(r.billingNotifiedAt).toEqual(expect.any(String));
    expect(await balanceOf(t.gateway, p.account)).toBe(before - 12000);
    const ledger = await refundLedger(t.gateway, r.id as string);
    expect(ledger).toHaveLength(1);
    expect(Number(ledger[0]?.amount)).toBe(-12000);
    expect(r.billingRef).toBe(`ledger:${String(ledger[0]?.id)}`);
    await tick(); // final: nobody polls it
    expect(fake.statusAsked).not.toContain(r.requestIdentificator);
    expect(await show(r.id)).toMatchObject({ polls: r.polls, updatedAt: r.updatedAt });
    expect(await balanceOf(t.gateway, p.account)).toBe(before - 12000);
  });

  it.each([
    [1, 'declined'],
    [3, 'failed'],
  ])(
    'when Kaspi answers the request with status %i and no error, then the refund is %s, final',
    async (code, status) => {
      const p = await scripted([{ status: code }]);
      const before = await balanceOf(t.gateway, p.account);
      const r = await file(p.txnId);
      expect(r).toMatchObject({ status, kaspiStatus: code, nextPollAt: null });
      expect(r.finishedAt).toEqual(expect.any(String));
      expect(await balanceOf(t.gateway, p.account)).toBe(before);
    },
  );

  it('when Kaspi answers FATAL (5), then polling stops and the refund is flagged for a person', async () => {
    const p = await scripted([{ status: 5 }]);
    const r = await file(p.txnId);
    expect(r).toMatchObject({ status: 'fatal', kaspiStatus: 5, nextPollAt: null });
    expect((r.flagged as Json).reason).toMatch(/FATAL/);
    await tick();
    expect(fake.statusAsked).not.toContain(r.requestIdentificator);
    expect(await show(r.id)).toMatchObject({ status: 'fatal', polls: r.polls });
  });

  it('when polled through ACCEPT, INPROGRESS, MANUAL, INPROGRESS_ERROR to SUCCESS, then each is shown and billing told once', async () => {
    const p = await scripted([{ status: 0 }, { status: 4 }, { status: 6 }, { status: 7 }, { status: 2 }]);
    const before = await balanceOf(t.gateway, p.account);
    const r = await file(p.txnId, '50.00');
    const seen = [r.status];
    for (let i = 0; i < 4; i++) {
      await tick();
      seen.push((await show(r.id)).status);
    }
    expect(seen).toEqual(['accepted', 'in_progress', 'manual', 'in_progress_error', 'success']);
    const final = await show(r.id);
    expect(final).toMatchObject({ status: 'success', kaspiStatus: 2, polls: 5, nextPollAt: null });
    await tick();
    await tick();
    expect(await refundLedger(t.gateway, r.id as string)).toHaveLength(1);
    expect(await balanceOf(t.gateway, p.account)).toBe(before - 5000);
  });

  it.each([
    [3, 'failed'],
    [1, 'declined'],
  ])(
    'when a polled refund ends with status %i, then it is %s and the payment amount is free again',
    async (code, status) => {
      const p = await scripted([{ status: 0 }, { status: code }], '100.00');
      const r = await file(p.txnId, '100.00');
      await tick();
      expect(await show(r.id)).toMatchObject({ status, kaspiStatus: code, nextPollAt: null });
      const again = await t
        .admin()
        .post('/api/refunds')
        .set(AUTH)
        .send({ txnId: p.txnId, amount: '100.00', reason: 'again' });
      expect(again.status).toBe(202);
    },
  );

  it('when a polled refund turns FATAL, then it is flagged and no longer polled', async () => {
    const p = await scripted([{ status: 0 }, { status: 5 }]);
    const r = await file(p.txnId);
    await tick();
    const s = await show(r.id);
    expect(s).toMatchObject({ status: 'fatal', kaspiStatus: 5, nextPollAt: null });
    expect(s.flagged).not.toBeNull();
    const calls = fake.calls.RefundStatus;
    await tick();
    expect(fake.calls.RefundStatus).toBe(calls);
  });

  it('when error -1 (general) comes, then nothing is decided: the same identificator is filed again later', async () => {
    const p = await scripted([{ status: 1, error: { code: -1 } }]);
    const r = await file(p.txnId);
    expect(r).toMatchObject({ status: 'new', requestIdentificator: null });
    expect(r.lastProblem).toMatch(/-1/);
    fake.script(p.txnId, [{ status: 0 }, { status: 2 }]);
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'accepted' });
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'success' });
    const sent = fake.received.filter((x) => x.paymentId === p.txnId);
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((x) => x.refundIdentificator)).size).toBe(1);
    expect(sent[0]?.refundIdentificator).toBe(r.refundIdentificator);
  });

  it('when error -1 comes on a status poll, then the status stays and it is asked again', async () => {
    const p = await scripted([{ status: 0 }, { status: 1, error: { code: -1 } }, { status: 2 }]);
    const r = await file(p.txnId);
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'accepted', lastProblem: expect.stringMatching(/-1/) });
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'success', lastProblem: null });
  });

  it('when error -2 (fatal) comes, then the refund is fatal, flagged, not polled', async () => {
    const p = await scripted([{ status: 3, error: { code: -2 } }]);
    const r = await file(p.txnId);
    expect(r).toMatchObject({ status: 'fatal', error: { code: -2 }, nextPollAt: null });
    expect(r.flagged).not.toBeNull();
  });

  it.each([
    [1, 1, 'declined'],
    [2, 1, 'declined'],
    [3, 1, 'declined'],
    [5, 1, 'declined'],
    [2, 3, 'failed'],
  ])(
    'when Kaspi refuses with error %i (statusCode %i), then the refund is %s with the error kept',
    async (errorCode, statusCode, status) => {
      const p = await scripted([{ status: statusCode, error: { code: errorCode } }]);
      const before = await balanceOf(t.gateway, p.account);
      const r = await file(p.txnId);
      expect(r).toMatchObject({ status, kaspiStatus: statusCode, nextPollAt: null });
      expect((r.error as Json).code).toBe(errorCode);
      expect(String((r.error as Json).message).length).toBeGreaterThan(0);
      expect(await balanceOf(t.gateway, p.account)).toBe(before);
    },
  );

  it('when the answer to the request is dropped after Kaspi filed it, then the poller files again, gets error 4 and follows the status', async () => {
    const p = await scripted([{ status: 0 }, { status: 2 }]);
    const before = await balanceOf(t.gateway, p.account);
    fake.inject('drop');
    const r = await file(p.txnId, '75.00');
    expect(r).toMatchObject({ status: 'new', requestIdentificator: null });
    expect(r.lastProblem).toMatch(/no answer/);
    expect(fake.filed(r.refundIdentificator as string)).toBeDefined();
    await tick(); // RefundRequest → error 4 with the identificator → RefundStatus → SUCCESS
    const s = await show(r.id);
    expect(s).toMatchObject({
      status: 'success',
      requestIdentificator: fake.filed(r.refundIdentificator as string)?.rid,
    });
    expect(await balanceOf(t.gateway, p.account)).toBe(before - 7500);
    expect(fake.received.filter((x) => x.paymentId === p.txnId)).toHaveLength(2);
  });

  it('when error 4 comes without a requestIdentificator, then the refund is flagged and left for a person', async () => {
    const p = await scripted([{ status: 1, error: { code: 4 } }]);
    const r = await file(p.txnId);
    expect(r).toMatchObject({ status: 'new', nextPollAt: null, error: { code: 4 } });
    expect((r.flagged as Json).reason).toMatch(/error 4/);
  });

  it('when a status poll says error 6 (not found), then polling stops and a person is asked', async () => {
    const p = await scripted([{ status: 0 }, { status: 5, error: { code: 6 } }]);
    const r = await file(p.txnId);
    await tick();
    const s = await show(r.id);
    expect(s).toMatchObject({ status: 'accepted', nextPollAt: null, error: { code: 6 } });
    expect((s.flagged as Json).reason).toMatch(/error 6/);
  });

  it('when the answer to a status poll is dropped, then the status stays and the poll is repeated', async () => {
    const p = await scripted([{ status: 0 }, { status: 2 }]);
    const r = await file(p.txnId);
    fake.inject('drop');
    await tick();
    expect(await show(r.id)).toMatchObject({
      status: 'accepted',
      lastProblem: expect.stringMatching(/no answer/),
    });
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'success' });
  });

  it('when Kaspi answers a status code it never documented, then the refund is flagged and still polled', async () => {
    const p = await scripted([{ status: 0 }, { status: 9 }, { status: 2 }]);
    const r = await file(p.txnId);
    await tick();
    const s = await show(r.id);
    expect(s).toMatchObject({ status: 'accepted' });
    expect((s.flagged as Json).reason).toMatch(/statusCode=9/);
    expect(s.nextPollAt).not.toBeNull();
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'success' });
  });

  it('when the answer comes under a 401, then one new token and the refund goes on', async () => {
    const p = await scripted([{ status: 0 }, { status: 2 }]);
    fake.inject(401);
    const r = await file(p.txnId);
    expect(r.status).toBe('accepted');
    fake.expireActiveToken();
    await tick();
    expect(await show(r.id)).toMatchObject({ status: 'success' });
  });

  it('when the poller and another writer apply the same SUCCESS at once, then billing is told once', async () => {
    const p = await scripted([{ status: 0 }, { status: 2 }]);
    const before = await balanceOf(t.gateway, p.account);
    const r = await file(p.txnId);
    const snapshot = await t.gateway.services.refunds.get(r.id as string);
    await Promise.all([t.gateway.services.refunds.poll(snapshot), t.gateway.services.refunds.poll(snapshot)]);
    expect(await refundLedger(t.gateway, r.id as string)).toHaveLength(1);
    expect(await balanceOf(t.gateway, p.account)).toBe(before - 10000);
    const [row] = await refundRows(t.gateway, p.txnId);
    expect(row?.status).toBe('success');
  });
});
