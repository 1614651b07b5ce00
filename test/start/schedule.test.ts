/**
 * README's schedule script, as written there, run by `sh` with stand-ins for `npm` and `npx` that
 * exit as told: which exit statuses upload, and what the script itself exits with. (That `npm
 * start` exits 0, 1 or 2 as documented, and that `j1-integration sync` uploads what it collected,
 * `start.test.ts` shows with the real commands.)
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { runProcess } from '../helpers/processes';

const README = path.resolve(__dirname, '..', '..', 'README.md');

async function scheduleScript(): Promise<string> {
  const readme = await fs.readFile(README, 'utf8');
  const section = readme.slice(readme.indexOf('### Running on a schedule'));
  const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!script?.startsWith('npm start')) throw new Error("README's schedule script not found");
  return script;
}

describe("README's schedule script", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-schedule-'));
    // Each stand-in notes how it was called, then exits with the status it is told to.
    for (const [name, status] of [
      ['npm', 'START_STATUS'],
      ['npx', 'SYNC_STATUS'],
    ]) {
      const stub = path.join(dir, name);
      await fs.writeFile(stub, `#!/bin/sh\necho "${name} $*" >> "$CALLS"\nexit "$${status}"\n`);
      await fs.chmod(stub, 0o755);
    }
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it.each([
    [0, 0, 0, true],
    [2, 0, 2, true],
    [0, 1, 3, true],
    [2, 1, 3, true],
    [1, 0, 1, false],
    [137, 0, 137, false],
    [130, 0, 130, false],
  ])(
    'npm start exiting %i and the upload %i: exits %i (uploads: %s)',
    async (start, sync, expected, uploads) => {
      const calls = path.join(dir, `calls-${start}-${sync}`);
      const run = await runProcess('sh', ['-c', await scheduleScript()], {
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${dir}${path.delimiter}${process.env.PATH}`,
          CALLS: calls,
          START_STATUS: String(start),
          SYNC_STATUS: String(sync),
          INSTANCE_ID: 'instance-1',
        },
      });
      expect(run.code).toBe(expected);
      const called = (await fs.readFile(calls, 'utf8')).trim().split('\n');
      expect(called).toEqual([
        'npm start',
        ...(uploads ? ['npx j1-integration sync --integrationInstanceId instance-1'] : []),
      ]);
    },
  );
});
