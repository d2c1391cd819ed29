import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerQrCommands } from '../../src/cli/qr-commands.js';
import { configureLogger, quietTestRun } from '../../src/log/logger.js';
import { dbKinds } from '../support/databases.js';
import { QR_DEVICE_TOKEN, startQrGateway, type QrSetup } from '../support/kaspi-qr.js';
import { runCliInProcess } from '../support/cli-in-process.js';

describe.each(dbKinds)('[%s] Kaspi QR on the command line', (kind) => {
  let s: QrSetup;

  beforeAll(async () => {
    configureLogger({ level: 'warn', format: 'pretty', stream: process.stderr, silent: quietTestRun() });
    // No device token configured: `qr device register` provides it.
    s = await startQrGateway(kind, 'r3', { KASPI_QR_DEVICE_TOKEN: undefined as unknown as string });
  });
  afterAll(async () => {
    await s.t.close();
    await s.fake.stop();
  });

  /** Runs a command in-process on the test database; returns what it printed. */
  async function cli(...args: string[]): Promise<unknown> {
    const out = await runCliInProcess(s.t.config, registerQrCommands, args);
    return JSON.parse(out) as unknown;
  }

  it('when an operator lists trade points, registers a device, pings and makes a purchase, then each goes to Kaspi as the guide says', async () => {
    expect(await cli('qr', 'tradepoints')).toEqual([{ tradePointId: '12', name: 'Shop on Abay' }]);
    expect(s.fake.calls('tradePoints').at(-1)!.path).toBe('/partner/tradepoints/180340021791');
    const reg = (await cli(
      'qr',
      'device',
      'register',
      '--trade-point',
      '12',
      '--device-id',
      'GFC-456397',
    )) as {
      deviceToken: string;
    };
    expect(reg.deviceToken).toMatch(/^….{4}$/); // the token is never printed whole
    expect(s.fake.calls('deviceRegister').at(-1)!.raw).toMatch(/"TradePointId":12\b/);
    expect(await cli('qr', 'ping')).toMatchObject({ kaspiQr: 'ok', scheme: 'r3' });

    const created = (await cli('qr', 'payments', 'create', 'QR-1', '250.00')) as {
      id: string;
      txnId: string;
      state: string;
    };
    expect(created).toMatchObject({ state: 'pending', amount: '250.00', kind: 'qr' });
    const sent = s.fake.calls('qrCreate').at(-1)!;
    expect(sent.json?.OrganizationBin).toBe('180340021791');
    expect(String(sent.json?.DeviceToken)).not.toBe(QR_DEVICE_TOKEN);
    expect(await cli('qr', 'payments', 'show', created.id)).toMatchObject({
      id: created.id,
      state: 'pending',
    });
    const list = (await cli('qr', 'payments', 'list', '--state', 'pending')) as { id: string }[];
    expect(list.map((p) => p.id)).toContain(created.id);

    expect(await cli('qr', 'test', 'scan', created.txnId)).toMatchObject({ action: 'scan', message: 'OK' });
    expect(s.fake.calls('testScan').at(-1)!.raw).toBe(`{"qrPaymentId":"${created.txnId}"}`);
    expect(s.fake.statusOf(created.txnId)).toBe('Wait');

    expect(await cli('qr', 'device', 'delete')).toEqual({ deleted: true });
    await expect(cli('qr', 'payments', 'create', 'QR-1', '250.00')).rejects.toThrow(/no Kaspi QR device/);
  });
});
