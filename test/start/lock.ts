/**
 * One collection at a time in a project directory. The CLI empties `.j1-integration` when a run
 * starts and writes into it until the run ends, so a second run started there meanwhile removed
 * the first one's output and mixed its own in, while the first still reported itself complete
 * (found by a review: a scheduled run that outlasted its interval). `npm start` takes this lock
 * before the CLI runs and gives it back when it ends.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'fs';
import path from 'path';

export const LOCK_FILE = '.j1-integration.lock';

/** A lock file too new to hold its run's pid yet is taken as held for this long. */
const WRITING_GRACE_MS = 10_000;

export interface LockHolder {
  pid: number;
  since: string;
}

export type LockResult = { release: () => void } | { heldBy: LockHolder };

/** The project directory the collect command will use: `-p`/`--project-path`, else the cwd. */
export function projectDirectory(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if ((arg === '-p' || arg === '--project-path') && i + 1 < args.length) {
      return path.resolve(args[i + 1]);
    }
    if (arg.startsWith('--project-path=')) return path.resolve(arg.slice('--project-path='.length));
    if (/^-p./.test(arg)) return path.resolve(arg.slice(2));
  }
  return process.cwd();
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process is there, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
 * Takes the project's lock, or says which running collection holds it. A lock whose process is
 * gone (a run killed with SIGKILL, a machine that went down) is taken over.
 */
export function lockProject(projectDir: string): LockResult {
  const file = path.join(projectDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(file);
      if (holder && holder.pid !== process.pid && isRunning(holder.pid)) return { heldBy: holder };
      if (!holder) {
        const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (age < WRITING_GRACE_MS) return { heldBy: { pid: 0, since: 'just now' } };
      }
      rmSync(file, { force: true });
      continue;
    }
    const mine: LockHolder = { pid: process.pid, since: new Date().toISOString() };
    writeSync(fd, JSON.stringify(mine));
    closeSync(fd);
    let released = false;
    return {
      // Synchronous, for a signal handler; removes the file only while it is still this run's.
      release: () => {
        if (released) return;
        released = true;
        if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
      },
    };
  }
  // The lock came back between removing a stale one and taking it: another run took it.
  return { heldBy: readHolder(file) ?? { pid: 0, since: 'just now' } };
}
