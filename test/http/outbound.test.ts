import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Outbound, OutboundError, type OutboundCall } from '../../src/http/outbound.js';

/**
 * The one outbound transport against a real local server with switches: which calls it repeats
 * (idempotent methods and keyed POSTs; a bare POST never), its timeout, and how it names a failure.
 */
type Mode = 'ok' | '500' | 'slow' | 'drop' | 'garbage';

class Upstream {
  mode: Mode = 'ok';
  /** Calls that get `mode`; later ones get ok. */
  failFirst = Infinity;
  calls: { method: string; key: string | undefined }[] = [];
  private server = http.createServer((req, res) => {
    this.calls.push({ method: req.method ?? '', key: req.headers['idempotency-key'] as string | undefined });
    req.resume();
    const mode = this.calls.length <= this.failFirst ? this.mode : 'ok';
    if (mode === 'drop') return req.socket.destroy();
    if (mode === 'slow') {
      setTimeout(() => res.end('{"late":true}'), 600).unref();
      return;
    }
    if (mode === '500') return void res.writeHead(500).end('maintenance');
    if (mode === 'garbage') return void res.writeHead(200).end('<html>');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  private sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<this> {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('outbound HTTP', () => {
  let up: Upstream;
  let out: Outbound;
  const call = (o: Partial<OutboundCall> = {}): OutboundCall => ({
    method: 'GET',
    path: 'x',
    log: { command: 'test', request: () => 'GET /x' },
    ...o,
  });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as OutboundError,
    );

  beforeAll(async () => {
    up = await new Upstream().start();
  });
  beforeEach(() => {
    up.mode = 'ok';
    up.failFirst = Infinity;
    up.calls = [];
    out = new Outbound({
      upstream: 'test',
      channel: 'billing',
      baseUrl: `http://127.0.0.1:${up.port}/api`,
      timeoutMs: 200,
      maxAttempts: 3,
      retryBaseMs: 10,
    });
  });
  afterEach(() => out.close());
  afterAll(() => up.stop());

  it('when a GET meets a 5xx, then it is repeated and the first good answer returned', async () => {
    up.mode = '500';
    up.failFirst = 2;
    const a = await out.send(call());
    expect(a).toMatchObject({ status: 200, attempts: 3, host: `127.0.0.1:${up.port}` });
    expect(up.calls).toHaveLength(3);
  });

  it('when a POST without a key meets a 5xx or a dropped connection, then it is never repeated', async () => {
    up.mode = '500';
    const a = await out.send(call({ method: 'POST', body: '{}' }));
    expect(a.status).toBe(500);
    up.mode = 'drop';
    const e = await failure(out.send(call({ method: 'POST', body: '{}' })));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e?.outbound).toMatchObject({ failure: 'connection', attempts: 1 });
    expect(up.calls.map((c) => c.method)).toEqual(['POST', 'POST']);
  });

  it('when a POST carries an Idempotency-Key, then it is repeated with the same key', async () => {
    up.mode = 'drop';
    up.failFirst = 1;
    const a = await out.send(call({ method: 'POST', body: '{}', idempotencyKey: 'k-1' }));
    expect(a.status).toBe(200);
    expect(up.calls).toEqual([
      { method: 'POST', key: 'k-1' },
      { method: 'POST', key: 'k-1' },
    ]);
  });

  it('when the upstream is slower than the timeout, then a timeout naming host, time and attempts', async () => {
    up.mode = 'slow';
    const e = await failure(out.send(call()));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e?.code).toBe('test_timeout');
    expect(e?.outbound).toMatchObject({
      failure: 'timeout',
      code: 'ETIMEDOUT',
      host: `127.0.0.1:${up.port}`,
      attempts: 3,
    });
    expect(e?.outbound.elapsedMs).toBeGreaterThanOrEqual(3 * 200);
    expect(e?.mayHaveReachedPeer).toBe(true);
    expect(e?.message).toMatch(
      /^test: timeout \(ETIMEDOUT\) from 127\.0\.0\.1:\d+ after \d+ ms, 3 attempts$/,
    );
  });

  it('when nothing listens, then refused: the request never reached the peer', async () => {
    const closed = await new Upstream().start();
    await closed.stop();
    const gone = new Outbound({
      upstream: 'test',
      channel: 'billing',
      baseUrl: `http://127.0.0.1:${closed.port}`,
      timeoutMs: 200,
    });
    const e = await failure(gone.send(call({ method: 'POST' })));
    expect(e?.outbound).toMatchObject({ failure: 'refused', code: 'ECONNREFUSED', attempts: 1 });
    expect(e?.mayHaveReachedPeer).toBe(false);
  });

  it('when the caller cannot read an answer, then unusable() names it garbage or status with the HTTP code', async () => {
    up.mode = 'garbage';
    const a = await out.send(call());
    expect(a.body).toBe('<html>');
    expect(out.unusable(a, 'garbage').outbound).toMatchObject({
      failure: 'garbage',
      code: 'HTTP 200',
      httpStatus: 200,
    });
    up.mode = '500';
    const b = await out.send(call());
    expect(out.unusable(b, 'status')).toMatchObject({ code: 'test_status', transient: true });
  });

  it('when asked its longest call, then every attempt and the longest pauses add up', () => {
    // 3 attempts of 200 ms; pauses at most 10 and 20 ms.
    expect(out.maxCallMs).toBe(630);
  });
});
