import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { AUTH, creditedPayment, makeDue, startRefundGateway } from '../support/refunds.js';

const BACKOFF = 1000;

describe.each(dbKinds)('[%s] refund poller', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake, { REFUND_BACKOFF_MS: BACKOFF, REFUND_MAX_AGE_DAYS: 14 });
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  const file = async (txnId: string) => {
    const res = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId, amount: '10.00', reason: 'poll' });
    expect(res.status).toBe(202);
    return res.body as { id: string };
  };
  const row = (id: string) => t.gateway.db.knex('refunds').where({ id }).first();
  const delayOf = (r: { next_poll_at: string; last_polled_at: string }) =>
    Date.parse(`${r.next_poll_at.replace(' ', 'T')}Z`) - Date.parse(`${r.last_polled_at.replace(' ', 'T')}Z`);

  it('when a refund stays MANUAL, then polls are spaced REFUND_BACKOFF_MS, doubling with jitter, capped at an hour', async () => {
    const p = await creditedPayment(t);
    fake.script(p.txnId, [{ status: 0 }, { status: 6 }]);
    const r = await file(p.txnId);
    const delays = [delayOf(await row(r.id))];
    for (let i = 0; i < 13; i++) {
      await makeDue(t.gateway);
      await t.gateway.services.refundPoller.runOnce();
      delays.push(delayOf(await row(r.id)));
    }
    // Each delay is the one backoff(): REFUND_BACKOFF_MS doubled per poll, with equal jitter, so
    // between half of it and all of it.
    const expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600].map((s) => s * BACKOFF);
    delays.forEach((d, i) => {
      const full = expected[i] as number;
      expect(d).toBeGreaterThan(full / 2 - 250);
      expect(d).toBeLessThan(full + 250);
    });
    // Jittered: not every delay is the full doubled one (14 draws all at the top: about 1 in 10^17).
    expect(delays.some((d, i) => Math.abs(d - (expected[i] as number)) > 250)).toBe(true);
    expect((await row(r.id)).status).toBe('manual');
    expect(Number((await row(r.id)).polls)).toBe(14);
  });

  it('when refunds are not due yet, then the poller leaves them alone', async () => {
    const p = await creditedPayment(t);
    fake.script(p.txnId, [{ status: 0 }, { status: 2 }]);
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce(); // clears what earlier tests left due
    const r = await file(p.txnId);
    const asked = fake.calls.RefundStatus;
    const run = await t.gateway.services.refundPoller.runOnce();
    expect(run.polled).toBe(0);
    expect(fake.calls.RefundStatus).toBe(asked);
    expect((await row(r.id)).status).toBe('accepted');
  });

  it('when a refund is not final after REFUND_MAX_AGE_DAYS, then it is flagged once and still polled', async () => {
    const p = await creditedPayment(t);
    fake.script(p.txnId, [{ status: 0 }, { status: 4 }, { status: 4 }, { status: 2 }]);
    const r = await file(p.txnId);
    const old = new Date(Date.now() - 15 * 86_400_000).toISOString().replace('T', ' ').replace('Z', '');
    await t.gateway.db.knex('refunds').where({ id: r.id }).update({ created_at: old });
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    const flagged = await row(r.id);
    expect(flagged.status).toBe('in_progress');
    expect(flagged.flag_reason).toMatch(/not final after 14 days/);
    expect(flagged.next_poll_at).not.toBeNull();
    const listed = await t.admin().get('/api/refunds?flagged=true').set(AUTH);
    expect(listed.body.refunds.map((x: { id: string }) => x.id)).toContain(r.id);
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    expect((await row(r.id)).flagged_at).toBe(flagged.flagged_at);
    await makeDue(t.gateway);
    await t.gateway.services.refundPoller.runOnce();
    expect((await row(r.id)).status).toBe('success');
  });

  it('when the run is aborted or the lease is lost, then the poller stops before the next refund', async () => {
    for (let i = 0; i < 3; i++) {
      const p = await creditedPayment(t);
      fake.script(p.txnId, [{ status: 0 }, { status: 4 }]);
      await file(p.txnId);
    }
    await makeDue(t.gateway);
    const aborted = new AbortController();
    aborted.abort();
    expect(await t.gateway.services.refundPoller.runOnce({ signal: aborted.signal })).toMatchObject({
      polled: 0,
      stoppedEarly: true,
    });
    const { RefundPoller } = await import('../../src/refunds/refund-poller.js');
    const poller = new RefundPoller(t.gateway.stores.refunds, t.gateway.services.refunds, {
      ownerCheckEvery: 1,
    });
    const run = await poller.runOnce({ stillOwner: async () => false });
    expect(run).toMatchObject({ polled: 1, stoppedEarly: true });
  });
});
