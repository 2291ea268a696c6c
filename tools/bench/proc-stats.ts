/** CPU time and memory of processes, from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory now and its peak since the process started, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Children of `parentPid` whose command line contains `fragment`. */
export function childPidsMatching(parentPid: number, fragment: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === parentPid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(fragment)) {
        pids.push(Number(entry));
      }
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

/** Every process whose command name is `command` (e.g. all PostgreSQL backends), machine-wide. */
export function pidsOfCommand(command: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === command;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** CPU seconds per pid, leaving out processes that have exited. */
function cpuSecondsByPid(pids: readonly number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    try {
      seconds.set(pid, cpuSeconds(pid));
    } catch {
      // exited
    }
  }
  return seconds;
}

/**
 * CPU used by each group of processes between two readings, as a share of one
 * core. Only processes alive at both readings count (a PostgreSQL backend that
 * closed in between is left out rather than subtracted).
 */
export class CpuMeter {
  private readonly startedAt = performance.now();
  private readonly before: Map<string, Map<number, number>>;

  constructor(groups: ReadonlyMap<string, readonly number[]>) {
    this.before = new Map([...groups].map(([name, pids]) => [name, cpuSecondsByPid(pids)]));
  }

  read(): Map<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return new Map(
      [...this.before].map(([name, before]) => {
        let used = 0;
        for (const [pid, now] of cpuSecondsByPid([...before.keys()])) used += now - (before.get(pid) ?? now);
        return [name, used / seconds];
      }),
    );
  }
}
