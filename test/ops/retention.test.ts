import { createDb, dbTime, type Db } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { purgeRequestLog } from '../../src/jobs/request-log-retention.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { startTestGateway } from '../support/gateway.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-23T12:00:00.000Z');

describe.each(dbKinds)('[%s] request log retention', (kind) => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = createDb(database.url);
    await migrateLatest(db);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });
  beforeEach(async () => {
    await db.knex('request_log').delete();
    await db.knex('payments').delete();
  });

  const entry = (daysAgo: number, txnId: string) => ({
    at: dbTime(new Date(NOW.getTime() - daysAgo * DAY)),
    channel: 'kaspi',
    command: 'pay',
    txn_id: txnId,
    http_status: 200,
    result: '0',
  });
  const remaining = async () =>
    ((await db.knex('request_log').orderBy('txn_id').pluck('txn_id')) as string[]).sort();

  it('when entries are older than the retention, then they are deleted and younger ones and payments stay', async () => {
    await db
      .knex('request_log')
      .insert([entry(10, 't10'), entry(89.9, 't89'), entry(90.1, 't90'), entry(400, 't400')]);
    await db.knex('payments').insert({
      source: 'kaspi',
      txn_id: 't400',
      account: 'A',
      amount: 100,
      state: 'credited',
      attempts: 0,
      received_at: dbTime(new Date(NOW.getTime() - 400 * DAY)),
      updated_at: dbTime(new Date(NOW.getTime() - 400 * DAY)),
    });

    const deleted = await purgeRequestLog(db, 90, NOW);

    expect(deleted).toBe(2);
    expect(await remaining()).toEqual(['t10', 't89']);
    expect(await db.knex('payments').pluck('txn_id')).toEqual(['t400']);
  });

  it('when there are more old entries than a batch, then every batch is deleted', async () => {
    await db.knex('request_log').insert([1, 2, 3, 4, 5].map((i) => entry(100 + i, `old${i}`)));
    await db.knex('request_log').insert(entry(1, 'new'));
    expect(await purgeRequestLog(db, 30, NOW, { batchSize: 2 })).toBe(5);
    expect(await remaining()).toEqual(['new']);
  });

  it('when asked to stop between batches, then it stops there and the next run finishes', async () => {
    await db.knex('request_log').insert([1, 2, 3, 4, 5].map((i) => entry(100 + i, `old${i}`)));
    expect(await purgeRequestLog(db, 30, NOW, { batchSize: 2, shouldStop: () => true })).toBe(2);
    expect(await remaining()).toHaveLength(3);
    expect(await purgeRequestLog(db, 30, NOW, { batchSize: 2 })).toBe(3);
  });

  it.each([29, 0, -5, 45.5])(
    'when the retention is %p days, then it refuses and deletes nothing',
    async (days) => {
      await db.knex('request_log').insert([entry(400, 'old')]);
      await expect(purgeRequestLog(db, days, NOW)).rejects.toThrow(/at least 30 days/);
      expect(await remaining()).toEqual(['old']);
    },
  );
});

describe.each(dbKinds)('[%s] request log retention as a job', (kind) => {
  it('when the job runs through the scheduler, then it purges under its lease and /metrics counts the run', async () => {
    const t = await startTestGateway(kind, { REQUEST_LOG_RETENTION_DAYS: 30 });
    try {
      const old = dbTime(new Date(Date.now() - 31 * DAY));
      const fresh = dbTime(new Date(Date.now() - 29 * DAY));
      await t.gateway.db.knex('request_log').insert([
        { at: old, channel: 'kaspi', txn_id: 'old' },
        { at: fresh, channel: 'kaspi', txn_id: 'fresh' },
      ]);
      expect(t.gateway.scheduler.jobNames()).toContain('request-log-retention');

      expect(await t.gateway.scheduler.runNow('request-log-retention')).toBe(true);

      expect(await t.gateway.db.knex('request_log').pluck('txn_id')).toEqual(['fresh']);
      const lease = await t.gateway.db.knex('job_leases').where({ name: 'request-log-retention' }).first();
      expect(Number(lease.fencing_token)).toBe(1);
      const m = (await t.admin().get('/metrics')).text;
      expect(m).toContain('gateway_job_runs_total{cron_job="request-log-retention"} 1');
      expect(m).toContain('gateway_job_failures_total{cron_job="request-log-retention"} 0');
      expect(m).toMatch(/gateway_job_last_duration_seconds\{cron_job="request-log-retention"\} \d/);
    } finally {
      await t.close();
    }
  });
});
