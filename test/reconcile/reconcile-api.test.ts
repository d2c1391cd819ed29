import { Command } from 'commander';
import { registerReconcileCommands } from '../../src/cli/reconcile-commands.js';
import { createDb } from '../../src/db/db.js';
import { createStores } from '../../src/wiring/wiring.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { AUTH, noFloats } from '../support/refunds.js';
import { csvOf, RU_HEADER, xlsxOf } from '../support/registry-files.js';

const RECEIVED = '2026-11-24T09:12:00+05:00';

describe.each(dbKinds)('[%s] reconciliation through the admin API and the CLI', (kind) => {
  let t: TestGateway;
  let seq = 0;

  beforeAll(async () => {
    t = await startTestGateway(kind, { RECONCILE_MAX_FILE_BYTES: 200_000 });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function account(balance = 0): Promise<string> {
    seq += 1;
    const a = `RC${process.pid}${seq}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account: a, name: 'Registry Payer', balance });
    return a;
  }

  async function balance(a: string): Promise<number> {
    return (await t.gateway.stores.accounts.getAccount(a))?.balance ?? -1;
  }

  async function credited(sum: string) {
    const a = await account();
    const txnId = newTxnId();
    const r = await pay(t.api(), txnId, a, sum);
    expect(r.xml.result).toBe('0');
    return { txnId, account: a };
  }

  async function upload(
    bytes: Buffer,
    query = 'from=2026-11-23&to=2026-11-23',
    headers: Record<string, string> = {},
  ) {
    return t
      .admin()
      .post(`/api/reconciliations?${query}&filename=reestr.xlsx&receivedAt=${encodeURIComponent(RECEIVED)}`)
      .set({ ...AUTH, 'Content-Type': 'application/octet-stream', ...headers })
      .send(bytes);
  }

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of [
      'registry_files',
      'registry_rows',
      'reconciliation_runs',
      'reconciliation_items',
      'reconciliation_matches',
      'payments',
    ])
      out[table] = Number(
        ((await t.gateway.db.knex(table).count({ n: '*' }).first()) as { n: number | string }).n,
      );
    return out;
  }

  async function cli(args: string[]): Promise<{ out: string; err: string; code: number }> {
    const program = new Command('cli').exitOverride();
    registerReconcileCommands(program, {
      open: async () => {
        const db = createDb(t.config.DATABASE_URL, { poolMax: 2 });
        return { config: t.config, db, stores: createStores(db) };
      },
    });
    let out = '';
    let err = '';
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
    process.exitCode = undefined;
    try {
      await program.parseAsync(['node', 'cli', ...args]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { out, err, code };
  }

  it('when a registry holds one of each planted difference, then each class once, exit 3, and the resolutions close them', async () => {
    const matched = await credited('2000.00');
    const differs = await credited('500.00');
    const notListed = await credited('300.00');
    const missingAccount = await account();
    const missingTxn = newTxnId();
    // A pay we refused (no such account): Kaspi lists it anyway.
    const refusedTxn = newTxnId();
    const refusedAccount = `NOPE${Date.now()}`;
    expect((await pay(t.api(), refusedTxn, refusedAccount, '100.00')).xml.result).not.toBe('0');

    const bytes = await xlsxOf([
      {
        name: 'Реестр',
        rows: [
          ['Реестр платежей ТОО «Партнёр» за 23.11.2026'],
          [],
          RU_HEADER,
          [matched.txnId, '2 000,00', '23.11.2026 14:15:00', matched.account, 'Платёж'],
          [differs.txnId, '500,01', '23.11.2026 14:15:00', differs.account, 'Платёж'],
          [missingTxn, 250, '23.11.2026 10:00:00', missingAccount, 'Платёж'],
          [refusedTxn, '100.00', '23.11.2026 14:15:00', refusedAccount, 'Платёж'],
          [matched.txnId, '2 000,00', '23.11.2026 14:15:00', matched.account, 'Платёж'],
          ['7777', '10,00', '31.02.2026', '=HYPERLINK("http://x")', 'Платёж'],
        ],
      },
    ]);
    const res = await upload(bytes);
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    expect(noFloats(res.body)).toEqual([]);
    const by = res.body.totals.byClass as Record<string, { count: number; amount: string }>;
    expect(Object.fromEntries(Object.entries(by).map(([k, v]) => [k, v.count]))).toEqual({
      MATCHED: 1,
      AMOUNT_DIFFERS: 1,
      MISSING_OURS: 1,
      REFUSED_OURS: 1,
      DUPLICATE_ROW: 1,
      ROW_INVALID: 1,
      MISSING_KASPI: 1,
    });
    expect(by.MATCHED?.amount).toBe('2000.00');
    expect(res.body).toMatchObject({
      status: 'discrepancies',
      duplicate: false,
      period: { from: '2026-11-23', inferred: false },
    });

    const run = await t.admin().get(`/api/reconciliations/${res.body.id}`).set(AUTH);
    expect(run.status).toBe(200);
    const items = run.body.items as Array<
      Record<string, unknown> & { id: string; evidence: { summary: string } }
    >;
    const item = (c: string) => items.find((i) => i.class === c) as (typeof items)[number];
    expect(item('MISSING_OURS')).toMatchObject({
      severity: 'action',
      state: 'open',
      dueAt: '2026-11-24T23:59:59+05:00',
      txnId: missingTxn,
      registry: { amount: '250.00', amountMinor: 25000, account: missingAccount },
      evidence: { summary: 'no request at all' },
    });
    expect(item('REFUSED_OURS').evidence.summary).toMatch(/^a pay refused \(result [1-5]/);
    expect(item('AMOUNT_DIFFERS')).toMatchObject({
      dueAt: '2026-12-07T23:59:59+05:00',
      ours: { amount: '500.00' },
    });
    expect(item('MISSING_KASPI')).toMatchObject({ severity: 'watch', txnId: notListed.txnId });
    expect(items[0]?.severity).toBe('action');

    // The same file again is the same run; under another name too.
    const again = await upload(bytes, 'from=2026-11-23&to=2026-11-23&x=1');
    expect([again.status, again.body.id, again.body.duplicate]).toEqual([200, res.body.id, true]);

    // items.csv escapes formula injection; summary.txt names no account.
    const csv = await t.admin().get(`/api/reconciliations/${res.body.id}/items.csv`).set(AUTH);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain(`"'=HYPERLINK(""http://x"")"`);
    const summary = await t.admin().get(`/api/reconciliations/${res.body.id}/summary.txt`).set(AUTH);
    expect(summary.text).toContain('NEEDS A PERSON');
    expect(summary.text).toContain('Result: DISCREPANCIES (exit 3)');
    expect(summary.text).not.toContain(missingAccount);
    expect(summary.text).not.toContain(matched.account);

    // The to-do list across runs.
    const todo = await t.admin().get('/api/reconciliation-items?state=open&severity=action').set(AUTH);
    expect(todo.body.items.map((i: { class: string }) => i.class)).toEqual(
      expect.arrayContaining([
        'MISSING_OURS',
        'REFUSED_OURS',
        'AMOUNT_DIFFERS',
        'DUPLICATE_ROW',
        'ROW_INVALID',
      ]),
    );

    // Resolutions.
    const resolve = (id: string, body: Record<string, unknown>) =>
      t.admin().post(`/api/reconciliation-items/${id}/resolve`).set(AUTH).send(body);
    expect((await resolve(item('AMOUNT_DIFFERS').id, { action: 'accept' })).status).toBe(400);
    expect((await resolve(item('AMOUNT_DIFFERS').id, { action: 'credit' })).status).toBe(400);
    const accepted = await resolve(item('AMOUNT_DIFFERS').id, {
      action: 'accept',
      note: 'Kaspi confirmed 500.01',
    });
    expect(accepted.body).toMatchObject({
      state: 'resolved',
      resolution: { action: 'accept', note: 'Kaspi confirmed 500.01', by: 'api' },
    });
    expect((await resolve(item('AMOUNT_DIFFERS').id, { action: 'accept', note: 'again' })).status).toBe(200);
    expect((await resolve(item('AMOUNT_DIFFERS').id, { action: 'ignore', note: 'x' })).status).toBe(409);

    const credit = await resolve(item('MISSING_OURS').id, { action: 'credit' });
    expect(credit.status).toBe(200);
    expect(credit.body.state).toBe('resolved');
    expect(await balance(missingAccount)).toBe(25000);
    // A late Kaspi pay of the same txn_id gets the stored answer and credits nothing more.
    const late = await pay(t.api(), missingTxn, missingAccount, '250.00');
    expect(late.xml.result).toBe('0');
    expect(await balance(missingAccount)).toBe(25000);
    // The second credit answers with the first one's outcome.
    expect((await resolve(item('MISSING_OURS').id, { action: 'credit' })).body.state).toBe('resolved');
    expect(await balance(missingAccount)).toBe(25000);

    for (const c of ['DUPLICATE_ROW', 'ROW_INVALID', 'REFUSED_OURS'])
      expect((await resolve(item(c).id, { action: 'ignore', note: 'asked Kaspi' })).status).toBe(200);

    const audit = await t.gateway.db
      .knex('audit_log')
      .whereIn('action', ['item.resolved', 'registry.uploaded'])
      .orderBy('id');
    expect(audit.map((a) => a.action)).toEqual(['registry.uploaded', ...Array(5).fill('item.resolved')]);

    // Only the watch item is left: the run is not "resolved" until it heals or a person closes it.
    expect((await t.admin().get(`/api/reconciliations/${res.body.id}`).set(AUTH)).body.run.status).toBe(
      'discrepancies',
    );
    // The next day's registry lists it: the watch job closes it, and the run is resolved.
    const next = csvOf([
      RU_HEADER,
      [notListed.txnId, '300,00', '23.11.2026 14:15:00', notListed.account, 'Платёж'],
    ]);
    const nextRun = await upload(next, 'from=2026-11-24&to=2026-11-24');
    expect(nextRun.status).toBe(201);
    const watch = await t.gateway.services.reconcile.watch();
    expect(watch.closed).toBe(1);
    const after = (await t.admin().get(`/api/reconciliations/${res.body.id}`).set(AUTH)).body;
    expect(after.run.status).toBe('resolved');
    expect(after.items.find((i: { class: string }) => i.class === 'MISSING_KASPI').state).toBe('auto_closed');
  });

  it('when the file is refused, then 415 / 413 / 422 with the headers seen, and nothing is stored for the limits', async () => {
    const before = await counts();
    const xls = Buffer.concat([
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
      Buffer.alloc(600),
    ]);
    const r415 = await upload(xls);
    expect([r415.status, r415.body.message]).toEqual([415, 'legacy .xls: open it and save as .xlsx or .csv']);
    const r413 = await upload(Buffer.alloc(200_001, 0x41));
    expect(r413.status).toBe(413);
    expect(await counts()).toEqual(before);
    // A JSON content type does not decide: the bytes do.
    const text = csvOf([
      ['Клиент', 'Сумма'],
      ['x', '1'],
    ]).toString('utf8');
    const r422 = await t
      .admin()
      .post('/api/reconciliations?x=1')
      .set({ ...AUTH, 'Content-Type': 'application/json' })
      .send(text);
    expect(r422.status).toBe(422);
    expect(r422.body).toMatchObject({ headersSeen: ['Клиент', 'Сумма'], fieldsMissing: ['txn_id', 'date'] });
    expect(JSON.stringify(r422.body)).not.toMatch(/at .*\.ts|select |insert /i);
    expect((await t.admin().post('/api/reconciliations').send(Buffer.from('x'))).status).toBe(401);
  });

  it('when the CLI imports a registry, then it prints the summary and exits 3; a clean one exits 0; an unreadable one 1', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reg-'));
    const ok = await credited('120.00');
    const clean = path.join(dir, 'clean.csv');
    fs.writeFileSync(
      clean,
      csvOf([RU_HEADER, [ok.txnId, '120,00', '23.11.2026 14:15:00', ok.account, 'Платёж']], ';', 'cp1251'),
    );
    const c = await cli([
      'reconcile',
      'import',
      clean,
      '--received-at',
      RECEIVED,
      '--out',
      path.join(dir, 'out'),
    ]);
    expect(c.code).toBe(0);
    expect(c.out).toContain('Matched:  1 payments 120.00');
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(['items.csv', 'report.json', 'summary.txt']);

    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, csvOf([RU_HEADER, [newTxnId(), '5,00', '23.11.2026', 'someone', 'Платёж']], ','));
    const dry = await cli(['reconcile', 'import', bad, '--dry-run', '--json']);
    expect(dry.code).toBe(3);
    const before = await counts();
    const b = await cli(['reconcile', 'import', bad, '--received-at', RECEIVED]);
    expect(b.code).toBe(3);
    expect(b.out).toContain('MISSING_OURS');
    expect((await counts()).reconciliation_runs).toBe((before.reconciliation_runs ?? 0) + 1);
    const dup = await cli(['reconcile', 'import', bad]);
    expect([dup.code, dup.err]).toEqual([3, expect.stringMatching(/already imported as run \d+/)]);

    const unreadable = path.join(dir, 'x.csv');
    fs.writeFileSync(unreadable, 'a;b\n1;2\n');
    const u = await cli(['reconcile', 'import', unreadable]);
    expect(u.code).toBe(1);
    expect(u.err).toMatch(/fieldsMissing/);
    const todo = await cli(['reconcile', 'todo']);
    expect(todo.code).toBe(3);
    const profiles = await cli(['reconcile', 'profiles']);
    expect(JSON.parse(profiles.out).profiles.map((p: { name: string }) => p.name)).toContain('kaspi-default');
  });

  it('when the metrics are scraped, then the open items and the last import are there', async () => {
    const m = await t.admin().get('/metrics');
    expect(m.text).toMatch(/gateway_reconcile_open_items\{severity="action",class="[A-Z_]+"\} \d+/);
    expect(m.text).toMatch(/gateway_reconcile_overdue_items \d+/);
    expect(m.text).toMatch(/gateway_reconcile_last_import_timestamp_seconds [1-9]\d+/);
  });
});
