import { promises as fs, utimesSync } from 'fs';
import os from 'os';
import path from 'path';

import { LOCK_FILE, lockProject, takeOver } from './lock';

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
  const now = () => new Date().toISOString();
  const mine = { pid: process.pid, since: now() };

  it('is refused while the process that holds it runs, and taken and given back when free', async () => {
    const since = now();
    await write({ pid: process.ppid, since });
    expect(lockProject(dir)).toEqual({ heldBy: { pid: process.ppid, since }, file });
    await fs.rm(file);
    const lock = lockProject(dir);
    expect((await read()).pid).toBe(process.pid);
    // Once per process: a second lock here would be removed by the first one's release.
    expect('heldBy' in lockProject(dir)).toBe(true);
    if ('release' in lock) lock.release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it.each([
    ['its pid now belongs to a later process', { started: 'another start', since: now() }],
    ['it was written before the machine last started', { since: '2000-01-01T00:00:00.000Z' }],
  ])('takes over a lock when %s', async (_, holder) => {
    await write({ pid: process.ppid, ...holder });
    const lock = lockProject(dir);
    expect('release' in lock).toBe(true);
    expect((await read()).pid).toBe(process.pid);
    if ('release' in lock) lock.release();
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('replaces only the stale lock it read, leaving nothing of its own behind', async () => {
    const stale = { pid: 1234, since: '2001-01-01T00:00:00.000Z' };
    const fresh = { pid: process.ppid, since: now() };
    // Another run replaced the stale lock after it was read: kept.
    await write(fresh);
    expect(takeOver(file, stale, mine)).toBe(false);
    expect(await read()).toEqual(fresh);
    // The stale one is replaced in one step.
    await write(stale);
    expect(takeOver(file, stale, mine)).toBe(true);
    expect(await read()).toEqual(mine);
    expect(await fs.readdir(dir)).toEqual([LOCK_FILE]);
  });

  it('waits for another takeover under way, and abandons one left half done', async () => {
    const stale = { pid: 1234, since: '2001-01-01T00:00:00.000Z' };
    await write(stale);
    const guard = `${file}.takeover`;
    await fs.writeFile(guard, '');
    expect(takeOver(file, stale, mine)).toBe(false);
    expect(await read()).toEqual(stale);
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(guard, old, old);
    expect(takeOver(file, stale, mine)).toBe(false);
    expect(takeOver(file, stale, mine)).toBe(true);
    expect(await read()).toEqual(mine);
  });
});
