/**
 * One collection at a time in a project directory. The CLI empties `.j1-integration` when a run
 * starts and writes into it until the run ends, so a second run started there meanwhile removed
 * the first one's output and mixed its own in, while the first still reported itself complete
 * (found by a review: a scheduled run that outlasted its interval). `npm start` takes this lock
 * before the CLI runs and gives it back when it ends.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'fs';
import path from 'path';

export const LOCK_FILE = '.j1-integration.lock';

/** A lock file too new to hold its run's pid yet is taken as held for this long. */
const WRITING_GRACE_MS = 10_000;

export interface LockHolder {
  pid: number;
  since: string;
  /** When the process started (Linux: /proc/<pid>/stat), to tell it from a later one with its pid. */
  started?: string;
}

export type LockResult = { release: () => void } | { heldBy: LockHolder; file: string };

/**
 * The project directory the collect command will use: its `-p`/`--project-path` (the last one,
 * as the command reads them; also inside combined short flags, `-Vp dir`), else the cwd.
 */
export function projectDirectory(args: string[]): string {
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') break;
    if (arg === '--project-path' && i + 1 < args.length) dir = args[++i];
    else if (arg.startsWith('--project-path=')) dir = arg.slice('--project-path='.length);
    else if (/^-[A-Za-z]+/.test(arg) && !arg.startsWith('--')) {
      const at = arg.indexOf('p');
      if (at < 0) continue;
      if (at < arg.length - 1) dir = arg.slice(at + 1);
      else if (i + 1 < args.length) dir = args[++i];
    }
  }
  return dir === undefined ? process.cwd() : path.resolve(dir);
}

/** When a process started, in clock ticks since boot; undefined where /proc cannot say. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: the
    // start time is the 22nd field of the line, the 20th after the name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the lock's process still runs: its pid, and the same process (not a later one). */
function isRunning(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process is there, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = startTime(holder.pid);
  return holder.started === undefined || started === undefined || started === holder.started;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (Number.isInteger(holder.pid) && typeof holder.since === 'string') {
      return holder as LockHolder;
    }
  } catch {
    // Unreadable: being written, or not ours.
  }
  return undefined;
}

/**
 * Removes a lock whose process is gone, `stale` as read, without removing one another run has
 * just put in its place: the file is moved aside first (one mover wins), and put back should it
 * turn out to be another than the one read.
 */
export function removeStale(file: string, stale: LockHolder | undefined): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return; // Gone already: another run took it over.
  }
  const moved = readHolder(aside);
  if (moved && (moved.pid !== stale?.pid || moved.since !== stale?.since)) {
    try {
      linkSync(aside, file); // Not over a newer lock still.
    } catch {
      // A newer lock is there already.
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the project's lock, or says which running collection holds it. A lock whose process is
 * gone (a run killed with SIGKILL, a machine that went down) is taken over.
 */
export function lockProject(projectDir: string): LockResult {
  const file = path.join(projectDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(file);
      if (holder && holder.pid !== process.pid && isRunning(holder)) {
        return { heldBy: holder, file };
      }
      if (!holder) {
        const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (age < WRITING_GRACE_MS) return { heldBy: { pid: 0, since: 'just now' }, file };
      }
      removeStale(file, holder);
      continue;
    }
    const mine: LockHolder = {
      pid: process.pid,
      since: new Date().toISOString(),
      started: startTime(process.pid),
    };
    writeSync(fd, JSON.stringify(mine));
    closeSync(fd);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
    };
    // Also when something exits the process outright (the CLI's option parser does).
    process.on('exit', release);
    return { release };
  }
  // The lock came back each time a stale one was removed: other runs are taking it.
  return { heldBy: readHolder(file) ?? { pid: 0, since: 'just now' }, file };
}
