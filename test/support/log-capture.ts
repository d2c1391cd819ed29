import { Writable } from 'node:stream';
import { configureLogger } from '../../src/log/logger.js';

export interface LogLine {
  level: string;
  message: string;
  module?: string;
  [k: string]: unknown;
}

/** Routes the service's log into an array (JSON lines, as production writes them). */
export function captureLogs(level: 'error' | 'warn' | 'info' | 'debug' = 'warn') {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  configureLogger({ level, format: 'json', stream });
  return {
    lines,
    raw: () => lines.map((l) => JSON.stringify(l)).join('\n'),
    find: (lvl: string, text: string) => lines.filter((l) => l.level === lvl && l.message.includes(text)),
    clear: () => void lines.splice(0),
  };
}
