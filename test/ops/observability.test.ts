import { dbTime } from '../../src/db/db.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kaspiQuery, newTxnId, pay, TXN_DATE } from '../support/kaspi.js';
import { captureLogStream, type LogCapture } from '../support/log-stream.js';

/** The value of one sample in Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    if (line.slice(0, at) === series) return Number(line.slice(at + 1));
  }
  return undefined;
}

describe.each(dbKinds)('[%s] request id, access log and /metrics', (kind) => {
  let t: TestGateway;
  let logs: LogCapture;

  beforeAll(async () => {
    logs = captureLogStream('json', 'info');
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: 'OB-1', name: 'Payer', balance: 0 });
  });
  afterAll(() => t.close());

  it('when a pay is served, then every log line it causes carries its request id, and one access line tells the outcome', async () => {
    const txn = newTxnId();
    const res = await t
      .api()
      .get(kaspiQuery({ command: 'pay', txn_id: txn, account: 'OB-1', sum: '12.00', txn_date: TXN_DATE }))
      .set('X-Request-Id', 'req-ob-pay-1');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-ob-pay-1');
    await logs.settle();
    const mine = logs.lines().filter((l) => l.requestId === 'req-ob-pay-1');
    const credited = mine.find((l) => l.message === 'payment credited');
    expect(credited).toMatchObject({ module: 'payments', txnId: txn, level: 'info' });
    const access = mine.filter((l) => l.module === 'access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      message: 'request',
      method: 'GET',
      path: '/payment_app.cgi',
      endpoint: 'kaspi_pay',
      status: 200,
      result: '0',
      txnId: txn,
    });
    expect(typeof access[0]?.ms).toBe('number');
    // the query (account, sums) is the request log's business, not the access log's
    expect(JSON.stringify(access[0])).not.toContain('OB-1');
  });

  it('when requests are answered, then /metrics counts them by endpoint, status and result, with latency', async () => {
    const before = (await t.admin().get('/metrics')).text;
    const base = (s: string) => sample(before, s) ?? 0;
    await pay(t.api(), newTxnId(), 'OB-1', '1.00');
    await pay(t.api(), newTxnId(), 'OB-1', '1.00');
    await pay(t.api(), newTxnId(), 'NO-SUCH-ACCOUNT', '1.00');
    await t.api().get(kaspiQuery({ command: 'erase', txn_id: '1' }));
    await t.api().get('/nowhere');

    const res = await t.admin().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.text;
    const ok = 'gateway_requests_total{endpoint="kaspi_pay",status="200",result="0"}';
    const notFound = 'gateway_requests_total{endpoint="kaspi_pay",status="200",result="1"}';
    const unknown = 'gateway_requests_total{endpoint="kaspi",status="200",result="5"}';
    const unmatched = 'gateway_requests_total{endpoint="unmatched",status="404",result=""}';
    expect(sample(m, ok)).toBe(base(ok) + 2);
    expect(sample(m, notFound)).toBe(base(notFound) + 1);
    expect(sample(m, unknown)).toBe(base(unknown) + 1);
    expect(sample(m, unmatched)).toBe(base(unmatched) + 1);
    const count = 'gateway_request_duration_seconds_count{endpoint="kaspi_pay"}';
    expect(sample(m, count)).toBe(base(count) + 3);
    expect(sample(m, 'gateway_request_duration_seconds_bucket{le="15",endpoint="kaspi_pay"}')).toBe(
      base(count) + 3,
    );
    // the caller's unknown command is not a label of its own
    expect(m).not.toContain('erase');
  });

  it('when credits are unfinished, then /metrics counts them and the age of the oldest; young, final and awaiting ones are not counted', async () => {
    const now = Date.now();
    const at = (msAgo: number) => dbTime(new Date(now - msAgo));
    const row = (txn: string, state: string, receivedMsAgo: number, updatedMsAgo: number) => ({
      source: 'kaspi',
      txn_id: txn,
      account: 'OB-1',
      amount: 100,
      state,
      attempts: 0,
      received_at: at(receivedMsAgo),
      updated_at: at(updatedMsAgo),
    });
    const before = (await t.admin().get('/metrics')).text;
    expect(sample(before, 'gateway_pending_credits')).toBe(0);
    expect(sample(before, 'gateway_oldest_pending_age_seconds{kind="payment"}')).toBe(0);

    await t.gateway.db
      .knex('payments')
      .insert([
        row(newTxnId(), 'pending', 600_000, 5_000),
        row(newTxnId(), 'crediting', 120_000, 60_000),
        row(newTxnId(), 'received', 90_000, 90_000),
        row(newTxnId(), 'crediting', 1_000, 1_000),
        row(newTxnId(), 'awaiting_callback', 3_600_000, 3_600_000),
        row(newTxnId(), 'credited', 7_200_000, 7_200_000),
      ]);
    const m = (await t.admin().get('/metrics')).text;
    expect(sample(m, 'gateway_pending_credits')).toBe(3);
    const age = sample(m, 'gateway_oldest_pending_age_seconds{kind="payment"}') as number;
    expect(age).toBeGreaterThanOrEqual(600);
    expect(age).toBeLessThan(660);
    expect(sample(m, 'gateway_metrics_database_up')).toBe(1);
  });

  it('when refunds exist, then /metrics counts them by status, every status shown, and the age of the oldest one waiting on Kaspi', async () => {
    const now = Date.now();
    let n = 0;
    const refund = (status: string, createdMsAgo: number) => {
      n += 1;
      return {
        refund_identificator: `ob-refund-${n}`,
        payment_id: 1,
        txn_id: `ob-txn-${n}`,
        account: 'OB-1',
        amount: 100,
        return_amount: 1,
        amount_unit: 'tenge',
        reason: 'test',
        status,
        created_at: dbTime(new Date(now - createdMsAgo)),
        updated_at: dbTime(new Date(now - createdMsAgo)),
      };
    };
    await t.gateway.db
      .knex('refunds')
      .insert([
        refund('accepted', 3_000_000),
        refund('manual', 7_200_000),
        refund('manual', 60_000),
        refund('fatal', 90_000_000),
        refund('success', 80_000_000),
      ]);
    const m = (await t.admin().get('/metrics')).text;
    expect(sample(m, 'gateway_refunds{status="manual"}')).toBe(2);
    expect(sample(m, 'gateway_refunds{status="accepted"}')).toBe(1);
    expect(sample(m, 'gateway_refunds{status="fatal"}')).toBe(1);
    expect(sample(m, 'gateway_refunds{status="success"}')).toBe(1);
    expect(sample(m, 'gateway_refunds{status="in_progress_error"}')).toBe(0);
    // the FATAL one is older, but it waits on a person (its own alert), not on Kaspi
    const age = sample(m, 'gateway_oldest_pending_age_seconds{kind="refund"}') as number;
    expect(age).toBeGreaterThanOrEqual(7200);
    expect(age).toBeLessThan(7260);
  });

  it('when the refunds table is not there (a schema before refunds), then /metrics still answers, without refund series', async () => {
    const g = await startTestGateway(kind);
    try {
      await g.gateway.db.knex.schema.dropTable('refunds');
      const res = await g.admin().get('/metrics');
      expect(res.status).toBe(200);
      expect(sample(res.text, 'gateway_metrics_database_up')).toBe(1);
      expect(res.text).toContain('# TYPE gateway_refunds gauge');
      expect(res.text).not.toMatch(/^gateway_refunds\{/m);
    } finally {
      await g.close();
    }
  });

  it('when the metrics listener is asked for (METRICS_PORT), then it serves /metrics and nothing else', async () => {
    const g = await startTestGateway(kind, { METRICS_PORT: 0 });
    try {
      const ports = await g.gateway.start();
      expect(ports.metricsPort).toBeGreaterThan(0);
      const m = await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain('gateway_pending_credits');
      const other = await fetch(`http://127.0.0.1:${ports.metricsPort}/healthz`);
      expect(other.status).toBe(404);
    } finally {
      await g.close();
    }
  });

  it('when the database is gone, then /metrics answers 200 and says the database gauges are stale', async () => {
    const g = await startTestGateway(kind);
    try {
      await g.gateway.db.knex.destroy();
      const res = await g.admin().get('/metrics');
      expect(res.status).toBe(200);
      expect(sample(res.text, 'gateway_metrics_database_up')).toBe(0);
    } finally {
      await g.database.drop();
    }
  });
});
