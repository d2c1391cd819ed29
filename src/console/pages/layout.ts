import { ASSETS } from '../assets.js';
import { formatAmount, formatTime, type Lang } from '../format.js';
import { html, query, type HtmlValue, type SafeHtml } from '../html.js';
import type { MsgKey, T } from '../i18n.js';
import type { Session } from '../session-store.js';
import { roleAtLeast, type Role } from '../user-store.js';

/**
 * What every console page shares: the context it is rendered with, the frame (header, navigation,
 * language switch, sign-out), and the small pieces (tables with header cells, selects, notices).
 */

export interface Ctx {
  t: T;
  lang: Lang;
  /** KASPI_TXN_DATE_OFFSET: times are shown in Kazakhstan time. */
  offset: string;
  session: Session | null;
  /** The path asked for (the current navigation link). */
  path: string;
  /** Payments and refunds are refunded through Kaspi's Refund API; off without it. */
  refundsEnabled: boolean;
}

export const money = (c: Ctx, tiyn: number | string) => formatAmount(tiyn, c.lang);
export const time = (c: Ctx, utc: string | null | undefined) => formatTime(utc, c.offset, c.lang);

const NAV: { key: MsgKey; href: string; role: Role }[] = [
  { key: 'overview', href: '/console', role: 'viewer' },
  { key: 'payments', href: '/console/payments', role: 'viewer' },
  { key: 'refunds', href: '/console/refunds', role: 'viewer' },
  { key: 'attention', href: '/console/attention', role: 'viewer' },
  { key: 'reconciliation', href: '/console/reconciliation', role: 'viewer' },
  { key: 'kaspiQr', href: '/console/qr', role: 'viewer' },
  { key: 'accounts', href: '/console/accounts', role: 'viewer' },
  { key: 'auditLog', href: '/console/audit', role: 'admin' },
  { key: 'users', href: '/console/users', role: 'admin' },
];

function current(c: Ctx, href: string): boolean {
  return href === '/console' ? c.path === '/console' || c.path === '/console/' : c.path.startsWith(href);
}

export function csrfField(c: Ctx): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${c.session?.csrfToken ?? ''}" />`;
}

function langSwitch(c: Ctx): SafeHtml {
  const other: Lang = c.lang === 'ru' ? 'en' : 'ru';
  if (!c.session) {
    return html`<a href="${`${c.path}${query({ lang: other })}`}" lang="${other}"
      >${c.t('switchLanguage')}</a
    >`;
  }
  return html`<form method="post" action="/console/lang">
    ${csrfField(c)}<input type="hidden" name="lang" value="${other}" />
    <input type="hidden" name="back" value="${c.path}" />
    <button type="submit" class="secondary" lang="${other}">${c.t('switchLanguage')}</button>
  </form>`;
}

/** A definition-list row of a page's fields. */
export function field(c: Ctx, k: MsgKey, v: HtmlValue): SafeHtml {
  return html`<dt>${c.t(k)}</dt>
    <dd>${v ?? ''}</dd>`;
}

export function layout(c: Ctx, title: string, body: SafeHtml, status?: SafeHtml): SafeHtml {
  const s = c.session;
  return html`<!doctype html>
    <html lang="${c.lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ${c.t('appName')}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="${ASSETS.css.path}" />
        <script src="${ASSETS.js.path}" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">${c.t('skipToContent')}</a>
        <header>
          <span class="brand">${c.t('appName')}</span>
          ${langSwitch(c)}
          ${
            s
              ? html`<span>${c.t('signedInAs')} <strong>${s.login}</strong> (${c.t(`role_${s.role}`)})</span>
                  <form method="post" action="/console/sign-out">
                    ${csrfField(c)}<button type="submit" class="secondary">${c.t('signOut')}</button>
                  </form>`
              : ''
          }
        </header>
        ${
          s
            ? html`<nav aria-label="${c.t('nav')}">
                <ul>
                  ${NAV.filter((n) => roleAtLeast(s.role, n.role)).map(
                    (n) =>
                      html`<li>
                        <a href="${n.href}" ${current(c, n.href) ? html` aria-current="page"` : ''}
                          >${c.t(n.key)}</a
                        >
                      </li>`,
                  )}
                </ul>
              </nav>`
            : ''
        }
        <main id="main">${status ?? ''} ${body}</main>
        <footer>${c.t('times')} (UTC${c.offset.replace(':00', '')}).</footer>
      </body>
    </html>`;
}

export function notice(text: HtmlValue, kind: 'notice' | 'error' = 'notice'): SafeHtml {
  return html`<p class="${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

export function table(
  caption: string | null,
  head: HtmlValue[],
  rows: HtmlValue[][],
  empty: string,
): SafeHtml {
  if (rows.length === 0)
    return html`${caption ? html`<h2>${caption}</h2>` : ''}
      <p>${empty}</p>`;
  return html`<table>
    ${
      caption
        ? html`<caption class="muted">
            ${caption}
          </caption>`
        : ''
    }
    <thead>
      <tr>
        ${head.map((h) => html`<th scope="col">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((d) => html`<td>${d}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function stateText(state: string): SafeHtml {
  return html`<span class="${`state-${state}`}">${state}</span>`;
}

export function select(
  id: string,
  label: string,
  anyText: string,
  options: readonly string[],
  value?: string,
): SafeHtml {
  return html`<div>
    <label for="${id}">${label}</label
    ><select id="${id}" name="${id}">
      <option value="">${anyText}</option>
      ${options.map((o) => html`<option value="${o}" ${o === value ? html` selected` : ''}>${o}</option>`)}
    </select>
  </div>`;
}
