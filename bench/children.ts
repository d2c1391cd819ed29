import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface Child {
  name: string;
  child: ChildProcess;
  port: number;
  adminPort: number;
  /** Where its stdout and stderr go. */
  logFile: string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/**
 * Starts a TypeScript entry point in a Node process of its own (closer to production than an
 * in-process server: its own event loop, its own core). Output goes to a log file, so the load
 * generator never competes with a terminal; the ports come back over IPC.
 */
export async function startChild(
  name: string,
  script: string,
  env: Record<string, string>,
  logDir: string,
  opts: { startTimeoutMs?: number; nodeArgs?: string[]; cwd?: string } = {},
): Promise<Child> {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  fs.closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in time; see ${logFile}`)),
      opts.startTimeoutMs ?? 60000,
    );
    child.on('message', (m: { ready?: boolean; port: number; adminPort: number }) => {
      if (m?.ready) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before ready; see ${logFile}`));
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    port: ready.port,
    adminPort: ready.adminPort,
    logFile,
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => alive() && child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
    async kill9() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}
