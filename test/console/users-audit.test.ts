import { Readable } from 'node:stream';
import { Command } from 'commander';
import { registerAccountCommands } from '../../src/cli/account-commands.js';
import { registerAuditCommands } from '../../src/cli/audit-commands.js';
import { registerRefundCommands } from '../../src/cli/refund-commands.js';
import { readStdin, registerUserCommands } from '../../src/cli/user-commands.js';
import { createUserService } from '../../src/wiring/wiring.js';
import { createDb } from '../../src/db/db.js';
import { configureLogger } from '../../src/log/logger.js';
import { createStores } from '../../src/wiring/wiring.js';
import { verifyPassword } from '../../src/console/password.js';
import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { AUTH, creditedPayment, startRefundGateway } from '../support/refunds.js';

describe.each(dbKinds)('[%s] console users and the audit log', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;

  beforeAll(async () => {
    configureLogger({ level: 'error', format: 'pretty', stream: process.stderr });
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  /** Runs a command in-process on the test database; returns what it printed on stdout and stderr. */
  async function cli(args: string[], stdin?: string): Promise<{ out: unknown; err: string }> {
    const program = new Command('cli').exitOverride();
    const deps = {
      open: async () => {
        const db = createDb(t.config.DATABASE_URL, { poolMax: 2 });
        return { config: t.config, db, stores: createStores(db) };
      },
      stdin: () => readStdin(Readable.from([Buffer.from(stdin ?? '')])),
    };
    registerUserCommands(program, deps);
    registerAuditCommands(program, deps);
    registerRefundCommands(program, deps);
    registerAccountCommands(program);
    let out = '';
    let err = '';
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
    try {
      await program.parseAsync(['node', 'cli', ...args]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    return { out: JSON.parse(out) as unknown, err };
  }

  const hashOf = async (login: string) =>
    String((await t.gateway.db.knex('console_users').where({ login }).first('password_hash')).password_hash);

  it('when users add is run without a password, then a strong one is generated, printed once and only its scrypt hash is stored', async () => {
    const { out, err } = await cli(['users', 'add', 'Aigerim', '--role', 'operator']);
    expect(out).toMatchObject({ login: 'aigerim', role: 'operator', disabled: false });
    const printed = /Password for aigerim[^:]*: (\S+)/.exec(err)?.[1] as string;
    expect(printed).toMatch(/^[A-Za-z2-9]{20}$/);
    const hash = await hashOf('aigerim');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(hash).not.toContain(printed);
    expect(await verifyPassword(printed, hash)).toBe(true);
    expect(await verifyPassword(`${printed}x`, hash)).toBe(false);
  });

  it('when --password-stdin is given, then that password is set, nothing is printed, and passwd ends the sessions', async () => {
    const { err } = await cli(
      ['users', 'add', 'viewer1', '--role', 'viewer', '--password-stdin'],
      'correct horse battery\n',
    );
    expect(err).toBe('');
    expect(await verifyPassword('correct horse battery', await hashOf('viewer1'))).toBe(true);
    const users = t.gateway.services.users;
    const signed = await users.signIn('viewer1', 'correct horse battery', '127.0.0.1');
    expect(signed.ok).toBe(true);
    await cli(['users', 'passwd', 'viewer1', '--password-stdin'], 'another long password');
    const left = await t.gateway.db.knex('console_sessions').count({ n: '*' }).first();
    expect(Number(left?.n)).toBe(0);
    expect((await users.signIn('viewer1', 'correct horse battery', null)).ok).toBe(false);
    expect((await users.signIn('viewer1', 'another long password', null)).ok).toBe(true);
  });

  it('when a password is too short or the role unknown, then nothing is stored', async () => {
    await expect(
      cli(['users', 'add', 'shorty', '--role', 'viewer', '--password-stdin'], 'short'),
    ).rejects.toThrow(/at least 12/);
    await expect(cli(['users', 'add', 'boss', '--role', 'owner'])).rejects.toThrow(/role must be one of/);
    expect(await t.gateway.db.knex('console_users').whereIn('login', ['shorty', 'boss'])).toHaveLength(0);
  });

  it('when users disable and list are run, then the person cannot sign in and the list shows it', async () => {
    await cli(['users', 'add', 'leaver', '--role', 'viewer', '--password-stdin'], 'leaver password 1');
    await cli(['users', 'disable', 'leaver']);
    const { out } = await cli(['users', 'list']);
    expect(out).toEqual(
      expect.arrayContaining([expect.objectContaining({ login: 'leaver', disabled: true })]),
    );
    expect((await t.gateway.services.users.signIn('leaver', 'leaver password 1', null)).ok).toBe(false);
  });

  it('when 5 sign-ins fail within 15 minutes across two workers, then the login is locked even for the right password', async () => {
    await cli(['users', 'add', 'target', '--role', 'viewer', '--password-stdin'], 'the right password');
    // A second "worker": its own pool and service on the same database.
    const db2 = createDb(t.config.DATABASE_URL, { poolMax: 2 });
    try {
      const a = t.gateway.services.users;
      const b = createUserService(t.config, db2);
      for (let i = 0; i < 5; i++) {
        const r = await (i % 2 === 0 ? a : b).signIn('target', `wrong ${i}`, '10.0.0.9');
        expect(r).toEqual({ ok: false, locked: i === 4 });
      }
      expect(await b.signIn('target', 'the right password', '10.0.0.9')).toEqual({ ok: false, locked: true });
      const lockEntries = await t.gateway.stores.audit.list({ action: 'signin.locked', targetId: 'target' });
      expect(lockEntries).toHaveLength(1);
      const failed = await t.gateway.stores.audit.list({ action: 'signin.failed', actor: 'console:target' });
      expect(failed.map((e) => e.details?.reason)).toEqual(['locked', ...Array(5).fill('wrong password')]);
      // An admin's new password lifts the lock.
      await cli(['users', 'passwd', 'target', '--password-stdin'], 'a fresh password!');
      expect((await a.signIn('target', 'a fresh password!', null)).ok).toBe(true);
    } finally {
      await db2.close();
    }
  });

  it('when a refund is filed by the admin API and the CLI, then each is in the audit log with its actor, via GET /api/audit and audit list', async () => {
    const p = await creditedPayment(t, '300.00');
    const res = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '100.00', reason: 'payer asked' });
    expect(res.status).toBe(202);
    await cli(['refunds', 'create', p.txnId, '50.00', 'second', 'part']);
    const api = await t.admin().get('/api/audit').query({ action: 'refund.filed' }).set(AUTH);
    expect(api.status).toBe(200);
    const mine = (api.body.entries as { actor: string; details: { txnId: string; amount: string } }[]).filter(
      (e) => e.details.txnId === p.txnId,
    );
    expect(mine.map((e) => [e.actor, e.details.amount])).toEqual([
      [expect.stringMatching(/^cli:/), '50.00'],
      ['api', '100.00'],
    ]);
    const { out } = await cli(['audit', 'list', '--action', 'refund.filed', '--limit', '1']);
    expect(out).toEqual([
      expect.objectContaining({ actor: expect.stringMatching(/^cli:/), action: 'refund.filed' }),
    ]);
  });

  it("when a refund is refused (above what is left), then no audit entry is written: the entry shares the change's transaction", async () => {
    const p = await creditedPayment(t, '100.00');
    const before = await t.gateway.db.knex('audit_log').count({ n: '*' }).first();
    const res = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '150.00', reason: 'too much' });
    expect(res.status).toBe(422);
    expect(await t.gateway.db.knex('audit_log').count({ n: '*' }).first()).toEqual(before);
  });

  it('when an account is added over the API, then it is audited as api with the client address', async () => {
    const res = await t
      .admin()
      .post('/api/accounts')
      .set(AUTH)
      .send({ account: 'AUD-1', name: 'Audit Payer' });
    expect(res.status).toBe(201);
    const dup = await t.admin().post('/api/accounts').set(AUTH).send({ account: 'AUD-1' });
    expect(dup.status).toBe(409);
    const api = await t
      .admin()
      .get('/api/audit')
      .query({ targetType: 'account', targetId: 'AUD-1' })
      .set(AUTH);
    expect(api.body.entries).toEqual([
      expect.objectContaining({
        actor: 'api',
        action: 'account.added',
        clientIp: expect.stringMatching(/127\.0\.0\.1/),
      }),
    ]);
  });

  it('when accounts and orders are changed on the command line, then each change is audited as cli', async () => {
    // The account commands open the configured database: point them at the test one.
    process.env.DATABASE_URL = t.config.DATABASE_URL;
    process.env.NODE_ENV = 'test';
    try {
      await cli(['accounts', 'add', 'AUD-CLI', '--name', 'Cli Payer']);
      await cli(['accounts', 'close', 'AUD-CLI']);
      await cli(['orders', 'add', 'ORD-AUD', '--amount', '10.00', '--account', 'AUD-CLI']);
      await cli(['orders', 'cancel', 'ORD-AUD']);
    } finally {
      delete process.env.DATABASE_URL;
      delete process.env.NODE_ENV;
    }
    const entries = await t.gateway.stores.audit.list({
      actor: `cli:${(await import('node:os')).userInfo().username}`,
    });
    expect(
      entries.filter((e) => ['AUD-CLI', 'ORD-AUD'].includes(e.targetId ?? '')).map((e) => e.action),
    ).toEqual(['order.closed', 'order.added', 'account.closed', 'account.added']);
  });

  it('when GET /api/audit has no key or a bad filter, then it is refused', async () => {
    expect((await t.admin().get('/api/audit')).status).toBe(401);
    expect((await t.admin().get('/api/audit').query({ from: 'yesterday' }).set(AUTH)).status).toBe(400);
    expect((await t.admin().get('/api/audit').query({ before: 'x' }).set(AUTH)).status).toBe(400);
  });

  it('when the audit log is paged with next, then pages do not overlap', async () => {
    const first = await t.admin().get('/api/audit').query({ limit: '2' }).set(AUTH);
    expect(first.body.entries).toHaveLength(2);
    const second = await t.admin().get('/api/audit').query({ limit: '2', before: first.body.next }).set(AUTH);
    const ids = [...first.body.entries, ...second.body.entries].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
