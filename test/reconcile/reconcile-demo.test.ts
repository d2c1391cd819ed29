import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { plantDemo } from '../../bench/reconcile-demo.js';
import { registerReconcileCommands } from '../../src/cli/reconcile-commands.js';
import { createDb } from '../../src/db/db.js';
import { createStores } from '../../src/wiring/wiring.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** `npm run cli -- …` as a person runs it: a process of its own, in the checkout, with only DATABASE_URL set. */
function cliProcess(
  args: string[],
  databaseUrl: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'src/cli/index.ts'), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATABASE_URL: databaseUrl },
        timeout: 90_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

/**
 * The "done when" (#15): a generated registry (bench/reconcile-demo.ts, one planted
 * difference of each class it can plant) imported with `npm run cli -- reconcile import` prints a
 * summary whose counts are what was planted and exits 3; the resolutions close every item and the
 * to-do list is empty.
 */
describe.each(dbKinds)('[%s] the reconciliation demo through the CLI', (kind) => {
  let t: TestGateway;
  let dir: string;

  beforeAll(async () => {
    t = await startTestGateway(kind);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-demo-'));
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[]): Promise<{ out: string; code: number }> {
    const program = new Command('cli').exitOverride();
    registerReconcileCommands(program, {
      open: async () => {
        const db = createDb(t.config.DATABASE_URL, { poolMax: 2 });
        return { config: t.config, db, stores: createStores(db) };
      },
    });
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    process.exitCode = undefined;
    try {
      await program.parseAsync(['node', 'cli', ...args]);
    } finally {
      process.stdout.write = write;
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { out, code };
  }

  it('when the generated registry is imported, then the summary counts what was planted, exit 3, and the resolutions close the items', async () => {
    const demo = await plantDemo(t.gateway.services, t.gateway.stores, '2026-11-23');
    const file = path.join(dir, 'reestr-demo.xlsx');
    fs.writeFileSync(file, demo.bytes);

    const imported = await cliProcess(
      [
        'reconcile',
        'import',
        file,
        '--from',
        '2026-11-23',
        '--to',
        '2026-11-23',
        '--received-at',
        '2026-11-24T09:00:00+05:00',
      ],
      t.config.DATABASE_URL,
    );
    if (imported.code !== 3) throw new Error(`exit ${imported.code}: ${imported.stderr}`);
    const summary = imported.stdout;
    expect(summary).toMatch(/^Kaspi registry reconciliation #\d+ — daily 2026-11-23 \(period given\)/);
    expect(summary).toContain('Matched:  1 payments 2 000.00');
    expect(summary).toContain('Result: DISCREPANCIES (exit 3)');
    const listed = (cls: string) =>
      summary.split('\n').filter((l) => l.trimStart().startsWith(`${cls} `)).length;
    for (const [cls, n] of Object.entries(demo.expected))
      if (cls !== 'MATCHED') expect([cls, listed(cls)]).toEqual([cls, n]);
    const runId = (/reconciliation #(\d+)/.exec(summary) as RegExpExecArray)[1] as string;

    const report = JSON.parse((await cli(['reconcile', 'show', runId, '--json'])).out);
    const counts = Object.fromEntries(
      Object.entries(report.run.totals.byClass as Record<string, { count: number }>).map(([k, v]) => [
        k,
        v.count,
      ]),
    );
    expect(counts).toEqual(demo.expected);

    const items = report.items as Array<{ id: string; class: string; state: string; severity: string }>;
    for (const r of demo.resolutions) {
      const item = items.find((i) => i.class === r.class) as { id: string };
      const args = ['reconcile', 'resolve', item.id, '--action', r.action, '--operator', 'aigul'];
      if (r.note) args.push('--note', r.note);
      if (r.payment) args.push('--payment', r.payment);
      const done = await cli(args);
      expect([r.class, done.code, JSON.parse(done.out).state]).toEqual([
        r.class,
        0,
        r.action === 'ignore' ? 'ignored' : 'resolved',
      ]);
    }
    const after = JSON.parse((await cli(['reconcile', 'show', runId, '--json'])).out);
    expect(after.run.status).toBe('resolved');
    expect(
      after.items.filter(
        (i: { state: string; severity: string }) => i.state === 'open' && i.severity !== 'info',
      ),
    ).toEqual([]);
    expect((await cli(['reconcile', 'todo'])).code).toBe(0);
    // The money the resolutions moved, each once: the credit of the missing and the refused payment, the cabinet refund.
    const refunds = await t.gateway.db.knex('refunds').where({ origin: 'registry' });
    expect(refunds).toHaveLength(1);
    expect(await t.gateway.db.knex('payments').where({ state: 'credited' })).toHaveLength(6);
    const audit = await t.gateway.db.knex('audit_log').where({ action: 'item.resolved' });
    expect(audit).toHaveLength(demo.resolutions.length);
    expect(audit.every((a) => a.actor === 'cli:aigul' || String(a.actor).endsWith(':aigul'))).toBe(true);
  }, 180_000);
});
