import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { dbKinds } from '../support/databases.js';
import { launchBrowser, screenshot, seriousAxeViolations, type TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';
import { captureLogs } from '../support/log-capture.js';

const PASSWORDS = {
  admin: 'admin-password-0001',
  operator: 'operator-password-01',
  viewer: 'viewer-pass-00001',
};

describe.each(dbKinds)('[%s] the console Reconciliation page in a real browser', (kind) => {
  let t: TestGateway;
  let browser: TestBrowser;
  let base: string;
  let dir: string;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    logs = captureLogs('warn');
    t = await startTestGateway(kind, { CONSOLE_LANG: 'en' });
    const { adminPort } = await t.gateway.start({ jobs: false });
    base = `http://127.0.0.1:${adminPort}`;
    const cli = { id: 'cli:test', ip: null };
    for (const login of ['admin', 'operator', 'viewer'] as const)
      await t.gateway.services.users.add({ login, role: login, password: PASSWORDS[login] }, cli);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-console-registry-'));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(page: Page, login: keyof typeof PASSWORDS) {
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill(PASSWORDS[login]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/console`);
  }

  const nav = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name });

  async function newPage(): Promise<Page> {
    await browser.context.clearCookies();
    return browser.context.newPage();
  }

  async function account(): Promise<string> {
    const a = `REC${Date.now()}${Math.floor(Math.random() * 1e4)}`;
    await t.gateway.stores.accounts.addAccount({ account: a, name: 'Registry Payer', balance: 0 });
    return a;
  }

  it('when an operator uploads a CSV registry, sees its items and credits a payment we never received, then the money is credited once and the admin finds the upload and the resolution in the audit log', async () => {
    const paidAccount = await account();
    const paidTxn = newTxnId();
    expect((await pay(t.api(), paidTxn, paidAccount, '1500.00')).xml.result).toBe('0');
    const missingAccount = await account();
    const missingTxn = newTxnId();
    const file = path.join(dir, 'reestr-2026-11-23.csv');
    fs.writeFileSync(
      file,
      csvOf([
        RU_HEADER,
        [paidTxn, '1 500,00', '23.11.2026 14:15:00', paidAccount, 'Платёж'],
        [missingTxn, '250,00', '23.11.2026 10:00:00', missingAccount, 'Платёж'],
      ]),
    );

    const page = await newPage();
    await signIn(page, 'operator');
    await nav(page, 'Reconciliation').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Reconciliation' }).isVisible()).resolves.toBe(
      true,
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('Registry file (xlsx or csv)').setInputFiles(file);
    await page.getByLabel('Period from (optional)').fill('2026-11-23');
    await page.getByLabel('Period to').fill('2026-11-23');
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(/\/console\/reconciliation\/runs\/\d+\?uploaded=1$/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('Registry imported');
    const row = page.getByRole('row', { name: new RegExp(`MISSING_OURS.*${missingTxn}`) });
    await expect(row.textContent()).resolves.toContain('no request at all');
    await expect(
      page
        .getByRole('row', { name: /MATCHED/ })
        .first()
        .textContent(),
    ).resolves.toContain('1500.00');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, `${kind}-reconciliation-run`);

    // The same file again is the same run, not a second import.
    await nav(page, 'Reconciliation').click();
    await page.getByLabel('Registry file (xlsx or csv)').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(/duplicate=1$/);
    expect(Number((await t.gateway.db.knex('reconciliation_runs').count({ n: '*' }).first())?.n)).toBe(1);

    await page
      .getByRole('row', { name: new RegExp(`MISSING_OURS.*${missingTxn}`) })
      .getByRole('link')
      .click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain('MISSING_OURS');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, `${kind}-reconciliation-item`);
    await page.getByLabel('Action').selectOption('credit');
    await page.getByLabel('Note').fill('listed by Kaspi, never reached us');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(
      'Item resolved; its state: resolved',
    );
    expect((await t.gateway.stores.accounts.getAccount(missingAccount))?.balance).toBe(25000);
    // Resolving again (a reload of the POST) credits nothing more.
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const itemUrl = page.url().replace(/\/resolve$/, '');
    const again = await page.request.post(`${itemUrl}/resolve`, { form: { _csrf: csrf, action: 'credit' } });
    expect(again.status()).toBe(200);
    expect((await t.gateway.stores.accounts.getAccount(missingAccount))?.balance).toBe(25000);
    await page.getByRole('button', { name: 'Sign out' }).click();

    await signIn(page, 'admin');
    await nav(page, 'Audit log').click();
    await page.getByLabel('Action').selectOption('item.resolved');
    await page.getByRole('button', { name: 'Apply' }).click();
    const resolved = page.getByRole('row', { name: /item\.resolved/ });
    await expect(resolved.count()).resolves.toBe(1);
    await expect(resolved.textContent()).resolves.toContain('console:operator');
    await expect(resolved.textContent()).resolves.toContain(missingTxn);
    await page.getByLabel('Action').selectOption('registry.uploaded');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect(page.getByRole('row', { name: /registry\.uploaded/ }).textContent()).resolves.toContain(
      'console:operator',
    );
    // The import's ERROR is the service's own (an item needs a person); nothing else was logged.
    expect(logs.lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      'error registry reconciled: items need a person',
    ]);
    await page.close();
  });

  it('when an operator uploads a file whose headers the profile cannot map, then the page names the headers seen and the fields missing', async () => {
    const file = path.join(dir, 'wrong-headers.csv');
    fs.writeFileSync(
      file,
      csvOf([
        ['Something', 'Else'],
        ['1', '2'],
      ]),
    );
    const page = await newPage();
    await signIn(page, 'operator');
    await nav(page, 'Reconciliation').click();
    await page.getByLabel('Registry file (xlsx or csv)').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain('The file was refused');
    expect(text).toContain('Fields missing');
    expect(text).toContain('Something');
    // The import's own ERROR for a file it cannot map; nothing else.
    expect(logs.find('error', 'registry import failed')).toHaveLength(1);
    logs.clear();
    await page.close();
  });

  it('when a viewer opens Reconciliation, then there is no upload or resolve form, and both POSTs are answered 403 with nothing stored', async () => {
    const page = await newPage();
    await signIn(page, 'viewer');
    await page.goto(`${base}/console/reconciliation`);
    await expect(page.getByRole('button', { name: 'Upload' }).count()).resolves.toBe(0);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const before = Number((await t.gateway.db.knex('registry_files').count({ n: '*' }).first())?.n);
    const up = await page.request.post(`${base}/console/reconciliation/upload`, {
      multipart: {
        _csrf: csrf,
        registry: {
          name: 'r.csv',
          mimeType: 'text/csv',
          buffer: csvOf([RU_HEADER, [newTxnId(), '10,00', '23.11.2026 10:00:00', 'X1', 'Платёж']]),
        },
      },
    });
    expect(up.status()).toBe(403);
    expect(Number((await t.gateway.db.knex('registry_files').count({ n: '*' }).first())?.n)).toBe(before);
    // An open item of a run imported by the API's own service.
    const txn = newTxnId();
    const imported = await t.gateway.services.reconcile.import(
      csvOf([RU_HEADER, [txn, '20,00', '24.11.2026 10:00:00', await account(), 'Платёж']]),
      { from: '2026-11-24', to: '2026-11-24', origin: 'api', actor: { id: 'api', ip: null } },
    );
    const item = (await t.gateway.db
      .knex('reconciliation_items')
      .where({ run_id: imported.run?.id, txn_id: txn })
      .first()) as { id: string | number; state: string };
    expect(item.state).toBe('open');
    const res = await page.request.post(`${base}/console/reconciliation/items/${item.id}/resolve`, {
      form: { _csrf: csrf, action: 'ignore', note: 'viewer tries' },
    });
    expect(res.status()).toBe(403);
    expect((await t.gateway.db.knex('reconciliation_items').where({ id: item.id }).first()).state).toBe(
      'open',
    );
    // The viewer sees the item, without the form.
    await page.goto(`${base}/console/reconciliation/items/${item.id}`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain('MISSING_OURS');
    await expect(page.getByRole('button', { name: 'Resolve' }).count()).resolves.toBe(0);
    // Without the token the upload is refused before anything is read.
    const forged = await page.request.post(`${base}/console/reconciliation/upload`, {
      multipart: { registry: { name: 'r.csv', mimeType: 'text/csv', buffer: Buffer.from('x') } },
    });
    expect(forged.status()).toBe(403);
    await page.close();
  });
  it('when a late Kaspi pay arrives after the registry was matched, then "Match again" makes a new run where it is matched, the items and summary download, and a viewer may download but not match again', async () => {
    const a = await account();
    const txn = newTxnId();
    const registry = csvOf([RU_HEADER, [txn, '75,00', '23.11.2026 14:15:00', a, 'Платёж']]);
    const first = await t.gateway.services.reconcile.import(registry, {
      from: '2026-11-23',
      to: '2026-11-23',
      origin: 'api',
      actor: { id: 'api', ip: null },
    });
    const firstId = String(first.run?.id);
    logs.clear(); // the import's own ERROR: an item needs a person
    const page = await newPage();
    await signIn(page, 'operator');
    await page.goto(`${base}/console/reconciliation/runs/${firstId}`);
    await expect(page.getByRole('row', { name: new RegExp(`MISSING_OURS.*${txn}`) }).count()).resolves.toBe(
      1,
    );
    // Kaspi's pay reaches us late; the first run still says MISSING_OURS until matched again.
    expect((await pay(t.api(), txn, a, '75.00')).xml.result).toBe('0');
    await page.getByRole('button', { name: 'Match again' }).click();
    await page.waitForURL(/\/console\/reconciliation\/runs\/\d+\?rerun=1$/);
    const secondId = page.url().replace(/^.*\/runs\/(\d+).*$/, '$1');
    expect(secondId).not.toBe(firstId);
    await expect(page.getByRole('status').textContent()).resolves.toContain('Matched again');
    await expect(page.getByRole('row', { name: new RegExp(`MISSING_OURS.*${txn}`) }).count()).resolves.toBe(
      0,
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    const balance = (await t.gateway.stores.accounts.getAccount(a))?.balance;
    expect(balance).toBe(7500); // the pay's one credit; matching again moved nothing
    const csv = await page.request.get(`${base}/console/reconciliation/runs/${firstId}/items.csv`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toContain('text/csv');
    expect(csv.headers()['content-disposition']).toContain(`reconciliation-${firstId}-items.csv`);
    expect(await csv.text()).toContain(txn);
    const summary = await page.request.get(`${base}/console/reconciliation/runs/${secondId}/summary.txt`);
    expect(summary.status()).toBe(200);
    expect(summary.headers()['content-type']).toContain('text/plain');
    expect((await summary.text()).length).toBeGreaterThan(0);
    await page.close();

    const viewer = await newPage();
    await signIn(viewer, 'viewer');
    await viewer.goto(`${base}/console/reconciliation/runs/${secondId}`);
    await expect(viewer.getByRole('button', { name: 'Match again' }).count()).resolves.toBe(0);
    const runsBefore = Number((await t.gateway.db.knex('reconciliation_runs').count({ n: '*' }).first())?.n);
    const csrf = await viewer.locator('input[name=_csrf]').first().inputValue();
    const refused = await viewer.request.post(`${base}/console/reconciliation/runs/${secondId}/rerun`, {
      form: { _csrf: csrf },
    });
    expect(refused.status()).toBe(403);
    expect(Number((await t.gateway.db.knex('reconciliation_runs').count({ n: '*' }).first())?.n)).toBe(
      runsBefore,
    );
    expect(
      (await viewer.request.get(`${base}/console/reconciliation/runs/${secondId}/items.csv`)).status(),
    ).toBe(200);
    await viewer.close();
    // A run that does not exist is the console's 404 page, not a stack trace.
    const none = await viewer.request.get(`${base}/console/reconciliation/runs/999999999/items.csv`);
    expect(none.status()).toBe(404);
    logs.clear();
  });
});
