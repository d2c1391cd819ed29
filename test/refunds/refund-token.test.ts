import type { RefundApiClient } from '../../src/refunds/refund-api-client.js';
import type { RefundTokenStore } from '../../src/refunds/refund-token-store.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { startRefundGateway } from '../support/refunds.js';

/** Two gateways on one database: two processes of one deployment, as far as the token goes. */
describe.each(dbKinds)('[%s] one Refund API token for the deployment', (kind) => {
  let fake: FakeRefundApi;
  let database: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;
  const api = (t: TestGateway) => t.gateway.services.refundApi as RefundApiClient;
  const tokens = (t: TestGateway) => t.gateway.services.refundTokens as RefundTokenStore;
  let rid: string;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    database = await createTestDatabase(kind);
    a = await startRefundGateway(kind, fake, {}, database);
    b = await startRefundGateway(kind, fake, {}, database);
    fake.script('77001', [{ status: 0 }, { status: 4 }]);
    const filed = await api(a).refundRequest({
      paymentId: '77001',
      returnAmount: 5,
      refundIdentificator: `token-test-${process.pid}`,
      reason: 'r',
    });
    rid = filed.requestIdentificator as string;
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
    await fake.stop();
  });

  it('when the first gateway got a token, then the second uses the same one without asking', async () => {
    const before = fake.calls.GetToken;
    await api(b).refundStatus(rid);
    expect(fake.calls.GetToken).toBe(before);
    expect(fake.received.at(-1)?.token).toBe(fake.activeToken);
  });

  it('when 50 calls on two gateways hit 401 at once, then the token is refreshed once and all 50 succeed', async () => {
    await api(a).refundStatus(rid); // both hold the current token
    const before = { tokens: fake.calls.GetToken, issued: fake.issued.length };
    fake.expireActiveToken();
    fake.getTokenDelayMs = 150; // the refresh takes a while: everyone meets in it
    try {
      const settled = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => api(i % 2 === 0 ? a : b).refundStatus(rid)),
      );
      const answers = settled.map((x) =>
        x.status === 'fulfilled' ? x.value : { statusCode: String(x.reason) },
      );
      expect(answers.map((x) => x.statusCode)).toEqual(Array.from({ length: 50 }, () => 4));
    } finally {
      fake.getTokenDelayMs = 0;
    }
    expect(fake.calls.GetToken - before.tokens).toBe(1);
    expect(fake.issued.length - before.issued).toBe(1);
    const stored = await tokens(a).describe();
    expect(stored.present).toBe(true);
  });

  it('when a 401 comes for a token someone already replaced, then the newer token is kept and used', async () => {
    const old = await tokens(a).current();
    const fresh = await tokens(b).renew(old); // b saw a 401 first and refreshed
    expect(fresh.generation).toBe(old.generation + 1);
    const count = fake.calls.GetToken;
    const late = await tokens(a).renew(old); // a's 401 on the old token arrives later
    expect(late).toEqual(fresh);
    expect(fake.calls.GetToken).toBe(count);
    expect((await api(a).refundStatus(rid)).statusCode).toBe(4);
  });

  it('when the stored token is past its validTo, then a new one is taken before the call, with no 401', async () => {
    await a.gateway.db.knex('refund_api_token').update({ valid_to: '2001-01-01 00:00:00.000' });
    const before = { tokens: fake.calls.GetToken, refused: fake.unauthorized };
    expect((await api(b).refundStatus(rid)).statusCode).toBe(4);
    expect(fake.calls.GetToken).toBe(before.tokens + 1);
    expect(fake.unauthorized).toBe(before.refused);
  });

  it('when a refresher died holding the lock, then the others wait for it to expire and refresh once', async () => {
    const lockUntil = new Date(Date.now() + 400).toISOString().replace('T', ' ').replace('Z', '');
    await a.gateway.db
      .knex('refund_api_token')
      .update({ token: null, lock_owner: 'dead-process', lock_until: lockUntil });
    const before = fake.calls.GetToken;
    const started = Date.now();
    const answers = await Promise.all([api(a).refundStatus(rid), api(b).refundStatus(rid)]);
    expect(answers.map((x) => x.statusCode)).toEqual([4, 4]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(fake.calls.GetToken).toBe(before + 1);
    const row = await a.gateway.db.knex('refund_api_token').first();
    expect(row.lock_owner).toBeNull();
  });
});
