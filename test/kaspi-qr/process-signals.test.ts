import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { startFakeKaspiQr, type FakeKaspiQr } from '../support/fake-kaspi-qr.js';
import { startTestGateway } from '../support/gateway.js';
import { ADMIN, kaspiQrConfig, QR_DEVICE_TOKEN } from '../support/kaspi-qr.js';
import { captureLogs } from '../support/log-capture.js';
import { testCerts, type TestCerts } from '../support/test-ca.js';

const logs = captureLogs('warn');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  log: () => string,
) {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}\n${log()}`);
    await sleep(100);
  }
}

/** The real service (src/main.ts, as `npm start` runs it), its JSON log lines read from stdout. */
interface Service {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  out: () => string;
  adminPort: number;
  stop(): Promise<void>;
}

async function startService(env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  child.stderr?.on('data', (d: Buffer) => {
    raw += d.toString();
  });
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    raw += `${l}\n`;
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = () => lines.find((l) => l.message === 'gateway listening');
  await until(
    'the service listens',
    () => Boolean(listening()) || child.exitCode !== null,
    30_000,
    () => raw,
  );
  const admin = String(listening()?.admin ?? '');
  return {
    child,
    lines,
    out: () => raw,
    adminPort: Number(admin.split(':').at(-1)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const asEnv = (cfg: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, String(v)]));

/**
 * Kaspi QR in real processes: the service's own SIGHUP handler (src/main.ts) re-reads the
 * certificate files and the next call presents the new certificate; a create attempt left by a
 * process killed -9 while Kaspi was answering is swept by the engine (nothing payable, the
 * Idempotency-Key free again).
 */
describe.each(dbKinds)('[%s] Kaspi QR across real processes', (kind) => {
  let certs: TestCerts;
  let database: TestDatabase;

  beforeAll(async () => {
    certs = testCerts();
    database = await createTestDatabase(kind);
    // Migrated, with the payer's account, before any child opens it.
    const t = await startTestGateway(kind, {}, {}, database);
    await t.gateway.stores.accounts.addAccount({ account: 'QR-7', name: 'Payer', balance: 0 });
    await t.close();
  });
  afterAll(() => database.drop());

  it('when the service gets SIGHUP, then it re-reads the certificate files, logs the new one, and its next call presents it', async () => {
    const fake: FakeKaspiQr = await startFakeKaspiQr({ scheme: 'r2', certs });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kaspi-qr-sighup-'));
    const certFile = path.join(dir, 'client.pem');
    const keyFile = path.join(dir, 'client.key');
    const install = (c: { cert: string; key: string }) => {
      fs.copyFileSync(c.cert, certFile);
      fs.copyFileSync(c.key, keyFile);
    };
    install(certs.newClient('before-hup', 200));
    const service = await startService({
      ...asEnv(kaspiQrConfig(fake, certs, { KASPI_QR_CERT_FILE: certFile, KASPI_QR_KEY_FILE: keyFile })),
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      PORT: '0',
      ADMIN_PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_HOST: '127.0.0.1',
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      SEED_DEMO_ACCOUNTS: 'false',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      KASPI_QR_POLL_CRON: '0 0 1 1 *',
    });
    try {
      await until('health/ping at start', () => fake.calls('healthPing').length > 0, 20_000, service.out);
      const first = fake.calls('healthPing')[0]!.clientCert;
      expect(first).not.toBeNull();

      install(certs.newClient('after-hup', 400));
      service.child.kill('SIGHUP');
      const reloaded = () => service.lines.find((l) => l.message === 'kaspi qr: client certificate (reload)');
      await until('the reload is logged', () => Boolean(reloaded()), 20_000, service.out);
      expect(String(reloaded()?.subject)).toContain('CN=after-hup');
      expect(service.child.exitCode).toBeNull(); // SIGHUP reloads; it does not stop the service

      const res = await fetch(`http://127.0.0.1:${service.adminPort}/api/qr/payments`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json', 'Idempotency-Key': `hup-${kind}` },
        body: JSON.stringify({ account: 'QR-7', amount: '10.00', kind: 'qr' }),
      });
      expect(res.status).toBe(201);
      const sent = fake.calls('qrCreate').at(-1)!.clientCert;
      expect(sent).not.toBeNull();
      expect(sent).not.toBe(first);
      // No secret in anything the service wrote.
      expect(service.out()).not.toContain(certs.passphrase);
      expect(service.out()).not.toContain(QR_DEVICE_TOKEN);
    } finally {
      await service.stop();
      await fake.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('when a process is killed -9 while Kaspi is answering a create, then the engine sweeps its attempt: lost, nothing payable, the key free again', async () => {
    const fake = await startFakeKaspiQr({ scheme: 'r1', certs, apiKey: 'test_5f1c9a7e-api-key-0001' });
    const cfg = kaspiQrConfig(fake, certs, { KASPI_QR_POLL_CRON: '0 0 1 1 *', KASPI_QR_TIMEOUT_MS: 20_000 });
    let child: ChildServer | null = null;
    try {
      child = await startChildServer({
        ...asEnv(cfg),
        DATABASE_URL: database.url,
        ADMIN_API_KEY: 'test-admin-key-0123456789',
      });
      // Kaspi takes its time: the process dies with the request in flight.
      const DELAY_MS = 5_000;
      fake.fault('qrCreate', { delayMs: DELAY_MS });
      const key = `swept-${kind}`;
      const asked = fetch(`http://127.0.0.1:${child.adminPort}/api/qr/payments`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ account: 'QR-7', amount: '25.00', kind: 'qr' }),
      }).catch(() => null);
      await until('qr/create reached Kaspi', () => fake.calls('qrCreate').length > 0, 20_000, child.stderr);
      const answerAt = Date.now() + DELAY_MS;
      await child.kill9();
      expect(await asked).toBeNull(); // the connection died with the process
      fake.clearFaults();

      const t = await startTestGateway(kind, cfg, {}, database);
      try {
        const q = t.gateway.db.knex;
        const left = await q('kaspi_qr_attempts').where({ idem_key: key });
        expect(left.map((a) => a.state)).toEqual(['sending']);
        // Too soon: a request could still be running.
        await t.gateway.services.kaspiQr!.engine.run({}, new Date());
        expect((await q('kaspi_qr_attempts').where({ idem_key: key }).first()).state).toBe('sending');
        await t.gateway.services.kaspiQr!.engine.run({}, new Date(Date.now() + 10 * 60_000));
        const swept = await q('kaspi_qr_attempts').where({ idem_key: key }).first();
        expect(swept).toMatchObject({ state: 'lost', error: 'left by a dead process' });
        expect(await q('payments').where({ account: 'QR-7', amount: 2500 })).toHaveLength(0);
        expect(logs.find('warn', 'create attempt left by a dead process')).toHaveLength(1);
        logs.clear();
        // The key is free: the same request now makes a new attempt (a new ExternalId).
        const again = await t
          .admin()
          .post('/api/qr/payments')
          .set(ADMIN)
          .set('Idempotency-Key', key)
          .send({ account: 'QR-7', amount: '25.00', kind: 'qr' });
        expect(again.status).toBe(201);
        const sent = fake.calls('qrCreate').map((r) => r.json?.ExternalId);
        expect(sent).toHaveLength(2);
        expect(sent[1]).not.toBe(sent[0]);
      } finally {
        await t.close();
      }
      // The fake's delayed answer to the dead process has gone (its timer would outlive the test).
      await sleep(Math.max(0, answerAt - Date.now()) + 100);
    } finally {
      await child?.kill9();
      await fake.stop();
    }
  }, 60_000);
});
