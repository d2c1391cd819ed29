import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerQrCommands } from '../../src/cli/qr-commands.js';
import { configureLogger, quietTestRun } from '../../src/log/logger.js';
import { dbKinds } from '../support/databases.js';
import type { Scheme } from '../support/fake-kaspi-qr.js';
import { installRemote } from '../support/fake-kaspi-qr-remote.js';
import { paidQrPurchase, startReturnsGateway, type ReturnsSetup } from '../support/kaspi-qr-returns.js';
import { balanceOf } from '../support/ledger.js';
import { runCliInProcess } from '../support/cli-in-process.js';

/**
 * Remote invoices and r2 return sessions on the command line: `qr payments create --remote
 * --phone`, `qr payments refresh|cancel`, `qr client-info`, `qr returns create|show`, through the
 * same services as the admin API, on the test database.
 */
describe.each(dbKinds)('[%s] Kaspi QR remote invoices and return sessions on the command line', (kind) => {
  configureLogger({ level: 'warn', format: 'pretty', stream: process.stderr, silent: quietTestRun() });

  /** Runs a command in-process on the gateway's database; returns what it printed. */
  async function cli(s: ReturnsSetup, ...args: string[]): Promise<Record<string, unknown>> {
    const out = await runCliInProcess(s.t.config, registerQrCommands, args);
    return JSON.parse(out) as Record<string, unknown>;
  }

  async function account(s: ReturnsSetup): Promise<string> {
    const a = `CL${process.pid}${Math.floor(Math.random() * 1e8)}`;
    await s.t.gateway.stores.accounts.addAccount({ account: a, name: 'CLI Payer', balance: 0 });
    return a;
  }

  const setup = (scheme: Scheme, more = {}) => startReturnsGateway(kind, scheme, more);

  describe('on r3', () => {
    let s: ReturnsSetup;
    beforeAll(async () => {
      s = await setup('r3');
      installRemote(s.fake);
    });
    afterAll(async () => {
      await s.t.close();
      await s.fake.stop();
    });
    const statusCalls = (qrPaymentId: string) =>
      s.fake.calls('paymentStatus').filter((r) => r.path.endsWith(`/${qrPaymentId}`)).length;

    it('when an operator sends a remote invoice and refreshes it, then Kaspi is asked on each refresh at most once per 30 s, and paid is credited once', async () => {
      const a = await account(s);
      const created = await cli(
        s,
        'qr',
        'payments',
        'create',
        a,
        '420.00',
        '--remote',
        '--phone',
        '+7 707 123 45 67',
      );
      expect(created).toMatchObject({ kind: 'remote', state: 'pending', account: a, amount: '420.00' });
      expect(s.fake.calls('remoteCreate').at(-1)?.json).toMatchObject({ PhoneNumber: '87071234567' });
      const id = created.id as string;
      const qrId = created.txnId as string;
      expect(statusCalls(qrId)).toBe(0);

      expect(await cli(s, 'qr', 'payments', 'refresh', id)).toMatchObject({ state: 'pending' });
      expect(statusCalls(qrId)).toBe(1);
      s.fake.setStatus(qrId, 'Processed');
      expect(await cli(s, 'qr', 'payments', 'refresh', id)).toMatchObject({ state: 'pending' });
      expect(statusCalls(qrId)).toBe(1); // within 30 s of the last call: the stored state
      await s.t.gateway.db
        .knex('kaspi_qr_remote_invoices')
        .where({ payment_id: id })
        .update({ last_refresh_at: '2000-01-01 00:00:00.000' });
      expect(await cli(s, 'qr', 'payments', 'refresh', id)).toMatchObject({
        state: 'paid',
        credit: 'credited',
      });
      expect(statusCalls(qrId)).toBe(2);
      expect(await balanceOf(s.t.gateway, a)).toBe(42000);
      expect(await cli(s, 'qr', 'payments', 'show', id)).toMatchObject({ state: 'paid' });
      expect(statusCalls(qrId)).toBe(2); // show never asks Kaspi
    });

    it('when an operator cancels an invoice, then remote/cancel and cancelled; a paid one is refused', async () => {
      const a = await account(s);
      const created = await cli(
        s,
        'qr',
        'payments',
        'create',
        a,
        '99.00',
        '--remote',
        '--phone',
        '87071234567',
      );
      const cancelled = await cli(s, 'qr', 'payments', 'cancel', created.id as string);
      expect(cancelled).toMatchObject({ state: 'cancelled', credit: null });
      expect(s.fake.calls('remoteCancel').at(-1)?.raw).toContain(`"QrPaymentId":${created.txnId as string}`);
      await expect(cli(s, 'qr', 'payments', 'cancel', created.id as string)).rejects.toThrow(
        /cancelled already/,
      );
    });

    it('when the input is wrong, then a clear error and nothing sent', async () => {
      const a = await account(s);
      const before = s.fake.calls('remoteCreate').length;
      await expect(cli(s, 'qr', 'payments', 'create', a, '10.00', '--remote')).rejects.toThrow(
        /--remote needs --phone/,
      );
      await expect(cli(s, 'qr', 'payments', 'create', a, '10.00', '--phone', '87071234567')).rejects.toThrow(
        /--phone goes with --remote/,
      );
      await expect(
        cli(s, 'qr', 'payments', 'create', a, '10.00', '--remote', '--phone', '12345'),
      ).rejects.toThrow(/phone must be a Kazakhstan mobile number/);
      await expect(cli(s, 'qr', 'payments', 'refresh', 'abc')).rejects.toThrow(/id must be digits/);
      expect(s.fake.calls('remoteCreate')).toHaveLength(before);
    });

    it("when the payer's name is asked, then it is printed with the phone masked", async () => {
      expect(await cli(s, 'qr', 'client-info', '87071234567')).toEqual({
        phone: '8707***4567',
        name: 'Айгерим Н.',
      });
    });

    it('when a return session is asked on r3, then it is refused pointing at refunds create --source kaspi_qr', async () => {
      const p = await paidQrPurchase(s, 10000);
      await expect(cli(s, 'qr', 'returns', 'create', p.txnId, '10.00', 'wrong', 'size')).rejects.toThrow(
        /not_supported_by_scheme/,
      );
      expect(s.fake.calls('returnCreate')).toHaveLength(0);
    });
  });

  describe('on r2', () => {
    let s: ReturnsSetup;
    beforeAll(async () => {
      s = await setup('r2', { PUBLIC_BASE_URL: 'https://pay.example.kz' });
    });
    afterAll(async () => {
      await s.t.close();
      await s.fake.stop();
    });

    it('when an operator starts a return session, then it prints the returnUrl, and once the payer scanned the purchase is returned', async () => {
      const p = await paidQrPurchase(s, 50000);
      const started = await cli(s, 'qr', 'returns', 'create', p.txnId, '125.00', 'broken', 'router');
      expect(started).toMatchObject({
        state: 'pending',
        txnId: p.txnId,
        amount: '125.00',
        reason: 'broken router',
      });
      expect(started.returnUrl).toMatch(/^https:\/\/pay\.example\.kz\/return\/[0-9a-f]{32}$/);
      expect(s.fake.calls('returnCreate')).toHaveLength(1);
      // The payer scans (the fake identifies at once); the engine's tick finds the session due.
      await s.t.gateway.db
        .knex('kaspi_qr_return_sessions')
        .where({ id: started.id as string })
        .update({ next_poll_at: '2000-01-01 00:00:00.000' });
      await s.t.gateway.scheduler.runNow('kaspi-qr-return-sessions');
      const shown = await cli(s, 'qr', 'returns', 'show', started.id as string);
      expect(shown).toMatchObject({ state: 'returned' });
      expect(shown.refundId).toMatch(/^\d+$/);
      expect(s.kaspi.returned(p.txnId)).toBe(12500);
      expect(await balanceOf(s.t.gateway, p.account)).toBe(37500);
      await expect(cli(s, 'qr', 'returns', 'create', p.txnId, '400.00', 'too', 'much')).rejects.toThrow(
        /refund_exceeds_payment/,
      );
      expect(s.fake.calls('returnCreate')).toHaveLength(1);
    });
  });
});
