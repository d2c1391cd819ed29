import http from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import got, { type OptionsInit } from 'got';
import { createDb } from '../../src/db/db.js';
import { getLogger, registerSecrets } from '../../src/log/logger.js';
import { createTestDatabase, dbKinds } from '../support/databases.js';
import { captureLogStream, type LogCapture } from '../support/log-stream.js';

/**
 * Every kind of error an outside call or the database can throw, forced for real and logged through
 * the real logger; then the output is searched for each secret that went into it.
 */

const JETPAY_SECRET = 'jp-secret-9f8e7d6c5b4a';
const SECRETS = {
  bearer: 'bearer-tok-1a2b3c4d5e',
  queryToken: 'query-tok-6f7a8b9c0d',
  urlPassword: 'url-pass-e1f2a3b4c5',
  bodyPassword: 'body-pass-d6e7f8a9b0',
  apiKey: 'api-key-c1d2e3f4a5',
  responseToken: 'resp-tok-b6c7d8e9f0',
};

let capture: LogCapture;
const log = getLogger('masking-test');

/** A fake outside party: 401 with a token in the body, or an answer that never comes. */
let server: http.Server;
let base: string;
let closedPort: number;

beforeAll(async () => {
  capture = captureLogStream('json');
  registerSecrets(JETPAY_SECRET);
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/slow')) return; // never answers: the client's timeout fires
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'bad credentials', token: SECRETS.responseToken }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A call the way an outbound client makes it: every place a credential can ride along. */
function callOptions(): OptionsInit {
  return {
    method: 'POST',
    headers: { Authorization: `Bearer ${SECRETS.bearer}`, 'X-Api-Key': SECRETS.apiKey },
    searchParams: { token: SECRETS.queryToken, account: '7770000001' },
    username: 'apiuser',
    password: SECRETS.urlPassword,
    json: { login: 'apiuser', password: SECRETS.bodyPassword },
    timeout: { request: 300 },
    retry: { limit: 0 },
  };
}

async function failingCall(url: string): Promise<Error> {
  try {
    await got(url, callOptions());
  } catch (e) {
    return e as Error;
  }
  throw new Error('the call was expected to fail');
}

/** Each test reads only what it logged itself, so one leak fails one test. */
let offset = 0;
beforeEach(async () => {
  await capture.settle();
  offset = capture.text().length;
});

async function loggedText(): Promise<string> {
  await capture.settle();
  return capture.text().slice(offset);
}

function expectNoSecret(text: string, secrets: string[]) {
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('secrets never reach the log', () => {
  it('when the billing answers 401 (got HTTPError), then the log has the status and URL but no credential', async () => {
    const err = await failingCall(`${base}/credit`);
    expect(err.name).toBe('HTTPError');
    log.error('billing refused the call', { err });
    const text = await loggedText();
    expectNoSecret(text, Object.values(SECRETS));
    const line = JSON.parse(text.trim().split('\n').pop() as string) as { err: Record<string, unknown> };
    expect(line).toMatchObject({
      level: 'error',
      module: 'masking-test',
      message: 'billing refused the call',
    });
    expect(line.err).toMatchObject({ name: 'HTTPError', statusCode: 401, method: 'POST' });
    expect(String(line.err.url)).toContain('/credit');
    expect(String(line.err.url)).toContain('account=7770000001');
  });

  it('when the billing is not listening (got RequestError), then the log has ECONNREFUSED and no credential', async () => {
    const err = await failingCall(`http://127.0.0.1:${closedPort}/credit`);
    expect(err.name).toBe('RequestError');
    log.warn('billing unreachable', { err });
    const text = await loggedText();
    expectNoSecret(text, Object.values(SECRETS));
    expect(text).toContain('ECONNREFUSED');
  });

  it('when the billing never answers (got TimeoutError), then the log has the timeout and no credential', async () => {
    const err = await failingCall(`${base}/slow`);
    expect(err.name).toBe('TimeoutError');
    log.warn('billing timed out', { err });
    const text = await loggedText();
    expectNoSecret(text, Object.values(SECRETS));
    expect(text).toContain('ETIMEDOUT');
  });

  it('when MySQL refuses the connection, then neither the error nor the logged URL shows the password', async () => {
    const password = 'db-pass-0a9b8c7d6e';
    const url = `mysql://gateway:${password}@127.0.0.1:${closedPort}/gw`;
    const db = createDb(url);
    let err: unknown;
    try {
      await db.knex.raw('select 1');
    } catch (e) {
      err = e;
    } finally {
      await db.close();
    }
    // (a Node core error: made outside jest's realm, so checked by shape, not instanceof)
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    log.error('database unreachable', { err, url, config: { DATABASE_URL: url } });
    const text = await loggedText();
    expectNoSecret(text, [password]);
    expect(text).toContain('ECONNREFUSED');
  });

  it('when the message of an error contains the JetPay secret, then the secret is masked', async () => {
    const err = new Error(`signature check failed: hmac(${JETPAY_SECRET}, body) differs`, {
      cause: new Error(`key was ${JETPAY_SECRET}`),
    });
    log.error('jetpay callback rejected', { err, note: `secret=${JETPAY_SECRET}` });
    const text = await loggedText();
    expectNoSecret(text, [JETPAY_SECRET]);
    expect(text).toContain('signature check failed');
  });

  it('when a JSON body with a signature is logged, as an object or as text, then the signature is masked', async () => {
    const sigObject = 'sig-obj-4d3c2b1a0f9e';
    const sigText = 'sig-txt-8e7d6c5b4a3f';
    log.warn('jetpay request refused', {
      body: {
        type: 'verify',
        amount: 1000,
        signature: sigObject,
        nested: { Authorization: 'Basic dXNlcjpwYXNz' },
      },
      raw: `{"type":"verify","amount":1000,"signature":"${sigText}"}`,
    });
    const text = await loggedText();
    expectNoSecret(text, [sigObject, sigText, 'dXNlcjpwYXNz']);
    expect(text).toContain('"amount":1000');
  });
});

describe('errors from another realm', () => {
  it('when an error was made in another realm (a native module, a VM context), then its message is logged, masked', async () => {
    const foreign = vm.runInNewContext(
      `new Error('login failed, password=${SECRETS.bodyPassword}')`,
    ) as Error;
    expect(foreign instanceof Error).toBe(false);
    log.error('foreign failure', { err: foreign });
    const text = await loggedText();
    expectNoSecret(text, [SECRETS.bodyPassword]);
    expect(text).toContain('login failed, password=***');
  });

  it('when an error is built without the Error constructor (as better-sqlite3 does), then its message is logged, masked', async () => {
    function LibError(this: { code: string }, message: string) {
      Object.defineProperty(this, 'message', { value: message, enumerable: false });
      Error.captureStackTrace(this, LibError);
      this.code = 'LIB_FAILED';
    }
    Object.setPrototypeOf(LibError.prototype, Object.create(null));
    const err = new (LibError as unknown as new (m: string) => object)(
      `token=${SECRETS.queryToken} rejected`,
    );
    log.error('library failure', { err });
    const text = await loggedText();
    expectNoSecret(text, [SECRETS.queryToken]);
    expect(text).toContain('rejected');
    expect(text).toContain('LIB_FAILED');
  });
});

describe.each(dbKinds)('[%s] secrets bound into a failed query', (kind) => {
  it('when a query carrying a token fails, then the error logged shows placeholders, not the token', async () => {
    const database = await createTestDatabase(kind);
    const db = createDb(database.url);
    const token = 'bound-tok-5e4d3c2b1a';
    let err: unknown;
    try {
      await db.knex('no_such_table').insert({ token, account: '7770000001' });
    } catch (e) {
      err = e;
    } finally {
      await db.close();
      await database.drop();
    }
    // the message itself names the table: the token would have been inlined right beside it
    expect(String((err as Error).message)).toContain('no_such_table');
    log.error('query failed', { err });
    const text = await loggedText();
    expectNoSecret(text, [token]);
    expect(text).toContain('no_such_table');
  });
});
