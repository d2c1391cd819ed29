import { createDb, type Db } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { RequestLog, type RequestLogEntry } from '../../src/http/request-log.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';

const entry = (i: number): RequestLogEntry => ({
  channel: 'kaspi',
  requestId: `req-${i}`,
  clientIp: '127.0.0.1',
  method: 'GET',
  request: `command=pay&txn_id=${i}`,
  command: 'pay',
  txnId: String(i),
  httpStatus: 200,
  result: 0,
  comment: 'OK',
  response: '<response/>',
  durationMs: 1.4,
});

describe.each(dbKinds)('[%s] request log batching', (kind) => {
  let database: TestDatabase;
  let db: Db;
  let statements = 0;
  const countStatement = (q: { sql: string }) => {
    if (/request_log/.test(q.sql)) statements++;
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = createDb(database.url);
    await migrateLatest(db);
    db.knex.on('query', countStatement);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });
  beforeEach(async () => {
    await db.knex('request_log').del();
    statements = 0;
  });

  it('when 450 entries are recorded at once, then flush writes every one, in order, in a few statements', async () => {
    const log = new RequestLog(db, { maxBatch: 200 });
    for (let i = 1; i <= 450; i++) log.record(entry(i));
    await log.flush();
    const written = statements;
    const rows = await db.knex('request_log').orderBy('id').select('txn_id', 'duration_ms', 'request');
    expect(rows.map((r) => Number(r.txn_id))).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    expect(Number(rows[0].duration_ms)).toBe(1);
    expect(written).toBeLessThanOrEqual(3);
  });

  it('when entries keep coming while a batch is written, then they are written after it, none lost', async () => {
    const log = new RequestLog(db, { maxBatch: 50, lingerMs: 1 });
    for (let i = 1; i <= 60; i++) log.record(entry(i));
    await new Promise((r) => setImmediate(r));
    for (let i = 61; i <= 120; i++) log.record(entry(i));
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 121; i <= 130; i++) log.record(entry(i));
    await log.flush();
    const ids = (await db.knex('request_log').orderBy('id').select('txn_id')).map((r) => Number(r.txn_id));
    expect(ids).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));
  });

  it('when nothing is queued, then flush resolves at once without a statement', async () => {
    const log = new RequestLog(db);
    await log.flush();
    expect(statements).toBe(0);
  });

  it('when one entry of a batch is refused by the database, then its neighbours are still written', async () => {
    const log = new RequestLog(db);
    for (let i = 1; i <= 5; i++) log.record(i === 3 ? { ...entry(i), channel: null as never } : entry(i));
    await log.flush();
    const ids = (await db.knex('request_log').orderBy('id').select('txn_id')).map((r) => Number(r.txn_id));
    expect(ids).toEqual([1, 2, 4, 5]);
  });

  it('when a text is longer than its column, then it is cut to fit and the entry is written', async () => {
    const log = new RequestLog(db);
    log.record({ ...entry(1), request: 'ж'.repeat(70000), response: '€'.repeat(70000) });
    await log.flush();
    const [row] = await db.knex('request_log').select('request', 'response');
    expect(String(row.request).length).toBeGreaterThan(1000);
    expect(String(row.request).startsWith('жжж')).toBe(true);
  });
});

describe.each(dbKinds)('[%s] request log with the database gone', (kind) => {
  it('when the database is unreachable, then record never throws and flush still resolves', async () => {
    const database = await createTestDatabase(kind);
    const db = createDb(database.url);
    await migrateLatest(db);
    await db.close();
    await database.drop();
    const log = new RequestLog(db);
    expect(() => log.record(entry(1))).not.toThrow();
    await expect(log.flush()).resolves.toBeUndefined();
  });
});
