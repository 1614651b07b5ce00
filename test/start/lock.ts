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
  writeFileSync,
} from 'fs';
import os from 'os';
import path from 'path';

export const LOCK_FILE = '.j1-integration.lock';

/** A takeover left half done (its process killed in the middle) is abandoned after this long. */
const TAKEOVER_GRACE_MS = 10_000;

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

/**
 * Whether the lock's process still runs: its pid, the same process (not a later one given its
 * pid: the start time, where /proc tells it), and a lock written since the machine last started.
 */
function isRunning(holder: LockHolder): boolean {
  const since = Date.parse(holder.since);
  if (Number.isFinite(since) && since < Date.now() - os.uptime() * 1000 - 60_000) return false;
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
    // Unreadable: not a lock of ours (a lock is never seen half written: see `create`).
  }
  return undefined;
}

const sameHolder = (a: LockHolder | undefined, b: LockHolder | undefined): boolean =>
  a?.pid === b?.pid && a?.since === b?.since;

/** Writes `holder` to a file of its own next to `file`, for `fn` to put in place; then removes it. */
function withWritten<T>(file: string, holder: LockHolder, fn: (written: string) => T): T {
  const written = `${file}.${process.pid}.new`;
  writeFileSync(written, JSON.stringify(holder));
  try {
    return fn(written);
  } finally {
    rmSync(written, { force: true });
  }
}

/**
 * Creates the lock when there is none: written whole first and then linked into place, so that
 * no other run ever reads it empty or half written. False when a lock is there.
 */
function create(file: string, holder: LockHolder): boolean {
  return withWritten(file, holder, (written) => {
    try {
      linkSync(written, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  });
}

/**
 * Replaces the lock `stale` (as read; undefined when unreadable) with `holder`'s, unless another
 * run has replaced it meanwhile. Takeovers are serialized by a guard file, and the lock's name is
 * never free during one (an atomic rename replaces it), so a run starting then finds it held.
 */
export function takeOver(file: string, stale: LockHolder | undefined, holder: LockHolder): boolean {
  const guard = `${file}.takeover`;
  try {
    closeSync(openSync(guard, 'wx'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > TAKEOVER_GRACE_MS) rmSync(guard, { force: true });
    return false;
  }
  try {
    if (!sameHolder(readHolder(file), stale)) return false;
    return withWritten(file, holder, (written) => {
      renameSync(written, file);
      return true;
    });
  } finally {
    rmSync(guard, { force: true });
  }
}

/**
 * Takes the project's lock, or says which running collection holds it. A lock whose process is
 * gone (a run killed with SIGKILL, a machine that went down) is taken over.
 */
export function lockProject(projectDir: string): LockResult {
  const file = path.join(projectDir, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    since: new Date().toISOString(),
    started: startTime(process.pid),
  };
  let taken = false;
  for (let attempt = 0; attempt < 5 && !taken; attempt++) {
    if (create(file, mine)) {
      taken = true;
      break;
    }
    const holder = readHolder(file);
    // This process holds it already: a second lock would be released by the first's release.
    if (holder && (holder.pid === process.pid || isRunning(holder))) {
      return { heldBy: holder, file };
    }
    taken = takeOver(file, holder, mine);
  }
  if (!taken) return { heldBy: readHolder(file) ?? { pid: 0, since: 'just now' }, file };
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (sameHolder(readHolder(file), mine)) rmSync(file, { force: true });
  };
  // Also when something exits the process outright (the CLI's option parser does).
  process.on('exit', release);
  return { release };
}
