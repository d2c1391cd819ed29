import { Router, type Request, type Response } from 'express';
import { formatTenge } from '../shared/money.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import type { PurchaseWithPayment, QrState } from './kaspi-qr-store.js';
import { displayDeadline, qrSvg } from './kaspi-qr-view.js';
import type { RemoteInvoices } from './remote-invoice.js';

/**
 * The payer's page on the public listener (shared/spec/kaspi-qr.md "Public listener"):
 * GET /pay/:token (a random 128-bit token, never the payment number), GET /pay/:token/status
 * (JSON {state, deadline}), and its own script and stylesheet under /pay/assets/ (no outside
 * asset, CSP without 'unsafe-inline'). The page holds every screen (waiting, scanned, paid, failed,
 * expired); the body's data-state picks the one shown, so the script only changes that attribute
 * and the countdown: the state flips without a reload. Without JavaScript a refresh every polling
 * interval (meta refresh in <noscript>) shows the current state.
 *
 * A remote invoice (r3) is never asked of Kaspi on a timer (the guide forbids it): its page reads
 * only our stored state by itself, has no meta refresh, and offers a "check payment" button
 * (POST /pay/:token/check, a form, so it works without JavaScript too) that is the payer's event:
 * RemoteInvoices.refresh, at most one Kaspi call per invoice per 30 s whoever asks.
 */

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

type Lang = 'ru' | 'en';

const TEXT: Record<Lang, Record<string, string>> = {
  ru: {
    title: 'Оплата через Kaspi',
    amount: 'Сумма',
    scan: 'Отсканируйте QR-код в приложении Kaspi.kz',
    open: 'Откройте ссылку на телефоне с приложением Kaspi.kz',
    button: 'Оплатить в Kaspi',
    scanned: 'QR-код отсканирован: подтвердите оплату в приложении Kaspi.kz',
    paid: 'Оплачено. Спасибо!',
    failed: 'Оплата не прошла. Попробуйте ещё раз.',
    expired: 'Время на оплату истекло. Создайте новый платёж.',
    cancelled: 'Счёт отменён.',
    unknown: 'Проверяем статус оплаты…',
    left: 'Осталось',
    methods: 'Способы оплаты',
    notFound: 'Страница оплаты не найдена',
    remote: 'Счёт отправлен в приложение Kaspi.kz: оплатите его там, затем нажмите «Проверить оплату»',
    check: 'Проверить оплату',
  },
  en: {
    title: 'Pay with Kaspi',
    amount: 'Amount',
    scan: 'Scan the QR code in the Kaspi.kz app',
    open: 'Open the link on a phone with the Kaspi.kz app',
    button: 'Pay in Kaspi',
    scanned: 'QR code scanned: confirm the payment in the Kaspi.kz app',
    paid: 'Paid. Thank you!',
    failed: 'The payment did not go through. Please try again.',
    expired: 'The time to pay has run out. Please start a new payment.',
    cancelled: 'The invoice was cancelled.',
    unknown: 'Checking the payment status…',
    left: 'Time left',
    methods: 'Payment methods',
    notFound: 'Payment page not found',
    remote: 'The invoice was sent to the Kaspi.kz app: pay it there, then press "Check payment"',
    check: 'Check payment',
  },
};

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function langOf(req: Request): Lang {
  const q = req.query.lang;
  if (q === 'en' || q === 'ru') return q;
  return /^en\b/i.test(req.get('accept-language') ?? '') ? 'en' : 'ru';
}

function headers(res: Response): void {
  res.set({
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
  });
}

/** What the payer sees of our state. */
function pageState(p: PurchaseWithPayment): QrState {
  return p.state;
}

const OPEN: readonly QrState[] = ['pending', 'scanned', 'unknown'];

/** m:ss, or h:mm:ss for a remote invoice's 24 h. */
function countdown(deadline: Date, now: Date): string {
  const s = Math.max(0, Math.floor((deadline.getTime() - now.getTime()) / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  return `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/** 150050 → "1 500,50 ₸" (ru) / "1,500.50 ₸" (en), from the integer. */
function money(tiyn: number, lang: Lang): string {
  const [whole, frac] = formatTenge(tiyn).split('.') as [string, string];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, lang === 'ru' ? '\u00a0' : ',');
  return `${grouped}${lang === 'ru' ? ',' : '.'}${frac} ₸`;
}

async function page(
  p: PurchaseWithPayment,
  service: KaspiQrService,
  lang: Lang,
  token: string,
): Promise<string> {
  const t = TEXT[lang];
  const state = pageState(p);
  const deadline = displayDeadline(p);
  const open = OPEN.includes(state);
  const interval = Math.max(1, p.pollIntervalS);
  const remote = p.kind === 'remote';
  const how = remote
    ? `<p class="hint">${esc(t.remote as string)}</p><form method="post" action="/pay/${token}/check"><button class="button" id="check" type="submit">${esc(t.check as string)}</button></form>`
    : p.kind === 'qr' && p.qrToken
      ? `<p class="hint">${esc(t.scan as string)}</p><div class="qr" id="qr" role="img" aria-label="QR">${await qrSvg(p.qrToken)}</div>`
      : p.paymentLink
        ? `<p class="hint">${esc(t.open as string)}</p><p><a class="button" href="${esc(p.paymentLink)}" rel="noopener noreferrer">${esc(t.button as string)}</a></p>`
        : '';
  const methods = p.paymentMethods.length
    ? `<p class="methods">${esc(t.methods as string)}: ${p.paymentMethods.map(esc).join(', ')}</p>`
    : '';
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(t.title as string)}</title>
<link rel="stylesheet" href="/pay/assets/pay.css">
${open && !remote ? `<noscript><meta http-equiv="refresh" content="${interval}"></noscript>` : ''}
<script src="/pay/assets/pay.js" defer></script>
</head>
<body data-state="${state}" data-status-url="/pay/${token}/status" data-interval="${interval}"${remote ? ` data-check-url="/pay/${token}/check"` : ''}>
<main>
<h1>${esc(service.settings.merchantName)}</h1>
<p class="amount">${esc(t.amount as string)}: <strong id="amount">${esc(money(p.amount, lang))}</strong></p>
<section class="screen pending">
${how}
${methods}
<p class="countdown">${esc(t.left as string)}: <span id="countdown" data-deadline="${deadline.toISOString()}">${countdown(deadline, new Date())}</span></p>
</section>
<section class="screen scanned"><p>${esc(t.scanned as string)}</p></section>
<section class="screen unknown"><p>${esc(t.unknown as string)}</p></section>
<section class="screen paid"><p class="final ok" id="paid">${esc(t.paid as string)}</p></section>
<section class="screen failed"><p class="final bad">${esc(t.failed as string)}</p></section>
<section class="screen expired"><p class="final bad">${esc(t.expired as string)}</p></section>
<section class="screen cancelled"><p class="final bad">${esc(t.cancelled as string)}</p></section>
<p class="state" id="state" aria-live="polite">${state}</p>
</main>
</body>
</html>
`;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:.75rem;text-align:center}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
.amount{font-size:1.2rem}
.qr svg{width:18rem;height:18rem;max-width:100%}
.button{display:inline-block;border:0;font-size:1rem;cursor:pointer;background:#f14635;color:#fff;padding:.8rem 1.4rem;border-radius:.5rem;text-decoration:none;font-weight:600}
.screen{display:none}
.final{font-size:1.3rem;font-weight:600}
.ok{color:#167c2e}.bad{color:#b3261e}
.state{display:none}
body[data-state="pending"] .pending,body[data-state="scanned"] .scanned,body[data-state="unknown"] .unknown,
body[data-state="paid"] .paid,body[data-state="failed"] .failed,body[data-state="expired"] .expired,
body[data-state="cancelled"] .cancelled{display:block}
body[data-state="scanned"] .pending,body[data-state="unknown"] .pending{display:block}
body[data-state="scanned"] .qr,body[data-state="scanned"] .hint{display:none}
.button[disabled]{opacity:.6}
`;

// Plain script, no inline code: the stored state every polling interval (never a Kaspi call), the
// countdown every second; a remote invoice's button asks for a check without leaving the page.
const JS = `(function () {
  var body = document.body;
  var url = body.getAttribute('data-status-url');
  var checkUrl = body.getAttribute('data-check-url');
  var check = document.getElementById('check');
  var interval = Math.max(1, Number(body.getAttribute('data-interval')) || 5) * 1000;
  var cd = document.getElementById('countdown');
  var finals = ['paid', 'failed', 'expired', 'cancelled'];
  function left() {
    if (!cd) return;
    var ms = Math.max(0, new Date(cd.getAttribute('data-deadline')).getTime() - Date.now());
    var s = Math.floor(ms / 1000);
    var two = function (n) { return String(n).padStart(2, '0'); };
    cd.textContent = s >= 3600
      ? Math.floor(s / 3600) + ':' + two(Math.floor(s / 60) % 60) + ':' + two(s % 60)
      : Math.floor(s / 60) + ':' + two(s % 60);
  }
  function show(state, deadline) {
    body.setAttribute('data-state', state);
    var el = document.getElementById('state');
    if (el) el.textContent = state;
    if (cd && deadline) cd.setAttribute('data-deadline', deadline);
  }
  function poll() {
    if (finals.indexOf(body.getAttribute('data-state')) >= 0) return;
    fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s && s.state) show(s.state, s.deadline); })
      .catch(function () {})
      .then(function () { setTimeout(poll, interval); });
  }
  if (check && checkUrl) {
    check.addEventListener('click', function (ev) {
      ev.preventDefault();
      check.disabled = true;
      fetch(checkUrl, { method: 'POST', cache: 'no-store', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { if (s && s.state) show(s.state, s.deadline); })
        .catch(function () {})
        .then(function () { check.disabled = false; });
    });
  }
  setInterval(left, 1000);
  setTimeout(poll, interval);
})();
`;

export function payPageRoutes(deps: { service: KaspiQrService; remote?: RemoteInvoices | null }): Router {
  const { service, remote } = deps;
  const router = Router();
  const notFound = (req: Request, res: Response) => {
    headers(res);
    const t = TEXT[langOf(req)];
    res
      .status(404)
      .type('html')
      .send(
        `<!doctype html><html><head><meta charset="utf-8"><title>${esc(t.notFound as string)}</title><link rel="stylesheet" href="/pay/assets/pay.css"></head><body><main><h1>${esc(t.notFound as string)}</h1></main></body></html>`,
      );
  };

  router.get('/pay/assets/pay.js', (_req, res) => {
    headers(res);
    res.set('Cache-Control', 'public, max-age=300').type('application/javascript').send(JS);
  });
  router.get('/pay/assets/pay.css', (_req, res) => {
    headers(res);
    res.set('Cache-Control', 'public, max-age=300').type('text/css').send(CSS);
  });
  router.get('/pay/:token/status', async (req: Request, res: Response) => {
    const p = await service.byPayToken(String(req.params.token));
    headers(res);
    if (!p) return void res.status(404).json({ error: 'not_found' });
    res.json({ state: pageState(p), deadline: displayDeadline(p).toISOString() });
  });
  // The payer's "check payment" of a remote invoice: an event, under the 30 s limit of every refresh.
  router.post('/pay/:token/check', async (req: Request, res: Response) => {
    const token = String(req.params.token);
    let p = await service.byPayToken(token);
    headers(res);
    if (!p) return void res.status(404).json({ error: 'not_found' });
    if (p.kind === 'remote' && remote) p = await remote.refresh(p.paymentId);
    if (req.accepts(['html', 'json']) === 'json')
      return void res.json({ state: pageState(p), deadline: displayDeadline(p).toISOString() });
    res.redirect(303, `/pay/${token}`);
  });
  router.get('/pay/:token', async (req: Request, res: Response) => {
    const token = String(req.params.token);
    const p = await service.byPayToken(token);
    if (!p) return notFound(req, res);
    headers(res);
    res
      .status(200)
      .type('html')
      .send(await page(p, service, langOf(req), token));
  });
  return router;
}
