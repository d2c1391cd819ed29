import fs from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * CPU time a process has used so far, ms (user + system), from /proc. On a shared machine the
 * CPU a request costs is steadier than the throughput, which depends on what else runs.
 */
export function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/**
 * CPU time of a process and all its descendants (a cluster's primary and its workers), ms. Children
 * are found through /proc's parent pids; a child that exited meanwhile is not counted.
 */
export function treeCpuMs(pid: number | undefined): number | null {
  const own = cpuMs(pid);
  if (own === null || !pid) return own;
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  let total = own;
  const walk = (parent: number) => {
    for (const [child, ppid] of parents)
      if (ppid === parent) {
        total += cpuMs(child) ?? 0;
        walk(child);
      }
  };
  walk(pid);
  return total;
}

/** The pid of the process listening on a loopback TCP port, found through /proc (null if not ours to see). */
export function pidListeningOn(port: number): number | null {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9] as string);
      }
    } catch {
      // no such table
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.has(m[1] as string)) return Number(pid);
      }
    } catch {
      // gone, or not ours
    }
  }
  return null;
}
