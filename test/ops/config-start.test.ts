import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/config.js';

/**
 * A bad setting stops the service (and the CLI) at start: one line on stderr naming the key, exit 78,
 * no stack, nothing opened or migrated. The processes run in a directory of their own, so its
 * config/*.json are the ones read (the real lookup: ./config under the working directory).
 */
const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, path.join(ROOT, script), ...args],
      // Only what the test gives: the runner's own settings must not decide the outcome.
      {
        cwd,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
        timeout: 30000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('a bad setting at start', () => {
  let dir: string;
  let dbFile: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
    fs.mkdirSync(path.join(dir, 'config'));
    dbFile = path.join(dir, 'gw.sqlite');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expectRefused = (r: Run, line: RegExp) => {
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
    // Refused before the database was opened: no file, so nothing was migrated.
    expect(fs.existsSync(dbFile)).toBe(false);
  };

  it("when REQUEST_LOG_RETENTION_CRON='not a cron', then the service exits 78 naming it, before migrating", async () => {
    const r = await run('src/main.ts', [], dir, {
      DATABASE_URL: `sqlite:${dbFile}`,
      PORT: '0',
      ADMIN_PORT: '0',
      REQUEST_LOG_RETENTION_CRON: 'not a cron',
    });
    expectRefused(
      r,
      /^Refusing to start: .*REQUEST_LOG_RETENTION_CRON: not a cron expression \(got "not a cron"\)/,
    );
    expect(r.stdout).toBe('');
  }, 40000);

  it('when config/default.json holds a mistyped key, then the service exits 78 naming the key and the file', async () => {
    fs.writeFileSync(
      path.join(dir, 'config', 'default.json'),
      JSON.stringify({ '// note': 'comments are allowed', RETRY_CRN: '*/5 * * * * *' }),
    );
    const r = await run('src/main.ts', [], dir, {
      DATABASE_URL: `sqlite:${dbFile}`,
      PORT: '0',
      ADMIN_PORT: '0',
    });
    expectRefused(r, /config\/default\.json: unknown key RETRY_CRN \(did you mean RETRY_CRON\?\)/);
  }, 40000);

  it('when a duration is not a number, then the CLI exits 78 naming it, before migrating', async () => {
    const r = await run('src/cli/index.ts', ['migrate'], dir, {
      DATABASE_URL: `sqlite:${dbFile}`,
      REFUND_BACKOFF_MS: '1m',
    });
    expectRefused(r, /^error: .*REFUND_BACKOFF_MS: must be a whole number from 1000 to 3600000 \(got "1m"\)/);
  }, 40000);

  it('when config/test.json is not JSON, then the CLI exits 78 naming the file', async () => {
    fs.writeFileSync(path.join(dir, 'config', 'test.json'), '{ "PORT": 8080, }');
    const r = await run('src/cli/index.ts', ['migrate'], dir, { DATABASE_URL: `sqlite:${dbFile}` });
    expectRefused(r, /config\/test\.json: not valid JSON/);
  }, 40000);
});

describe('strict configuration', () => {
  const load = (env: Record<string, string>, configDir = '/nonexistent') => loadConfig({ env, configDir });
  const problems = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    throw new Error('accepted');
  };

  it.each(['RETRY_CRON', 'REFUND_POLL_CRON', 'REQUEST_LOG_RETENTION_CRON', 'KASPI_QR_POLL_CRON'])(
    'when %s is not a cron, then it is refused by name, once',
    (key) => {
      const p = problems(() => load({ [key]: '61 * * * *' }));
      expect(p).toEqual([`${key}: not a cron expression (got "61 * * * *")`]);
    },
  );

  it.each([
    ['PAY_DEADLINE_MS', '10s'],
    ['RETRY_LEASE_MS', '999'],
    ['RETRY_STUCK_AFTER_MS', '1.5'],
    ['SHUTDOWN_TIMEOUT_MS', '-1'],
    ['HTTP_KEEPALIVE_TIMEOUT_MS', 'soon'],
    ['CONSOLE_SESSION_IDLE_MIN', '0'],
  ])('when the duration %s is %p, then it is refused naming it and its range', (key, value) => {
    const p = problems(() => load({ [key]: value }));
    expect(p).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${key}: must be a whole number from \\d+ to \\d+ \\(got "${value.replace('.', '\\.')}"\\)$`,
        ),
      ),
    ]);
  });

  it('when several settings are bad, then each is named on the one line', () => {
    let err: unknown;
    try {
      load({ RETRY_CRON: 'x', PORT: 'eighty' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    expect((err as Error).message).toMatch(/RETRY_CRON: .*; PORT: /);
  });

  it('when a secret is bad, then its value is not repeated', () => {
    const p = problems(() => load({ ADMIN_API_KEY: 'short-secret' }));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^ADMIN_API_KEY: /);
    expect(p[0]).not.toContain('short-secret');
  });

  it('when an override names an unknown key, then it is refused by name', () => {
    const p = problems(() =>
      loadConfig({ env: {}, configDir: '/nonexistent', overrides: { PAY_DEADLINE: 100 } as never }),
    );
    expect(p).toEqual(['overrides: unknown key PAY_DEADLINE (did you mean PAY_DEADLINE_MS?)']);
  });

  it('when the files hold known keys, then they apply under the environment, and the result is frozen', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'default.json'),
        JSON.stringify({ PAY_DEADLINE_MS: 5000, DB_POOL_MAX: 4 }),
      );
      fs.writeFileSync(path.join(dir, 'test.json'), JSON.stringify({ DB_POOL_MAX: 6 }));
      const c = load({ NODE_ENV: 'test', PAY_DEADLINE_MS: '7000' }, dir);
      expect(c.PAY_DEADLINE_MS).toBe(7000);
      expect(c.DB_POOL_MAX).toBe(6);
      expect(Object.isFrozen(c)).toBe(true);
      expect(() => {
        (c as { PORT: number }).PORT = 1;
      }).toThrow(TypeError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
