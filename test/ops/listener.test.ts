import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Billing } from '../../src/billing/billing.js';
import { SqlBilling } from '../../src/billing/sql-billing.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import type { Stores } from '../../src/wiring/wiring.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type ConfigOverrides, type TestGateway } from '../support/gateway.js';
import { newTxnId, parseKaspi, TXN_DATE } from '../support/kaspi.js';
import { captureLogStream } from '../support/log-stream.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  opts: { agent?: http.Agent | false; ca?: Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { agent: opts.agent ?? false, ca: opts.ca, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const payPath = (txn: string, account: string) =>
  `/payment_app.cgi?command=pay&txn_id=${txn}&account=${account}&sum=3.00&txn_date=${TXN_DATE}`;

/** The embedded billing, with a switch that makes each credit take this long (a slow database). */
function slowBilling(delay: { ms: number }) {
  return (stores: Stores): Billing => {
    const real = new SqlBilling(stores.accounts, { allowPartialOrderPayment: false });
    return {
      kind: 'sql',
      lookup: (a) => real.lookup(a),
      creditInTransaction: async (trx, req) => {
        if (delay.ms > 0) await new Promise((r) => setTimeout(r, delay.ms));
        return real.creditInTransaction(trx, req);
      },
    };
  };
}

async function started(kind: Parameters<typeof startTestGateway>[0], cfg: ConfigOverrides = {}, delayMs = 0) {
  const delay = { ms: delayMs };
  const t = await startTestGateway(kind, cfg, { billing: slowBilling(delay) });
  await t.gateway.stores.accounts.addAccount({ account: 'LS-1', name: 'Payer', balance: 0 });
  const ports = await t.gateway.start();
  return { t, ports, delay };
}

describe.each(dbKinds)('[%s] listeners: graceful stop, timeouts, limits', (kind) => {
  it('when stop() is called with a pay in flight, then the pay is answered, new connections are refused, and stop waits for it', async () => {
    const { t, ports } = await started(kind, {}, 600);
    try {
      const txn = newTxnId();
      const inFlight = request(`http://127.0.0.1:${ports.port}${payPath(txn, 'LS-1')}`);
      await new Promise((r) => setTimeout(r, 150));
      let stopDone = false;
      const stopping = t.gateway.stop().then(() => (stopDone = true));
      await new Promise((r) => setTimeout(r, 50));
      await expect(request(`http://127.0.0.1:${ports.port}${payPath(newTxnId(), 'LS-1')}`)).rejects.toThrow(
        /ECONNREFUSED/,
      );
      expect(stopDone).toBe(false);
      const reply = await inFlight;
      expect(reply.status).toBe(200);
      expect(parseKaspi(reply.body).result).toBe('0');
      expect(reply.headers.connection).toBe('close');
      await stopping;
    } finally {
      await t.database.drop();
    }
  });

  it('when a keep-alive client is idle at stop(), then its connection is closed and stop() does not wait for the keep-alive timeout', async () => {
    const { t, ports } = await started(kind);
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const first = await request(`http://127.0.0.1:${ports.port}${payPath(newTxnId(), 'LS-1')}`, { agent });
      expect(first.headers.connection).toBe('keep-alive');
      const began = Date.now();
      await t.gateway.stop();
      expect(Date.now() - began).toBeLessThan(3000);
      agent.destroy();
    } finally {
      await t.database.drop();
    }
  });

  it('when keep-alive clients send back to back through stop(), then no request is cut: each is answered or, once the port is closed, refused at connect', async () => {
    const { t, ports } = await started(kind);
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
      const outcomes: string[] = [];
      let stop = false;
      const loop = async () => {
        for (let i = 0; i < 400 && !stop; i++) {
          const outcome = await request(`http://127.0.0.1:${ports.port}${payPath(newTxnId(), 'LS-1')}`, {
            agent,
          }).then(
            (r) =>
              r.status === 200 && parseKaspi(r.body).result === '0' ? 'answered' : `status ${r.status}`,
            (e: NodeJS.ErrnoException) =>
              e.code === 'ECONNREFUSED' ? 'refused' : `${e.code ?? ''} ${e.message}`,
          );
          outcomes.push(outcome);
          if (outcome === 'refused') return;
        }
      };
      const loops = Array.from({ length: 6 }, loop);
      // stop in the middle of the stream, however slow the machine is today
      for (let waited = 0; outcomes.length < 30 && waited < 10_000; waited += 20)
        await new Promise((r) => setTimeout(r, 20));
      await t.gateway.stop();
      stop = true;
      await Promise.all(loops);
      agent.destroy();
      const answered = outcomes.filter((o) => o === 'answered').length;
      expect(answered).toBeGreaterThanOrEqual(30);
      expect(outcomes.filter((o) => o !== 'answered' && o !== 'refused')).toEqual([]);
    } finally {
      await t.database.drop();
    }
  });

  it('when a request outlives SHUTDOWN_TIMEOUT_MS, then it is cut and an ERROR says so', async () => {
    // A pay cannot outlive PAY_DEADLINE_MS (it is answered 4 at the deadline); a client that never
    // finishes sending its body can: here, a refund request on the admin listener.
    const logs = captureLogStream('json', 'info');
    const { t, ports } = await started(kind, { PAY_DEADLINE_MS: 500, SHUTDOWN_TIMEOUT_MS: 1000 });
    try {
      const began = Date.now();
      let closedAfter = 0;
      const socket = net.connect(ports.adminPort, '127.0.0.1');
      const closed = new Promise<string>((resolve) => {
        let got = '';
        socket.on('data', (d) => (got += d.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          closedAfter = Date.now() - began;
          resolve(got);
        });
      });
      await new Promise<void>((r) => socket.once('connect', () => r()));
      socket.write(
        [
          'POST /api/refunds HTTP/1.1',
          'Host: 127.0.0.1',
          `Authorization: Bearer ${t.config.ADMIN_API_KEY}`,
          'Content-Type: application/json',
          'Content-Length: 200',
          '',
          '{"txnId":"1',
        ].join('\r\n'),
      );
      await new Promise((r) => setTimeout(r, 200));
      await t.gateway.stop();
      expect(await closed).toBe(''); // no answer: cut
      expect(closedAfter).toBeGreaterThanOrEqual(1000);
      await logs.settle();
      expect(
        logs.lines().find((l) => l.level === 'error' && /cut at shutdown/.test(String(l.message))),
      ).toMatchObject({ cut: 1 });
    } finally {
      await t.database.drop();
    }
  }, 20000);

  it('when a client sends its headers too slowly, then it gets 408 after HTTP_HEADERS_TIMEOUT_MS', async () => {
    const { t, ports } = await started(kind, {
      HTTP_HEADERS_TIMEOUT_MS: 1000,
      HTTP_REQUEST_TIMEOUT_MS: 1000,
    });
    try {
      const began = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const s = net.connect(ports.port, '127.0.0.1', () =>
          s.write('GET /payment_app.cgi?command=check HTTP/1.1\r\n'),
        );
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', reject);
        setTimeout(() => reject(new Error('not closed in 6 s')), 6000).unref();
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - began).toBeLessThan(4000);
    } finally {
      await t.close();
    }
  });

  it('when a Kaspi request line is oversized, then 431 with no page, and nothing is stored', async () => {
    const { t, ports } = await started(kind);
    try {
      const reply = await request(
        `http://127.0.0.1:${ports.port}${payPath(newTxnId(), 'LS-1')}&data1=${'x'.repeat(20_000)}`,
      );
      expect(reply.status).toBe(431);
      expect(reply.body).not.toMatch(/<html/i);
      const [n] = await t.gateway.db.knex('payments').count({ n: '*' });
      expect(Number((n as { n: number | string }).n)).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe.each(dbKinds)('[%s] TLS on the public listener', (kind) => {
  let dir: string;
  let cert: Buffer;
  let t: TestGateway | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('when TLS_CERT_FILE and TLS_KEY_FILE are set, then Kaspi is served over HTTPS and plain HTTP gets nothing', async () => {
    const s = await started(kind, {
      TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      TLS_KEY_FILE: path.join(dir, 'key.pem'),
    });
    t = s.t;
    const reply = await request(`https://127.0.0.1:${s.ports.port}${payPath(newTxnId(), 'LS-1')}`, {
      ca: cert,
    });
    expect(reply.status).toBe(200);
    expect(parseKaspi(reply.body).result).toBe('0');
    await expect(request(`http://127.0.0.1:${s.ports.port}${payPath(newTxnId(), 'LS-1')}`)).rejects.toThrow();
    // the admin listener stays plain HTTP on its private address
    expect((await request(`http://127.0.0.1:${s.ports.adminPort}/healthz`)).status).toBe(200);
  });

  it('when the certificate file cannot be read, then the start is refused naming TLS_CERT_FILE', async () => {
    t = await startTestGateway(kind, {
      TLS_CERT_FILE: path.join(dir, 'missing.pem'),
      TLS_KEY_FILE: path.join(dir, 'key.pem'),
    });
    const err = await t.gateway.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\)/);
  });
});

describe('listener settings', () => {
  const load = (env: Record<string, string>) => loadConfig({ env, configDir: '/nonexistent' });

  it.each([
    [{ TLS_CERT_FILE: '/etc/ssl/cert.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE/],
    [{ TLS_KEY_FILE: '/etc/ssl/key.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE/],
    [{ SHUTDOWN_TIMEOUT_MS: '10000' }, /SHUTDOWN_TIMEOUT_MS: must exceed PAY_DEADLINE_MS/],
    [{ HTTP_HEADERS_TIMEOUT_MS: '40000' }, /HTTP_HEADERS_TIMEOUT_MS: must not exceed/],
    [{ METRICS_PORT: 'x' }, /METRICS_PORT/],
  ])('when %p is set, then the start is refused with %p', (env, problem) => {
    expect(() => load(env)).toThrow(problem);
  });

  it('when nothing is set, then the timeouts have their documented defaults', () => {
    expect(load({})).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 15000,
      HTTP_REQUEST_TIMEOUT_MS: 30000,
      HTTP_KEEPALIVE_TIMEOUT_MS: 65000,
      SHUTDOWN_TIMEOUT_MS: 15000,
    });
  });
});
