import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { isLosslessNumber, parse } from 'lossless-json';

/**
 * A fake of Kaspi's Refund API (returnApi), as its annex describes it:
 * - Auth/GetToken issues a token and kills the previous one (one active token per login);
 *   Auth/CheckToken answers 200 for the active token, 401 otherwise.
 * - Refund calls need the active token in the `token` header, else 401.
 * - RefundRequest: a known RefundIdentificator answers error 4 with its requestIdentificator;
 *   a new one follows the script set for its PaymentId: the first step answers the request,
 *   the next ones answer successive RefundStatus calls (the last one repeats).
 * - RefundStatus of an unknown requestIdentificator: statusCode 5, error 6 (as in the annex).
 * Switches: inject 401/403/500/garbage/dropped answers, slow answers, token expiry.
 */

export interface Step {
  status: number;
  error?: { code: number; message?: string };
  /** Leave requestIdentificator out of the answer. */
  noRid?: boolean;
  /** Apply the call, then close the connection without answering. */
  drop?: boolean;
}

export type Injection = 401 | 403 | 500 | 'garbage' | 'drop' | 'html';

export interface ReceivedRefund {
  rawBody: string;
  paymentId: string;
  returnAmount: string;
  refundIdentificator: string;
  reason: string;
  token: string | undefined;
}

interface FiledRefund {
  rid: string;
  identificator: string;
  paymentId: string;
  steps: Step[];
  statusCalls: number;
}

const MESSAGES: Record<number, string> = {
  [-1]: 'Общая ошибка обработки',
  [-2]: 'Фатальная ошибка обработки',
  1: 'Оригинальная транзакция не найдена',
  2: 'Сумма отмены превышает сумму оригинальной операции',
  3: 'Отмена невозможна. Статус операции не является отменяемым',
  4: 'Заявка уже существует. Проверьте статус',
  5: 'Создать заявку невозможно, по платежу есть активная или ошибочная заявка',
  6: 'Заявка на отмену не найдена',
};

export class FakeRefundApi {
  readonly login = 'partner-login';
  readonly password = 'partner-password-123';
  tokenTtlMs = 3_600_000;
  /** Delay before GetToken answers: widens the window in which concurrent callers meet. */
  getTokenDelayMs = 0;
  /** Delay before refund calls answer. */
  refundDelayMs = 0;
  readonly calls = { GetToken: 0, CheckToken: 0, RefundRequest: 0, RefundStatus: 0 };
  readonly received: ReceivedRefund[] = [];
  readonly statusAsked: string[] = [];
  unauthorized = 0;
  /** Every token ever issued, in order. */
  readonly issued: string[] = [];
  private active: { token: string; validTo: number } | null = null;
  private readonly scripts = new Map<string, Step[]>();
  private readonly byIdentificator = new Map<string, FiledRefund>();
  private readonly byRid = new Map<string, FiledRefund>();
  private injections: Injection[] = [];
  private server?: http.Server;
  url = '';

  /** PaymentId → steps. Without a script a refund is accepted (0), then succeeds (2). */
  script(paymentId: string, steps: Step[]): void {
    this.scripts.set(paymentId, steps);
  }

  /** The next refund calls (in order) fail this way before anything else is looked at. */
  inject(...what: Injection[]): void {
    this.injections.push(...what);
  }

  /** Kaspi drops the active token (expiry on its side). */
  expireActiveToken(): void {
    this.active = null;
  }

  get activeToken(): string | null {
    return this.active?.token ?? null;
  }

  filed(refundIdentificator: string): FiledRefund | undefined {
    return this.byIdentificator.get(refundIdentificator);
  }

  async start(): Promise<string> {
    const app = express();
    app.use(express.text({ type: () => true, limit: '64kb' }));

    app.post('/returnApi/Auth/GetToken', async (req: Request, res: Response) => {
      this.calls.GetToken += 1;
      if (this.getTokenDelayMs) await sleep(this.getTokenDelayMs);
      const body = safeParse(String(req.body ?? '')) as Record<string, unknown> | null;
      if (!body || body.Login !== this.login || body.Password !== this.password) {
        res.status(401).json({ message: 'Авторизация неуспешна' });
        return;
      }
      const token = randomUUID();
      const validTo = Date.now() + this.tokenTtlMs;
      this.active = { token, validTo };
      this.issued.push(token);
      res.json({ token, validTo: almatyTime(validTo) });
    });

    app.post('/returnApi/Auth/CheckToken', (req: Request, res: Response) => {
      this.calls.CheckToken += 1;
      if (!this.isActive(req.get('token'))) {
        res.status(401).json({ message: 'Авторизация неуспешна' });
        return;
      }
      const a = this.active as { token: string; validTo: number };
      res.json({ token: a.token, validTo: almatyTime(a.validTo) });
    });

    app.post('/returnApi/Refund/RefundRequest', async (req: Request, res: Response) => {
      this.calls.RefundRequest += 1;
      if (await this.gate(req, res)) return;
      const raw = String(req.body ?? '');
      const body = safeParse(raw) as Record<string, unknown> | null;
      const paymentId = body?.PaymentId;
      const returnAmount = body?.ReturnAmount;
      const ident = body?.RefundIdentificator;
      const reason = body?.Reason;
      // The annex's model: long, long, string 1..100, string 1..500, all required.
      if (
        !isLosslessNumber(paymentId) ||
        !/^\d+$/.test(paymentId.value) ||
        !isLosslessNumber(returnAmount) ||
        !/^\d+$/.test(returnAmount.value) ||
        typeof ident !== 'string' ||
        ident.length < 1 ||
        ident.length > 100 ||
        typeof reason !== 'string' ||
        reason.length < 1 ||
        reason.length > 500
      ) {
        res.status(400).json({ errors: { request: ['The request is invalid.'] } });
        return;
      }
      this.received.push({
        rawBody: raw,
        paymentId: paymentId.value,
        returnAmount: returnAmount.value,
        refundIdentificator: ident,
        reason,
        token: req.get('token'),
      });
      const existing = this.byIdentificator.get(ident);
      if (existing) {
        res.json({
          statusCode: 1,
          error: { code: 4, errorMessage: MESSAGES[4] },
          requestIdentificator: existing.rid,
        });
        return;
      }
      const steps = this.scripts.get(paymentId.value) ?? [{ status: 0 }, { status: 2 }];
      const first = steps[0] as Step;
      const filed: FiledRefund = {
        rid: randomUUID(),
        identificator: ident,
        paymentId: paymentId.value,
        steps,
        statusCalls: 0,
      };
      // A refused request is not filed: a repeat is refused again rather than "already exists".
      if (!first.error) {
        this.byIdentificator.set(ident, filed);
        this.byRid.set(filed.rid, filed);
      }
      this.answer(req, res, first, first.error || first.noRid ? null : filed.rid);
    });

    app.post('/returnApi/Refund/RefundStatus', async (req: Request, res: Response) => {
      this.calls.RefundStatus += 1;
      if (await this.gate(req, res)) return;
      const body = safeParse(String(req.body ?? '')) as Record<string, unknown> | null;
      const rid = body?.RequestIdentificator;
      if (typeof rid !== 'string' || rid.length === 0) {
        res.status(400).json({ errors: { RequestIdentificator: ['RequestIdentificator required'] } });
        return;
      }
      this.statusAsked.push(rid);
      const filed = this.byRid.get(rid);
      if (!filed) {
        res.json({ statusCode: 5, error: { code: 6, errorMessage: MESSAGES[6] } });
        return;
      }
      filed.statusCalls += 1;
      const step = filed.steps[Math.min(filed.statusCalls, filed.steps.length - 1)] as Step;
      this.answer(req, res, step, null);
    });

    this.server = http.createServer(app);
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/returnApi`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private isActive(token: string | undefined): boolean {
    return !!token && !!this.active && this.active.token === token && this.active.validTo > Date.now();
  }

  /** Injections first, then the token: true when the call was answered here. */
  private async gate(req: Request, res: Response): Promise<boolean> {
    if (this.refundDelayMs) await sleep(this.refundDelayMs);
    const inj = this.injections.shift();
    if (inj === 401 || inj === 403) {
      this.unauthorized += 1;
      res.status(inj).json({ message: 'Авторизация неуспешна' });
      return true;
    }
    if (inj === 500) {
      res.status(500).json({ message: 'Internal Server Error' });
      return true;
    }
    if (inj === 'garbage') {
      res.status(200).type('application/json').send('{"statusCode": ');
      return true;
    }
    if (inj === 'html') {
      res.status(502).type('text/html').send('<html><body>Bad Gateway</body></html>');
      return true;
    }
    if (!this.isActive(req.get('token'))) {
      this.unauthorized += 1;
      res.status(401).json({ message: 'Авторизация неуспешна' });
      return true;
    }
    if (inj === 'drop') {
      // The call goes on being applied by the handler; only its answer is lost.
      (res as Response & { dropAnswer?: boolean }).dropAnswer = true;
    }
    return false;
  }

  private answer(_req: Request, res: Response, step: Step, rid: string | null): void {
    const out: Record<string, unknown> = { statusCode: step.status };
    if (step.error)
      out.error = {
        code: step.error.code,
        errorMessage: step.error.message ?? MESSAGES[step.error.code] ?? 'error',
      };
    if (rid !== null) out.requestIdentificator = rid;
    if (step.drop || (res as Response & { dropAnswer?: boolean }).dropAnswer) {
      res.socket?.destroy();
      return;
    }
    res.json(out);
  }
}

function safeParse(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** validTo as Kaspi writes it: Almaty time, microseconds, offset. */
function almatyTime(ms: number): string {
  const local = new Date(ms + 5 * 3600_000).toISOString().replace('Z', '');
  return `${local}529+05:00`;
}
