import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type Request, type Response } from 'express';

/**
 * A fake external billing (contract: spec/billing.md) on 127.0.0.1, with switches:
 * - `mode`: ok | reset (connection dropped) | 5xx | garbage (unparseable 200) | 404 | 409 |
 *   409-cancelled | 422 | 401; `failNext` limits a failing mode to the next N credit calls.
 * - `slowMs`: answer late (the credit is applied first when `applyBeforeSlow`, as a real billing
 *   that finishes its work after the caller gave up).
 * - `hold`: keep credit calls open until release(): `after-apply` (applied, answer held),
 *   `before-apply` (not applied yet; dropped if the caller is gone by then), `alternate`.
 * - down()/up(): stop listening (connection refused) and come back on the same port.
 * It applies one credit per Idempotency-Key and answers a repeated key with the first answer,
 * counting how many times each key was applied and how many calls for it were open at once.
 * POST /refunds (refund notices, `refund:<id>`) is applied once per key the same way.
 */

export type FakeMode = 'ok' | 'reset' | '5xx' | 'garbage' | '404' | '409' | '409-cancelled' | '422' | '401';
export type HoldMode = 'none' | 'before-apply' | 'after-apply' | 'alternate';

export interface FakeAccount {
  name?: string;
  balance?: string;
  fields?: { name: string; value: string }[];
  order?: { amount: string; status: 'open' | 'paid' | 'cancelled' };
}

export interface SeenRequest {
  method: string;
  path: string;
  key: string | null;
  authorization: string | null;
  body: Record<string, unknown> | null;
}

export interface AppliedCredit {
  billingRef: string;
  body: Record<string, unknown>;
  applied: number;
}

export class FakeBilling {
  mode: FakeMode = 'ok';
  /** With a failing mode: how many credit calls still fail (Infinity = all). */
  failNext = Infinity;
  slowMs = 0;
  applyBeforeSlow = true;
  hold: HoldMode = 'none';
  token: string | null = null;

  readonly accounts = new Map<string, FakeAccount>();
  readonly credits = new Map<string, AppliedCredit>();
  /** Refund notices by Idempotency-Key (`refund:<id>`), each applied once. */
  readonly refunds = new Map<string, AppliedCredit>();
  readonly requests: SeenRequest[] = [];
  /** Keys whose body broke the contract (wrong key, float amount, numeric txnId...). */
  readonly contractViolations: string[] = [];
  readonly maxConcurrentPerKey = new Map<string, number>();

  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly inFlight = new Map<string, number>();
  private held: (() => void)[] = [];
  private holdCount = 0;
  private refSeq = 0;
  private waiters: (() => void)[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  async close(): Promise<void> {
    this.release();
    await this.down();
  }

  /** Stops listening and drops open connections: callers get connection refused. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  async up(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  /** Back to a healthy billing, letting held calls go. */
  heal(): void {
    this.mode = 'ok';
    this.failNext = Infinity;
    this.slowMs = 0;
    this.hold = 'none';
    this.release();
  }

  release(): void {
    const held = this.held.splice(0);
    for (const go of held) go();
  }

  creditCalls(key?: string): SeenRequest[] {
    return this.requests.filter(
      (r) => r.method === 'POST' && r.path === '/api/payments' && (key === undefined || r.key === key),
    );
  }

  appliedCount(key: string): number {
    return this.credits.get(key)?.applied ?? 0;
  }

  /** Resolves once `n` credit calls have arrived in total. */
  async waitForCreditCalls(n: number, timeoutMs = 10_000): Promise<void> {
    const started = Date.now();
    while (this.creditCalls().length < n) {
      if (Date.now() - started > timeoutMs)
        throw new Error(`only ${this.creditCalls().length} of ${n} credit calls arrived`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  private async listen(port: number): Promise<void> {
    const app = express();
    app.use(express.json());
    app.get('/api/accounts/:account', (req, res) => void this.lookup(req, res));
    app.post('/api/payments', (req, res) => void this.credit(req, res));
    app.post('/api/refunds', (req, res) => void this.refund(req, res));
    const server = app.listen(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private see(req: Request): SeenRequest {
    const r: SeenRequest = {
      method: req.method,
      path: req.path,
      key: req.get('idempotency-key') ?? null,
      authorization: req.get('authorization') ?? null,
      body: req.method === 'POST' ? (req.body as Record<string, unknown>) : null,
    };
    this.requests.push(r);
    for (const w of this.waiters.splice(0)) w();
    return r;
  }

  private authorized(req: Request, res: Response): boolean {
    if (this.mode === '401' || (this.token !== null && req.get('authorization') !== `Bearer ${this.token}`)) {
      res.status(401).json({ error: 'unauthorized' });
      return false;
    }
    return true;
  }

  private async lookup(req: Request, res: Response): Promise<void> {
    this.see(req);
    if (this.mode === 'reset') return void req.socket.destroy();
    if (this.slowMs > 0) await sleep(this.slowMs);
    if (!this.authorized(req, res)) return;
    if (this.mode === '5xx') return void res.status(503).send('Service Unavailable');
    if (this.mode === 'garbage')
      return void res.status(200).type('text/html').send('<html>maintenance</html>');
    const account = String(req.params.account);
    const a = this.accounts.get(account);
    if (!a) return void res.status(404).json({ error: 'not found' });
    if (a.order) return void res.json({ account, order: a.order, fields: a.fields });
    res.json({ account, name: a.name, balance: a.balance, fields: a.fields });
  }

  private failing(): boolean {
    if (this.mode === 'ok' || this.failNext <= 0) return false;
    this.failNext -= 1;
    return true;
  }

  private async credit(req: Request, res: Response): Promise<void> {
    const seen = this.see(req);
    const key = seen.key ?? '';
    const open = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, open);
    this.maxConcurrentPerKey.set(key, Math.max(open, this.maxConcurrentPerKey.get(key) ?? 0));
    res.once('close', () => this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1));

    const fail = this.failing();
    if (fail && this.mode === 'reset') return void req.socket.destroy();
    if (!this.authorized(req, res)) return;

    const body = req.body as Record<string, unknown>;
    const violation = contractViolation(key, body);
    if (violation) {
      this.contractViolations.push(`${key}: ${violation}`);
      return void res.status(400).json({ error: violation });
    }

    const holdMode =
      this.hold === 'alternate' ? (this.holdCount++ % 2 === 0 ? 'after-apply' : 'before-apply') : this.hold;
    if (holdMode === 'before-apply') {
      await new Promise<void>((r) => this.held.push(r));
      // The caller went away before we got to it: like a request lost on the way, nothing applied.
      if (req.socket.destroyed) return;
    }
    if (this.slowMs > 0 && !this.applyBeforeSlow) await sleep(this.slowMs);

    if (fail) {
      if (this.mode === '5xx') return void res.status(500).send('Internal Server Error');
      if (this.mode === 'garbage')
        return void res.status(200).type('text/html').send('<html>maintenance</html>');
      if (this.mode === '404') return void res.status(404).json({ error: 'account not found' });
      if (this.mode === '409')
        return void res.status(409).json({ error: 'order already paid', status: 'paid' });
      if (this.mode === '409-cancelled')
        return void res.status(409).json({ error: 'order cancelled', status: 'cancelled' });
      if (this.mode === '422') return void res.status(422).json({ error: 'refused' });
    }

    let credit = this.credits.get(key);
    if (!credit) {
      credit = { billingRef: `B-${++this.refSeq}`, body, applied: 0 };
      this.credits.set(key, credit);
    }
    if (credit.applied === 0) credit.applied = 1;
    else if (JSON.stringify(credit.body) !== JSON.stringify(body))
      this.contractViolations.push(`${key}: body changed on a repeat`);

    if (holdMode === 'after-apply') await new Promise<void>((r) => this.held.push(r));
    if (this.slowMs > 0 && this.applyBeforeSlow) await sleep(this.slowMs);
    if (!res.writableEnded && !res.destroyed) res.status(201).json({ billingRef: credit.billingRef });
  }
  private async refund(req: Request, res: Response): Promise<void> {
    const seen = this.see(req);
    const key = seen.key ?? '';
    if (this.failing()) {
      if (this.mode === 'reset') return void req.socket.destroy();
      return void res.status(503).send('Service Unavailable');
    }
    if (!this.authorized(req, res)) return;
    const body = req.body as Record<string, unknown>;
    if (key !== `refund:${String(body.refundId)}` || typeof body.amountMinor !== 'number') {
      this.contractViolations.push(`${key}: refund notice breaks the contract`);
      return void res.status(400).json({ error: 'bad refund notice' });
    }
    let r = this.refunds.get(key);
    if (!r) {
      r = { billingRef: `R-${++this.refSeq}`, body, applied: 1 };
      this.refunds.set(key, r);
    }
    res.status(201).json({ billingRef: r.billingRef });
  }
}

function contractViolation(key: string, b: Record<string, unknown>): string | null {
  if (!b || typeof b !== 'object') return 'no JSON body';
  if (typeof b.txnId !== 'string' || !/^\d{1,20}$/.test(b.txnId)) return 'txnId must be a string of digits';
  if (key !== `${String(b.source)}:${b.txnId}`) return 'Idempotency-Key must be <source>:<txnId>';
  if (typeof b.amountMinor !== 'number' || !Number.isSafeInteger(b.amountMinor))
    return 'amountMinor must be an integer';
  const minor = b.amountMinor;
  const text = `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
  if (b.amount !== text) return 'amount must be tenge with two decimals, equal to amountMinor';
  if (typeof b.paymentId !== 'string' || !/^\d+$/.test(b.paymentId))
    return 'paymentId must be a string of digits';
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
