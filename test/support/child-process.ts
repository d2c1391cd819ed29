import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export interface ChildServer {
  child: ChildProcess;
  port: number;
  adminPort: number;
  /** stderr so far, for a failure message */
  stderr: () => string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');

/** Starts test/support/server-child.ts (or another script) in a new Node process with the given env. */
export async function startChildServer(
  env: Record<string, string>,
  script = 'test/support/server-child.ts',
): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    // A child compiles its TypeScript through tsx at start: 5 s alone, past 30 s on a machine
    // running several suites at once (seen in CI). A start is not what these tests measure.
    const timer = setTimeout(() => reject(new Error(`child did not start in 90 s: ${err}`)), 90_000);
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; port: number; adminPort: number };
        if (msg.ready) {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        // not our line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code} before ready: ${err}`));
    });
  });
  return {
    child,
    port: ready.port,
    adminPort: ready.adminPort,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
