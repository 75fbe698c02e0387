import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * Linux /proc readers for tests of multi-process serving: which processes a
 * parent has, whether one still runs, and which process owns the server side
 * of the TCP connections to a port.
 */

/** PIDs whose parent is `pid` (zombies excluded). */
export async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readStat(Number(name));
    if (stat !== undefined && stat.ppid === pid && stat.state !== 'Z') children.push(Number(name));
  }
  return children.sort((a, b) => a - b);
}

/** True while `pid` exists and is not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

async function readStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** For each of `pids`, how many ESTABLISHED TCP connections to local `port` it holds. */
export async function connectionsByPid(port: number, pids: readonly number[]): Promise<Map<number, number>> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // cols[3] is the state: 01 = ESTABLISHED; cols[9] the socket inode
      if (local === undefined || cols[3] !== '01' || cols[9] === undefined) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
    }
  }
  const counts = new Map<number, number>();
  for (const pid of pids) {
    let count = 0;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) count++;
    }
    counts.set(pid, count);
  }
  return counts;
}
