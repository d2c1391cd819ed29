import { html, type SafeHtml } from '../html.js';
import { layout, notice, type Ctx } from './layout.js';

export function signInPage(c: Ctx, opts: { error?: string; login?: string; next?: string }): SafeHtml {
  return layout(
    c,
    c.t('signIn'),
    html`<div class="signin">
      <h1>${c.t('signInTitle')}</h1>
      ${opts.error ? notice(opts.error, 'error') : ''}
      <form method="post" action="/console/sign-in">
        <input type="hidden" name="next" value="${opts.next ?? ''}" />
        <div>
          <label for="login">${c.t('login')}</label>
          <input
            id="login"
            name="login"
            autocomplete="username"
            required
            maxlength="64"
            value="${opts.login ?? ''}"
            autofocus
          />
        </div>
        <div>
          <label for="password">${c.t('password')}</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            maxlength="1024"
          />
        </div>
        <button type="submit">${c.t('signIn')}</button>
      </form>
    </div>`,
  );
}

export function errorPage(c: Ctx, title: string, message: string): SafeHtml {
  return layout(
    c,
    title,
    html`<h1>${title}</h1>
      ${notice(message, 'error')}
      <p><a href="/console">${c.t('overview')}</a></p>`,
  );
}
