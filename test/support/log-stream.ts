import { PassThrough } from 'node:stream';
import { configureLogger } from '../../src/log/logger.js';

export interface LogCapture {
  /** Everything written so far. */
  text(): string;
  /** JSON lines parsed (json format only). */
  lines(): Record<string, unknown>[];
  /** Waits for winston's stream to deliver what was logged. */
  settle(): Promise<void>;
}

/** Points the real logger (formatter, masking and all) at an in-memory stream. */
export function captureLogStream(format: 'json' | 'pretty' = 'json', level = 'debug'): LogCapture {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  configureLogger({ level, format, stream });
  return {
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    settle: () => new Promise((r) => setTimeout(r, 20)),
  };
}
