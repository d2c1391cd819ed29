import { dbNow } from '../../src/db/db-clock.js';
import { createDb, type Db } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { configureLogger, quietTestRun } from '../../src/log/logger.js';
import { LeaseStore } from '../../src/jobs/lease-store.js';
import { Scheduler, type JobContext } from '../../src/jobs/scheduler.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';

// The failures these tests provoke are logged on purpose; keep the output for real ones.
configureLogger({ level: 'error', format: 'pretty', silent: quietTestRun() });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A latch a test opens by hand, to hold a job run open while the other scheduler tries. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe.each(dbKinds)('[%s] Scheduler', (kind) => {
  let database: TestDatabase;
  // Two pools on one database, as two workers or hosts would have.
  let dbA: Db;
  let dbB: Db;
  let leases: LeaseStore;
  let seq = 0;
  const jobName = () => `job_${++seq}`;
  const schedulers: Scheduler[] = [];
  const scheduler = (db: Db, owner?: string) => {
    const s = new Scheduler(db, { owner, stopTimeoutMs: 5000 });
    schedulers.push(s);
    return s;
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    dbA = createDb(database.url);
    dbB = createDb(database.url);
    await migrateLatest(dbA);
    leases = new LeaseStore(dbA);
  });
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await dbA.close();
    await dbB.close();
    await database.drop();
  });

  it('when two schedulers tick the same job at once, then only one of them runs it', async () => {
    const name = jobName();
    const ran: string[] = [];
    const started = latch();
    const hold = latch();
    const a = scheduler(dbA, 'host-a');
    const b = scheduler(dbB, 'host-b');
    for (const [s, who] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      s.register({
        name,
        cron: '0 0 1 1 *',
        leaseMs: 5000,
        run: async () => {
          ran.push(who);
          started.open();
          await hold.opened;
        },
      });
    }
    const ticks = [a.runNow(name), b.runNow(name)];
    await started.opened;
    // The winner holds its run open, so the first tick to finish is the loser's.
    expect(await Promise.race(ticks)).toBe(false);
    hold.open();
    const results = await Promise.all(ticks);
    expect([...results].sort()).toEqual([false, true]);
    expect(ran).toHaveLength(1);
    // Released at the end: the other worker may take the next tick at once.
    const loser = results[0] ? b : a;
    expect(await loser.runNow(name)).toBe(true);
    expect(ran).toHaveLength(2);
    expect(new Set(ran).size).toBe(2);
  });

  it('when a tick comes while the same process still runs the job, then it is skipped (no overlap)', async () => {
    const name = jobName();
    const hold = latch();
    let runs = 0;
    const a = scheduler(dbA);
    a.register({
      name,
      cron: '0 0 1 1 *',
      leaseMs: 5000,
      run: async () => {
        runs++;
        await hold.opened;
      },
    });
    const first = a.runNow(name);
    expect(await a.runNow(name)).toBe(false);
    hold.open();
    expect(await first).toBe(true);
    expect(runs).toBe(1);
    expect(a.stats()[name]?.skipped).toBe(1);
  });

  it('when the lease holder died, then its lease expires by the database clock and the next taker gets a higher fencing token', async () => {
    const name = jobName();
    // A dead runner's row: held for 1.5 s more, token 41.
    await dbA
      .knex('job_leases')
      .insert({ name, owner: 'dead-host:1', fencing_token: 41, expires_at: dbNow(dbA, 1500) });
    const tokens: string[] = [];
    const b = scheduler(dbB, 'host-b');
    b.register({
      name,
      cron: '0 0 1 1 *',
      leaseMs: 5000,
      run: async (ctx) => void tokens.push(ctx.fencingToken),
    });
    expect(await b.runNow(name)).toBe(false);
    await sleep(1700);
    expect(await b.runNow(name)).toBe(true);
    expect(await b.runNow(name)).toBe(true);
    expect(tokens).toEqual(['42', '43']);
    const row = await leases.get(name);
    expect(row?.owner).toBeNull();
    expect(row?.fencingToken).toBe('43');
  });

  it('when a run outlasts its lease, then it is renewed and nobody else takes it meanwhile', async () => {
    const name = jobName();
    const a = scheduler(dbA, 'host-a');
    const b = scheduler(dbB, 'host-b');
    const owners: boolean[] = [];
    a.register({
      name,
      cron: '0 0 1 1 *',
      leaseMs: 1500,
      run: async (ctx) => {
        await sleep(3200);
        owners.push(await ctx.stillOwner());
      },
    });
    b.register({ name, cron: '0 0 1 1 *', leaseMs: 1500, run: async () => undefined });
    const long = a.runNow(name);
    const tries: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(550);
      tries.push(await b.runNow(name));
    }
    expect(await long).toBe(true);
    expect(tries).toEqual([false, false, false, false, false]);
    expect(owners).toEqual([true]);
  });

  it('when another runner takes the lease over, then the old run is aborted and stillOwner() says no', async () => {
    const name = jobName();
    const a = scheduler(dbA, 'host-a');
    let seen: JobContext | undefined;
    const started = latch();
    const hold = latch();
    a.register({
      name,
      cron: '0 0 1 1 *',
      leaseMs: 1500,
      run: async (ctx) => {
        seen = ctx;
        started.open();
        await Promise.race([hold.opened, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
        ctx.signal.throwIfAborted();
      },
    });
    const run = a.runNow(name);
    await started.opened;
    // Someone judged the lease expired (a frozen runner) and took it: the token moved on.
    await dbB
      .knex('job_leases')
      .where({ name })
      .update({ owner: 'host-b', fencing_token: dbB.knex.raw('fencing_token + 1') });
    expect(await seen?.stillOwner()).toBe(false);
    await expect(run).rejects.toThrow('lease lost');
    expect(seen?.signal.aborted).toBe(true);
    // The stale runner's release must not free the new holder's lease.
    expect((await leases.get(name))?.owner).toBe('host-b');
    hold.open();
  });

  it('when a job throws, then the error is logged and kept with the duration, and the lease is free again', async () => {
    const name = jobName();
    const a = scheduler(dbA);
    const b = scheduler(dbB);
    a.register({
      name,
      cron: '0 0 1 1 *',
      leaseMs: 5000,
      run: async () => {
        await sleep(30);
        throw new Error('billing exploded');
      },
    });
    b.register({ name, cron: '0 0 1 1 *', leaseMs: 5000, run: async () => undefined });
    await expect(a.runNow(name)).rejects.toThrow('billing exploded');
    const row = await leases.get(name);
    expect(row?.lastError).toContain('billing exploded');
    expect(row?.lastDurationMs).toBeGreaterThanOrEqual(25);
    expect(a.stats()[name]).toMatchObject({ runs: 1, failures: 1 });
    expect(await b.runNow(name)).toBe(true);
    expect((await leases.get(name))?.lastError).toBeNull();
  });

  it('when started, then the cron runs the job; when stopped, then the running job is aborted, awaited and its lease released', async () => {
    const name = jobName();
    const a = scheduler(dbA, 'host-a');
    let runs = 0;
    let abortedSeen = false;
    a.register({
      name,
      cron: '* * * * * *',
      leaseMs: 5000,
      run: async (ctx) => {
        runs++;
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        abortedSeen = true;
      },
    });
    a.start();
    for (let i = 0; i < 40 && runs === 0; i++) await sleep(100);
    expect(runs).toBe(1);
    await a.stop();
    expect(abortedSeen).toBe(true);
    expect((await leases.get(name))?.owner).toBeNull();
    expect(await a.runNow(name)).toBe(false);
    await sleep(1200);
    expect(runs).toBe(1);
  });

  it('when a job is registered with a bad cron or twice, then register refuses it', () => {
    const a = scheduler(dbA);
    expect(() =>
      a.register({ name: 'x', cron: 'every minute', leaseMs: 5000, run: async () => undefined }),
    ).toThrow(/cron/);
    a.register({ name: 'y', cron: '* * * * *', leaseMs: 5000, run: async () => undefined });
    expect(() =>
      a.register({ name: 'y', cron: '* * * * *', leaseMs: 5000, run: async () => undefined }),
    ).toThrow(/twice/);
  });
});
