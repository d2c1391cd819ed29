import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { registerPaymentCommands } from '../../src/cli/payment-commands.js';
import { registerRefundCommands } from '../../src/cli/refund-commands.js';
import { configureLogger, quietTestRun } from '../../src/log/logger.js';
import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { creditedPayment, startRefundGateway } from '../support/refunds.js';
import { runCliInProcess } from '../support/cli-in-process.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

describe.each(dbKinds)('[%s] refunds and payments on the command line', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;

  beforeAll(async () => {
    // As the real CLI does (src/cli/cli-context.ts): stdout is for what a command prints, logs go to
    // stderr, so a log line of the gateway in this process never lands in the JSON read below.
    configureLogger({ level: 'warn', format: 'pretty', stream: process.stderr, silent: quietTestRun() });
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  /** Runs a command in-process on the test database; returns what it printed. */
  async function cli(...args: string[]): Promise<unknown> {
    const out = await runCliInProcess(
      t.config,
      (program, deps) => {
        registerRefundCommands(program, deps);
        registerPaymentCommands(program, deps);
      },
      args,
    );
    return JSON.parse(out) as unknown;
  }

  it('when refunds create, show and list are run, then they file, show and list the refund', async () => {
    const p = await creditedPayment(t, '300.00');
    fake.script(p.txnId, [{ status: 0 }, { status: 2 }]);
    const created = (await cli('refunds', 'create', p.txnId, '100.00', 'returned', 'goods')) as Record<
      string,
      unknown
    >;
    expect(created).toMatchObject({
      txnId: p.txnId,
      amount: '100.00',
      amountMinor: 10000,
      reason: 'returned goods',
      status: 'accepted',
      createdBy: 'cli',
    });
    expect(fake.received.at(-1)?.paymentId).toBe(p.txnId);
    const shown = await cli('refunds', 'show', String(created.id));
    expect(shown).toMatchObject({ id: created.id, status: 'accepted' });
    const listed = (await cli('refunds', 'list', '--txn', p.txnId)) as { id: string }[];
    expect(listed.map((r) => r.id)).toEqual([created.id]);
    const payment = await cli('payments', 'show', p.txnId);
    expect(payment).toMatchObject({
      txnId: p.txnId,
      amount: '300.00',
      refundable: '200.00',
      state: 'credited',
    });
    const payments = (await cli('payments', 'list', '--account', p.account)) as { txnId: string }[];
    expect(payments.map((x) => x.txnId)).toEqual([p.txnId]);
  });

  it('when a refund is refused or the input is wrong, then a clear error and nothing stored', async () => {
    const p = await creditedPayment(t, '10.00');
    const before = await t.gateway.db.knex('refunds').count({ n: '*' });
    await expect(cli('refunds', 'create', p.txnId, '20.00', 'too much')).rejects.toThrow(
      /refund_exceeds_payment/,
    );
    await expect(cli('refunds', 'create', p.txnId, '1,5', 'comma')).rejects.toThrow(/tenge like 100.00/);
    await expect(cli('refunds', 'create', p.txnId, '1.50', 'tiyn')).rejects.toThrow(/whole tenge/);
    await expect(cli('refunds', 'list', '--status', 'nope')).rejects.toThrow(/--status/);
    await expect(cli('refunds', 'show', '99999999')).rejects.toThrow(/not_found/);
    await expect(cli('payments', 'show', '1')).rejects.toThrow(/no payment/);
    expect(await t.gateway.db.knex('refunds').count({ n: '*' })).toEqual(before);
  });

  it('when a FATAL refund is resumed by a person, then it is polled again and may still finish', async () => {
    const p = await creditedPayment(t, '50.00');
    fake.script(p.txnId, [{ status: 0 }, { status: 5 }, { status: 2 }]);
    const created = (await cli('refunds', 'create', p.txnId, '50.00', 'fatal')) as { id: string };
    const poll = async () => {
      await t.gateway.db
        .knex('refunds')
        .where({ id: created.id })
        .whereNotNull('next_poll_at')
        .update({ next_poll_at: '2000-01-01 00:00:00.000' });
      await t.gateway.services.refundPoller.runOnce();
    };
    await poll();
    expect(await cli('refunds', 'show', created.id)).toMatchObject({ status: 'fatal', nextPollAt: null });
    const resumed = await cli('refunds', 'resume', created.id);
    expect(resumed).toMatchObject({ status: 'fatal', flagged: null });
    await poll();
    expect(await cli('refunds', 'show', created.id)).toMatchObject({ status: 'success' });
    await expect(cli('refunds', 'resume', created.id)).rejects.toThrow(/final/);
  });

  if (kind === 'sqlite') {
    it('when `npm run cli -- refunds list` runs as a process, then it prints JSON and exits 0', async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'src/cli/index.ts', 'refunds', 'list', '--limit', '1'],
        {
          cwd: ROOT,
          env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: t.config.DATABASE_URL, NODE_ENV: 'test' },
          timeout: 30000,
        },
      );
      expect(JSON.parse(stdout)).toHaveLength(1);
    });
  }
});
