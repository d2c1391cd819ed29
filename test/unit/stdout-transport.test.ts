import winston from 'winston';
import { registerSecrets, maskText } from '../../src/log/logger.js';
import { StdoutTransport } from '../../src/log/stdout-transport.js';

/** Log lines are gathered over one turn of the event loop and written to stdout in one call. */
describe('StdoutTransport', () => {
  let writes: string[];
  let realWrite: typeof process.stdout.write;
  beforeEach(() => {
    writes = [];
    realWrite = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
  });
  afterEach(() => {
    process.stdout.write = realWrite;
  });

  const logger = (t: StdoutTransport) =>
    winston.createLogger({ level: 'info', format: winston.format.json(), transports: [t] });

  it('when three lines are logged in one turn, then they are written once, in order, after the turn', async () => {
    const t = new StdoutTransport();
    const log = logger(t);
    log.info('one', { n: 1 });
    log.info('two', { n: 2 });
    log.warn('three', { n: 3 });
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    const lines = (writes[0] as string)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string });
    expect(lines.map((l) => l.message)).toEqual(['one', 'two', 'three']);
    t.close();
  });

  it('when much is logged in one turn, then it is written before the turn ends, nothing lost', () => {
    const t = new StdoutTransport();
    const log = logger(t);
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 200; i++) log.info(big, { i });
    expect(writes.length).toBeGreaterThan(0);
    t.flush();
    const lines = writes.join('').trimEnd().split('\n');
    expect(lines).toHaveLength(200);
    expect((JSON.parse(lines[199] as string) as { i: number }).i).toBe(199);
    t.close();
  });

  it('when a secret value from config appears in any text, then maskText hides it, with the quick path too', () => {
    registerSecrets('s3cr3t-value-for-test');
    expect(maskText('plain text with s3cr3t-value-for-test inside')).toBe('plain text with *** inside');
    expect(maskText('/payment_app.cgi?command=pay&txn_id=1')).toBe('/payment_app.cgi?command=pay&txn_id=1');
    expect(maskText('Authorization: Bearer abc.def')).toBe('Authorization: Bearer ***');
    expect(maskText('{"password":"p"}')).toBe('{"password":"***"}');
  });
});
