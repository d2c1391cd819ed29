import { createHash } from 'node:crypto';

/**
 * The console's only assets, served by the gateway itself from these strings (no CDN, no build step,
 * nothing to copy next to dist/). The names carry a content hash so they can be cached for good.
 */
const CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--line:#d0d7de;--accent:#0b57d0;--bad:#b3261e;--ok:#146c2e;--warn:#7a4b00;--panel:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f9a825;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:2}
header{display:flex;flex-wrap:wrap;align-items:center;gap:12px;padding:8px 16px;border-bottom:1px solid var(--line);background:var(--panel)}
header .brand{font-weight:600;margin-right:auto}
header form{display:inline;margin:0}
nav ul{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0;padding:8px 16px;border-bottom:1px solid var(--line)}
nav a[aria-current=page]{font-weight:700;text-decoration:none;color:var(--fg)}
main{padding:16px;max-width:1400px}
h1{font-size:1.5rem;margin:.2em 0 .6em}h2{font-size:1.2rem;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}
dl.fields dt{font-weight:600}dl.fields dd{margin:0}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;max-width:48ch}
form.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;margin-bottom:12px}
label{display:block;font-weight:600;font-size:.9rem}
input,select,textarea,button{font:inherit}
input,select,textarea{display:block;padding:4px 6px;border:1px solid #6e7781;border-radius:4px;background:#fff;color:var(--fg)}
button{padding:5px 12px;border:1px solid var(--accent);border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
.notice{padding:8px 12px;border-left:4px solid var(--accent);background:#eef4ff;margin:0 0 12px}
.error{padding:8px 12px;border-left:4px solid var(--bad);background:#fdecea;margin:0 0 12px}
.state-credited{color:var(--ok)}.state-failed,.state-declined,.state-fatal{color:var(--bad)}.state-pending{color:var(--warn)}
.signin{max-width:360px;margin:40px auto}
.signin form>div{margin-bottom:12px}.signin input{width:100%}
.row{display:flex;gap:24px;flex-wrap:wrap}.row>section{flex:1 1 320px}
footer{padding:12px 16px;color:var(--muted);font-size:.85rem;border-top:1px solid var(--line)}
.muted{color:var(--muted)}
`;

/**
 * The one script: after a form is sent its buttons are disabled (a double click files one refund,
 * not two; the server's checks hold anyway), and a select marked data-autosubmit sends its form.
 */
const JS = `'use strict';
document.addEventListener('submit', function (e) {
  var f = e.target;
  if (!(f instanceof HTMLFormElement) || f.method.toLowerCase() !== 'post') return;
  setTimeout(function () {
    f.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
  }, 0);
});
document.addEventListener('change', function (e) {
  var s = e.target;
  if (s instanceof HTMLSelectElement && s.hasAttribute('data-autosubmit') && s.form) s.form.requestSubmit();
});
`;

function hashed(name: string, ext: string, body: string) {
  const h = createHash('sha256').update(body).digest('hex').slice(0, 10);
  return { path: `/console/assets/${name}.${h}.${ext}`, body };
}

export const ASSETS = {
  css: hashed('console', 'css', CSS),
  js: hashed('console', 'js', JS),
};
