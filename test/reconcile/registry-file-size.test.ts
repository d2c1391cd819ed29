import { createHash, randomBytes } from 'node:crypto';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { csvOf, RU_HEADER } from '../support/registry-files.js';
import { captureLogs } from '../support/log-capture.js';

const MiB = 1024 * 1024;

/**
 * A registry as large as RECONCILE_MAX_FILE_BYTES allows (10 MiB) is stored byte for byte. On MySQL
 * one INSERT of it was refused: mysql2 writes a Buffer into the statement as hex (twice its size)
 * and a statement must fit max_allowed_packet (16 MiB by default), so any file over ~8 MiB failed
 * to import. The store now writes it in pieces, in one transaction.
 */
describe.each(dbKinds)('[%s] a registry file at the size limit', (kind) => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a 10 MiB file is stored, then it reads back byte for byte under its sha256, in one row', async () => {
    const store = t.gateway.services.reconcile.store;
    const content = randomBytes(10 * MiB);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const id = await store.insertFile({
      sha256,
      fileName: 'big.csv',
      content,
      format: 'csv',
      encoding: 'utf8',
      sheet: null,
    });
    const back = await store.fileContent(id);
    expect(back?.length).toBe(content.length);
    expect(createHash('sha256').update(back!).digest('hex')).toBe(sha256);
    expect(await t.gateway.db.knex('registry_files').where({ sha256 })).toHaveLength(1);
  }, 120_000);

  it('when a 9 MiB CSV registry is imported, then it is stored whole and its rows matched', async () => {
    const logs = captureLogs('warn');
    const a = `BIG${process.pid}${Math.floor(Math.random() * 1e6)}`;
    await t.gateway.stores.accounts.addAccount({ account: a, name: 'Registry Payer', balance: 0 });
    const txn = newTxnId();
    expect((await pay(t.api(), txn, a, '10.00')).xml.result).toBe('0');
    // One real row, padded to 9 MiB by rows of another kind the profile leaves out (a long note).
    const filler = Array.from({ length: 9 * 1024 }, (_, i) => [
      '',
      '',
      '',
      '',
      `примечание ${i} ${'x'.repeat(1000)}`,
    ]);
    const bytes = csvOf([RU_HEADER, [txn, '10,00', '23.11.2026 14:15:00', a, 'Платёж'], ...filler]);
    expect(bytes.length).toBeGreaterThan(9 * MiB);
    const r = await t.gateway.services.reconcile.import(bytes, {
      from: '2026-11-23',
      to: '2026-11-23',
      origin: 'api',
      actor: { id: 'api', ip: null },
    });
    const run = r.run as unknown as { id: string; status: string; totals: { byClass: unknown } };
    expect(run.status).toBe('clean');
    expect(run.totals.byClass).toEqual({ MATCHED: { count: 1, amount: 1000 } });
    const file = await t.gateway.db.knex('reconciliation_runs').where({ id: run.id }).first('file_id');
    const stored = await t.gateway.services.reconcile.store.fileContent(String(file.file_id));
    expect(stored?.equals(bytes)).toBe(true);
    const matches = await t.gateway.db.knex('reconciliation_matches').where({ run_id: run.id });
    expect(matches).toHaveLength(1);
    logs.clear();
  }, 120_000);
});
