import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { LOCK_FILE, lockProject, removeStale } from './lock';

describe('the project lock', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-lock-'));
    file = path.join(dir, LOCK_FILE);
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const write = (holder: object) => fs.writeFile(file, JSON.stringify(holder));
  const read = async () => JSON.parse(await fs.readFile(file, 'utf8'));

  it('is refused while the process that holds it runs', async () => {
    await write({ pid: process.ppid, since: 'earlier' });
    expect(lockProject(dir)).toEqual({ heldBy: { pid: process.ppid, since: 'earlier' }, file });
  });

  it('takes over a lock whose pid now belongs to another process (a later start)', async () => {
    await write({ pid: process.ppid, since: 'before a reboot', started: 'another start' });
    const lock = lockProject(dir);
    expect('release' in lock).toBe(true);
    expect((await read()).pid).toBe(process.pid);
    if ('release' in lock) lock.release();
    await expect(fs.stat(file)).rejects.toThrow();
  });

  it('does not remove a lock another run put in place of the stale one it read', async () => {
    // Read as stale: pid 1234's. By the time it is removed, another run's lock is there.
    await write({ pid: process.ppid, since: 'just now' });
    removeStale(file, { pid: 1234, since: 'long ago' });
    expect(await read()).toEqual({ pid: process.ppid, since: 'just now' });
    // The stale one itself is removed.
    await write({ pid: 1234, since: 'long ago' });
    removeStale(file, { pid: 1234, since: 'long ago' });
    await expect(fs.stat(file)).rejects.toThrow();
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
