import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { LosslessNumber, parse, stringify } from 'lossless-json';
import type { TestCerts } from './test-ca.js';

/**
 * A fake Kaspi QR server over real HTTPS on loopback, one scheme per instance. r2/r3 ask for a
 * client certificate of the test CA: a foreign or missing one is refused in the TLS handshake, as
 * Kaspi does (clientAuth 'status' answers -10000 instead). Every request is recorded. Purchases
 * follow scripted status timelines; faults are queued per method. Methods are a table: a colleague
 * adds one with `handle(name, verb, pattern, handler)`.
 */

export type Scheme = 'r1' | 'r2' | 'r3';

export interface Recorded {
  method: string;
  verb: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  json: Record<string, unknown> | null;
  at: number;
  clientCert: string | null;
}

export interface Fault {
  statusCode?: number;
  message?: string;
  http?: number;
  garbage?: string;
  delayMs?: number;
  /** 'before': the connection is cut before the body is read; 'after': once it was read (and acted on). */
  reset?: 'before' | 'after';
  /** The fault applies this many times (default 1). */
  times?: number;
}

export interface TimelineStep {
  afterMs: number;
  status: string;
}

export interface FakePurchase {
  id: string;
  kind: 'qr' | 'link' | 'remote';
  amount: string;
  body: Record<string, unknown>;
  createdAt: number;
  timeline: TimelineStep[];
  /** Set by the test emulation calls or by the test; wins over the timeline. */
  forced: string | null;
}

export interface Behaviour {
  StatusPollingInterval: number;
  QrCodeScanWaitTimeout: number;
  PaymentConfirmationTimeout: number;
}

export interface Answer {
  StatusCode: number;
  Message?: string;
  Data?: unknown;
  message?: string;
}

export type Handler = (req: Recorded, params: string[], fake: FakeKaspiQr) => Answer;

export interface FakeOptions {
  scheme: Scheme;
  certs: TestCerts;
  clientAuth?: 'handshake' | 'status';
  apiKey?: string;
  /** Serve with this certificate instead of the test CA's (a server we must not trust). */
  serverCert?: { cert: string; key: string };
}

let nextId = 9_007_199_254_740_993n; // above 2^53: a lost digit shows

export class FakeKaspiQr {
  readonly requests: Recorded[] = [];
  readonly purchases = new Map<string, FakePurchase>();
  behaviour: Behaviour = {
    StatusPollingInterval: 1,
    QrCodeScanWaitTimeout: 180,
    PaymentConfirmationTimeout: 65,
  };
  expireDate = '2020-08-09T18:31:42+06';
  paymentMethods = ['Gold', 'Red', 'Loan'];
  /** The timeline the next created purchase gets. */
  nextTimeline: TimelineStep[] = [{ afterMs: 0, status: 'QrTokenCreated' }];
  private readonly faults = new Map<string, Fault[]>();
  private readonly routes: { name: string; verb: string; re: RegExp; handler: Handler }[] = [];
  private server!: https.Server;
  port = 0;

  constructor(readonly opts: FakeOptions) {
    this.installMethods();
  }

  get baseUrl(): string {
    return `https://127.0.0.1:${this.port}/${this.opts.scheme}/v01`;
  }

  async start(port = 0): Promise<this> {
    const c = this.opts.certs;
    const mtls = this.opts.scheme !== 'r1';
    this.server = https.createServer(
      {
        cert: fs.readFileSync(this.opts.serverCert?.cert ?? c.serverCert),
        key: fs.readFileSync(this.opts.serverCert?.key ?? c.serverKey),
        ca: fs.readFileSync(c.caFile),
        requestCert: mtls,
        rejectUnauthorized: mtls && (this.opts.clientAuth ?? 'handshake') === 'handshake',
        // Kaspi speaks mutual TLS 1.2.
        maxVersion: 'TLSv1.2',
        minVersion: 'TLSv1.2',
      },
      (req, res) => void this.serve(req, res),
    );
    this.server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server?.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Queues a fault for the next call(s) of a method (the names of src/kaspi-qr/kaspi-qr-methods.ts). */
  fault(method: string, f: Fault): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < (f.times ?? 1); i++) list.push(f);
    this.faults.set(method, list);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  calls(method: string): Recorded[] {
    return this.requests.filter((r) => r.method === method);
  }

  statusOf(id: string): string {
    const p = this.purchases.get(id);
    if (!p) return 'missing';
    if (p.forced) return p.forced;
    const elapsed = Date.now() - p.createdAt;
    let s = 'QrTokenCreated';
    for (const step of p.timeline) if (step.afterMs <= elapsed) s = step.status;
    return s;
  }

  setStatus(id: string, status: string): void {
    const p = this.purchases.get(id);
    if (!p) throw new Error(`no purchase ${id}`);
    p.forced = status;
  }

  /** Adds (or replaces) a method: `pattern` is the path after /rN/v01, `:x` segments are params. */
  handle(name: string, verb: string, pattern: string, handler: Handler): void {
    const re = new RegExp(`^${pattern.replace(/:[a-zA-Z]+/g, '([^/?]+)')}(?:\\?.*)?$`);
    const i = this.routes.findIndex((r) => r.name === name);
    if (i >= 0) this.routes.splice(i, 1);
    this.routes.unshift({ name, verb, re, handler });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const prefix = `/${this.opts.scheme}/v01`;
    const full = req.url ?? '';
    const path = full.startsWith(prefix) ? full.slice(prefix.length) : full;
    const route = this.routes.find((r) => r.verb === req.method && r.re.test(path));
    const method = route?.name ?? 'unknown';
    const fault = this.faults.get(method)?.shift();
    if (fault?.reset === 'before') {
      this.record(req, method, path, '');
      req.socket.destroy();
      return;
    }
    const raw = await new Promise<string>((resolve) => {
      let b = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (b += c));
      req.on('end', () => resolve(b));
    });
    const rec = this.record(req, method, path, raw);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    const send = (status: number, body: string) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body);
    };
    const tlsSocket = req.socket as TLSSocket;
    if (this.opts.scheme !== 'r1' && !tlsSocket.authorized)
      return send(200, JSON.stringify({ StatusCode: -10000, Message: 'client certificate required' }));
    if (this.opts.scheme === 'r1' && req.headers['api-key'] !== this.opts.apiKey)
      return send(200, JSON.stringify({ StatusCode: -10000, Message: 'bad Api-Key' }));
    if (!route) return send(404, 'not found');
    if (fault?.http) return send(fault.http, '<html>upstream error</html>');
    if (fault?.garbage !== undefined) return send(200, fault.garbage);
    if (fault?.statusCode !== undefined && fault.reset !== 'after')
      return send(
        200,
        JSON.stringify({ StatusCode: fault.statusCode, Message: fault.message ?? 'fake error' }),
      );
    const answer = route.handler(rec, (route.re.exec(path) ?? []).slice(1), this);
    if (fault?.reset === 'after') {
      req.socket.destroy();
      return;
    }
    send(200, stringify(answer) as string);
  }

  private record(req: IncomingMessage, method: string, path: string, raw: string): Recorded {
    let json: Record<string, unknown> | null = null;
    try {
      json = raw ? (parse(raw) as Record<string, unknown>) : null;
    } catch {
      json = null;
    }
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    const rec: Recorded = {
      method,
      verb: req.method ?? '',
      path,
      headers: req.headers,
      raw,
      json,
      at: Date.now(),
      clientCert: peer && 'fingerprint256' in peer && peer.fingerprint256 ? peer.fingerprint256 : null,
    };
    this.requests.push(rec);
    return rec;
  }

  private create(kind: 'qr' | 'link', rec: Recorded): Answer {
    const body = rec.json ?? {};
    const amount = body.Amount instanceof LosslessNumber ? body.Amount.value : String(body.Amount);
    const id = String(nextId++);
    this.purchases.set(id, {
      id,
      kind,
      amount,
      body,
      createdAt: Date.now(),
      timeline: this.nextTimeline,
      forced: null,
    });
    const b = this.behaviour;
    if (kind === 'qr')
      return {
        StatusCode: 0,
        Message: 'OK',
        Data: {
          QrToken: `5123690377728016783617816650374${id.slice(-10)}`,
          ExpireDate: this.expireDate,
          QrPaymentId: new LosslessNumber(id),
          PaymentMethods: this.paymentMethods,
          QrPaymentBehaviorOptions: b,
        },
      };
    return {
      StatusCode: 0,
      Message: 'OK',
      Data: {
        PaymentLink: `https://pay.kaspi.kz/pay/${id}`,
        ExpireDate: this.expireDate,
        PaymentId: new LosslessNumber(id),
        PaymentMethods: this.paymentMethods,
        PaymentBehaviorOptions: {
          StatusPollingInterval: b.StatusPollingInterval,
          LinkActivationWaitTimeout: b.QrCodeScanWaitTimeout,
          PaymentConfirmationTimeout: b.PaymentConfirmationTimeout,
        },
      },
    };
  }

  private installMethods(): void {
    const ok = (Data?: unknown): Answer =>
      Data === undefined ? { StatusCode: 0, Message: 'OK' } : { StatusCode: 0, Message: 'OK', Data };
    const tp = () => ok([{ TradePointId: new LosslessNumber('12'), TradePointName: 'Shop on Abay' }]);
    this.handle('healthPing', 'GET', '/health/ping', () => ok());
    this.handle('tradePoints', 'GET', '/partner/tradepoints(?:/:bin)?', tp);
    this.handle('deviceRegister', 'POST', '/device/register', (r) =>
      ok({
        DeviceToken: `2be4cc91-5895-48f8-8bc2-${String(r.json?.DeviceId ?? '')
          .padStart(12, '0')
          .slice(-12)}`,
      }),
    );
    this.handle('deviceDelete', 'POST', '/device/delete', () => ({ StatusCode: 0 }));
    this.handle('qrCreate', 'POST', '/qr/create', (r) => this.create('qr', r));
    this.handle('linkCreate', 'POST', '/qr/create-link', (r) => this.create('link', r));
    this.handle('paymentStatus', 'GET', '/payment/status/:id', (_r, [id]) => {
      const s = this.statusOf(id as string);
      return s === 'missing' ? { StatusCode: -1601, Message: 'Purchase not found' } : ok({ Status: s });
    });
    const emulate = (to: string) => (r: Recorded) => {
      const id = String(r.json?.qrPaymentId ?? '');
      if (!this.purchases.has(id)) return { StatusCode: -1601, message: 'not found' };
      this.setStatus(id, to);
      return { StatusCode: 0, message: 'OK' };
    };
    this.handle('testScan', 'POST', '/test/payment/scan', emulate('Wait'));
    this.handle('testConfirm', 'POST', '/test/payment/confirm', emulate('Processed'));
    this.handle('testScanError', 'POST', '/test/payment/scanerror', emulate('Error'));
    this.handle('testConfirmError', 'POST', '/test/payment/confirmerror', emulate('Error'));
  }
}

export async function startFakeKaspiQr(opts: FakeOptions): Promise<FakeKaspiQr> {
  return new FakeKaspiQr(opts).start();
}
