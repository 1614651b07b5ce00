import { spawnSync } from 'child_process';
import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { FIELD_ENV, instanceConfigFields, IntegrationConfig, parseConfig } from '../../src/config';
import { Entities, Relationships } from '../../src/steps/constants';
import { readGraph } from '../helpers/graph';
import { generateP256 } from '../helpers/keys';
import { fakeSynchronizationApi } from '../helpers/fakeJupiterOne';
import { ProcessRun, runProcess, startProcess } from '../helpers/processes';
import { sandboxEnv } from '../helpers/sandboxEnv';
import { Sandbox, startSandbox } from '../sandbox';
import {
  EXIT_COMPLETE,
  EXIT_INCOMPLETE,
  EXIT_NOT_RUN,
  configFromEnvironment,
  envFileHints,
  normalizedFlags,
} from './run';
import { LOCK_FILE, projectDirectory } from './lock';

const ROOT = path.resolve(__dirname, '..', '..');
const TS_NODE = require.resolve('ts-node/register/transpile-only', { paths: [ROOT] });
const LAUNCHER = path.join(__dirname, 'run.ts');
const DEVICES = 120;

/** A Node stack frame, as printed with a stack trace. */
const STACK_FRAME = /^\s+at .+[(:]\d+/m;

/** The environment without any of the collector's settings or a log level, as a fresh shell has it. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.values(FIELD_ENV)) delete env[name];
  delete env.LOG_LEVEL;
  delete env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE;
  return env;
}

/** The SDK's CLI, as `npx j1-integration` runs it. */
const BARE_CLI = path.join(ROOT, 'node_modules', '.bin', 'j1-integration');

/** `npm start` as package.json has it, run in `cwd`. */
function runStart(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<ProcessRun> {
  return runProcess(process.execPath, ['-r', TS_NODE, LAUNCHER, ...args], { cwd, env });
}

const exists = (file: string): Promise<boolean> =>
  fs.stat(file).then(
    () => true,
    () => false,
  );
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `npm start` in `project`, through a scratch package.json whose start script is this one's. */
async function npmStart(project: string, env: NodeJS.ProcessEnv) {
  const manifest = path.join(project, 'package.json');
  const script = `"${process.execPath}" -r "${TS_NODE}" "${LAUNCHER}"`;
  await fs.writeFile(manifest, JSON.stringify({ name: 'scratch', scripts: { start: script } }));
  return { npm: startProcess('npm', ['start', '--silent'], { cwd: project, env }), manifest };
}

/** The lock's holder, once a run has written it (within 15 s). */
async function lockHolder(lock: string): Promise<{ pid: number; since: string }> {
  for (let i = 0; i < 300; i++) {
    const text = await fs.readFile(lock, 'utf8').catch(() => '');
    if (text) return JSON.parse(text);
    await sleep(50);
  }
  throw new Error(`no lock at ${lock}`);
}

/** A .env file's text; the key on one line with literal \n, as .env.example shows. */
function envFile(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name}="${value.replace(/\n/g, '\\n')}"`)
    .join('\n');
}

describe('npm start', () => {
  it('runs test/start/run.ts under the ts-node registration the CLI itself uses', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.scripts.start).toBe(
      'node -r ts-node/register/transpile-only test/start/run.ts',
    );
  });

  describe('configFromEnvironment', () => {
    it('reads each field from the variable the SDK loader reads it from', () => {
      // The SDK's rule (integration-sdk-runtime, execution/config): the field name in snake case, upper case.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const snakeCase: (text: string) => string = require('lodash/snakeCase');
      for (const field of Object.keys(instanceConfigFields)) {
        expect(FIELD_ENV[field as keyof typeof FIELD_ENV]).toBe(snakeCase(field).toUpperCase());
      }
      expect(
        configFromEnvironment({ CLIENT_ID: 'c', CHECK_RELEASED_DEVICES: '', UNRELATED: 'x' }),
      ).toEqual({ clientId: 'c', checkReleasedDevices: '' });
    });
  });

  describe('normalizedFlags', () => {
    const KEY = generateP256();
    const settings = {
      clientId: `BUSINESSAPI.${randomUUID()}`,
      keyId: randomUUID(),
      privateKey: KEY.pkcs8,
    };
    const flags = (config: Partial<IntegrationConfig>) =>
      normalizedFlags(config, parseConfig({ ...settings, ...config }));

    it.each([
      ['', 'false'],
      ['  ', 'false'],
      [' TRUE ', 'true'],
      ['False', 'false'],
      // Quoted in the environment (a shell's quotes inside single quotes, Docker's --env-file):
      // the collector reads them as the value they hold, so the SDK loader must see that value
      // (found by a review: it saw "true" in quotes and refused it after the check had passed).
      ['"true"', 'true'],
      ["'TRUE'", 'true'],
      ['""', 'false'],
    ])('makes CHECK_RELEASED_DEVICES=%j what the SDK loader accepts', (given, expected) => {
      expect(flags({ checkReleasedDevices: given as unknown as boolean })).toEqual({
        CHECK_RELEASED_DEVICES: expected,
      });
    });

    it('leaves a flag that is not given unset', () => {
      expect(flags({})).toEqual({});
    });
  });

  describe('envFileHints', () => {
    const env = (text: string) => Buffer.from(text, 'utf8');

    it('names a line dotenv skips for its "export"', () => {
      expect(envFileHints(env('export CLIENT_ID=x\nKEY_ID=y\n'), {})).toEqual([
        `.env's CLIENT_ID line starts with "export", so it is not read: remove "export "`,
      ]);
    });

    it('names a variable set empty in the environment that hides the value in .env', () => {
      expect(envFileHints(env('CLIENT_ID="x"\nKEY_ID=\n'), { CLIENT_ID: '', KEY_ID: '' })).toEqual([
        "CLIENT_ID is set but empty in the environment, which hides .env's value: unset it (unset CLIENT_ID)",
      ]);
    });

    it.each([
      ['UTF-16 LE with its mark', Buffer.from('\uFEFFCLIENT_ID=x\r\n', 'utf16le')],
      ['UTF-16 without a mark', Buffer.from('CLIENT_ID=x\r\n', 'utf16le')],
    ])('says a .env in %s is not read', (_, text) => {
      expect(envFileHints(text, {})).toEqual([expect.stringMatching(/^\.env is not UTF-8/)]);
    });

    it('finds nothing wrong in a .env dotenv reads, whatever it holds besides', () => {
      const text = env('# comment\nCLIENT_ID=x\nexport OTHER=1\nKEY_ID = "y"\n');
      expect(envFileHints(text, { KEY_ID: 'set', OTHER: '' })).toEqual([]);
    });
  });

  it('finds the project directory the collect command will use', () => {
    expect(projectDirectory([])).toBe(process.cwd());
    expect(projectDirectory(['--step', 'x', '-p', 'some/dir'])).toBe(path.resolve('some/dir'));
    expect(projectDirectory(['--project-path', '/a'])).toBe('/a');
    expect(projectDirectory(['--project-path=/b'])).toBe('/b');
    expect(projectDirectory(['-p/c'])).toBe('/c');
    // The last one counts, as for the command; also inside combined short flags.
    expect(projectDirectory(['-p', '/d', '--project-path', '/e'])).toBe('/e');
    expect(projectDirectory(['-Vp', '/f'])).toBe('/f');
    expect(projectDirectory(['-V', '--step', 'fetch-devices'])).toBe(process.cwd());
  });

  describe('as a process', () => {
    let sandbox: Sandbox;
    let project: string;

    beforeAll(async () => {
      sandbox = await startSandbox({ devices: DEVICES, servers: 3, seed: 5 });
      project = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-start-'));
      await fs.symlink(path.join(ROOT, 'src'), path.join(project, 'src'));
      await fs.symlink(path.join(ROOT, 'tsconfig.json'), path.join(project, 'tsconfig.json'));
    });
    afterAll(async () => {
      await sandbox?.stop();
      await fs.rm(project, { recursive: true, force: true });
    });
    beforeEach(async () => {
      sandbox.setFaults({});
      await fs.rm(path.join(project, '.env'), { force: true });
      await fs.rm(path.join(project, '.j1-integration'), { recursive: true, force: true });
    });

    it('without settings, names the first missing one and where settings come from; no stack trace', async () => {
      const result = await runStart(project, cleanEnv());
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toContain(
        "The collection did not run: Missing clientId (CLIENT_ID): copy it from the API account's page",
      );
      expect(result.stderr).toContain(
        `No settings found: there is no ${path.join(project, '.env')}. Copy .env.example there and fill it in, or set CLIENT_ID, KEY_ID, PRIVATE_KEY in the environment.`,
      );
      expect(result.stderr).not.toMatch(STACK_FRAME);
      // The AWS SDK's end-of-support notice is not shown.
      expect(result.stderr).not.toContain('AWS SDK');
      // Nothing ran: no output directory.
      await expect(fs.stat(path.join(project, '.j1-integration'))).rejects.toThrow();
    });

    it('refuses a CHECK_RELEASED_DEVICES that is not a boolean with the collector message', async () => {
      await fs.writeFile(
        path.join(project, '.env'),
        envFile({ ...sandboxEnv(sandbox), CHECK_RELEASED_DEVICES: 'maybe' }),
      );
      const result = await runStart(project, cleanEnv());
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toContain(
        'The collection did not run: checkReleasedDevices (CHECK_RELEASED_DEVICES) must be true or false, got "maybe".',
      );
      expect(result.stderr).toContain(`then from ${path.join(project, '.env')}.`);
      expect(result.stderr).not.toMatch(STACK_FRAME);
    });

    it('collects with settings from .env, where an empty CHECK_RELEASED_DEVICES means off', async () => {
      await fs.writeFile(
        path.join(project, '.env'),
        envFile({ ...sandboxEnv(sandbox), CHECK_RELEASED_DEVICES: '', RETRY_BUDGET_SECONDS: '' }),
      );
      const result = await runStart(project, { ...cleanEnv(), LOG_LEVEL: 'error' });
      expect(result).toMatchObject({ code: EXIT_COMPLETE, stderr: '' });
      const { entities } = await readGraph(path.join(project, '.j1-integration'));
      expect(entities.filter((e) => e._type === 'apple_business_manager_org_device')).toHaveLength(
        DEVICES,
      );
      // Off: no device was looked up one by one.
      expect(sandbox.stats().byEndpoint['orgDevices.get']).toBeUndefined();
    });

    it('ends a run whose credentials Apple refuses with the message alone, and no key in it', async () => {
      const settings: Record<string, string> = {
        ...sandboxEnv(sandbox),
        KEY_ID: '11111111-2222-3333-4444-555555555555',
      };
      const result = await runStart(project, { ...cleanEnv(), ...settings, LOG_LEVEL: 'error' });
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toMatch(
        /The collection did not run: .*Apple did not accept the credentials: check that the Key ID/,
      );
      expect(result.stderr).not.toMatch(STACK_FRAME);
      const keyBody = settings.PRIVATE_KEY.split('\n')[1];
      expect(`${result.stdout}${result.stderr}`).not.toContain(keyBody);
    });

    it('reads .env exactly as the bare CLI does, ${VAR} expansion included', async () => {
      await fs.writeFile(
        path.join(project, '.env'),
        envFile({ ...sandboxEnv(sandbox), ORGANIZATION_NAME: 'R\\\\$HOME Labs at ${USER}' }),
      );
      const organizationName = async () => {
        const { entities } = await readGraph(path.join(project, '.j1-integration'));
        return entities.find((e) => e._type === 'apple_business_manager_organization')?.displayName;
      };
      const env = { ...cleanEnv(), LOG_LEVEL: 'error', HOME: '/home/h', USER: 'u' };
      expect(await runProcess(BARE_CLI, ['collect'], { cwd: project, env })).toMatchObject({
        code: 0,
      });
      const bare = await organizationName();
      // Whatever the SDK makes of the escaped $ (it expands .env twice), npm start makes the same.
      expect(bare).toContain('Labs at u');
      expect(await runStart(project, env)).toMatchObject({ code: EXIT_COMPLETE });
      expect(await organizationName()).toBe(bare);
    });

    it('exits 0 for a run of chosen steps (--step) that completed', async () => {
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      expect(await runStart(project, env)).toMatchObject({ code: EXIT_COMPLETE });
      const chosen = await runStart(project, env, ['--step', 'fetch-devices']);
      expect(chosen).toMatchObject({ code: EXIT_COMPLETE, stderr: '' });
      const summary = JSON.parse(
        await fs.readFile(path.join(project, '.j1-integration', 'summary.json'), 'utf8'),
      );
      const statuses = summary.integrationStepResults.map((s: { status: string }) => s.status);
      // What the run of one step reports for the others, which are not failures.
      expect(new Set(statuses)).toEqual(new Set(['success', 'cached', 'disabled']));
      await fs.rm(path.join(project, '.j1-integration-cache'), { recursive: true, force: true });
    });

    it('refuses a wrong combination of CLI options with its message alone', async () => {
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const result = await runStart(project, env, ['--no-cache']);
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toContain(
        'The collection did not run: Invalid option: Option --no-cache requires option --step',
      );
      expect(result.stderr).not.toMatch(STACK_FRAME);
    });

    it('refuses a LOG_LEVEL the logger does not know before anything runs, without a stack trace', async () => {
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'warning' };
      sandbox.resetStats();
      const result = await runStart(project, env);
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toContain(
        'The collection did not run: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, got "warning".',
      );
      expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(sandbox.stats().byEndpoint.token).toBeUndefined();
      // Any case, as the logger takes it.
      expect(await runStart(project, { ...env, LOG_LEVEL: 'ERROR' })).toMatchObject({
        code: EXIT_COMPLETE,
      });
    });

    it('refuses a --step that names no step, listing the steps, without a stack trace', async () => {
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const result = await runStart(project, env, ['--step', 'fetch-device']);
      expect(result.code).toBe(EXIT_NOT_RUN);
      expect(result.stderr).toContain(
        'The collection did not run: --step names no step: "fetch-device". The steps are fetch-organization, fetch-mdm-servers, fetch-devices, build-mdm-server-device-relationships.',
      );
      expect(result.stderr).not.toMatch(STACK_FRAME);
    });

    it('says why a setting in .env did not count: an "export" line, or the variable set empty', async () => {
      const settings = sandboxEnv(sandbox);
      await fs.writeFile(
        path.join(project, '.env'),
        envFile(settings).replace('CLIENT_ID=', 'export CLIENT_ID='),
      );
      const exported = await runStart(project, cleanEnv());
      expect(exported.code).toBe(EXIT_NOT_RUN);
      expect(exported.stderr).toContain('Missing clientId (CLIENT_ID)');
      expect(exported.stderr).toContain(
        `.env's CLIENT_ID line starts with "export", so it is not read: remove "export "`,
      );

      await fs.writeFile(path.join(project, '.env'), envFile(settings));
      const hidden = await runStart(project, { ...cleanEnv(), KEY_ID: '' });
      expect(hidden.code).toBe(EXIT_NOT_RUN);
      expect(hidden.stderr).toContain('Missing keyId (KEY_ID)');
      expect(hidden.stderr).toContain(
        "KEY_ID is set but empty in the environment, which hides .env's value: unset it (unset KEY_ID)",
      );
    });

    it('says the run stopped, not that it did not run, when Apple refuses the API mid-run (exit 1: nothing to upload)', async () => {
      // Every API request refused from the start: an authentication error, which the SDK makes
      // fatal even inside a step, after the organization step has written its entity.
      sandbox.setFaults({ rules: [{ kind: 'status', status: 401, endpoints: 'api' }] });
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const stopped = await runStart(project, env);
      expect(stopped.code).toBe(EXIT_NOT_RUN);
      expect(stopped.stderr).toMatch(
        /The collection stopped: Provider authentication failed at GET/,
      );
      expect(stopped.stderr).toContain(
        `${path.join(project, '.j1-integration')} holds what the steps wrote before it, without summary.json: nothing of it is reported complete; do not upload it.`,
      );
      expect(stopped.stderr).not.toMatch(STACK_FRAME);

      // A run refused before its steps, after a run that wrote a graph, still did not run.
      sandbox.setFaults({});
      const refused = await runStart(project, {
        ...env,
        KEY_ID: '11111111-2222-3333-4444-555555555555',
      });
      expect(refused.code).toBe(EXIT_NOT_RUN);
      expect(refused.stderr).toContain('The collection did not run: ');
    });

    it('runs one collection at a time in a directory; stopped by a signal, exits 1 saying not to upload', async () => {
      // Slow answers keep the first run going while the second starts.
      sandbox.setFaults({ latency: { ms: 2000, endpoints: 'api' } });
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const lock = path.join(project, LOCK_FILE);
      const first = startProcess(process.execPath, ['-r', TS_NODE, LAUNCHER], {
        cwd: project,
        env,
      });
      try {
        const holder = await lockHolder(lock);
        expect(holder.pid).toBe(first.child.pid);

        const second = await runStart(project, env);
        expect(second.code).toBe(EXIT_NOT_RUN);
        expect(second.stderr).toContain(
          `The collection did not run: another collection is running in ${project} (pid ${first.child.pid}, since ${holder.since}). Two runs in one directory overwrite each other's output`,
        );
        expect(second.stderr).not.toMatch(STACK_FRAME);

        first.child.kill('SIGTERM');
        const stopped = await first.done;
        expect(stopped.code).toBe(EXIT_NOT_RUN);
        expect(stopped.stderr).toContain(
          `The collection stopped: interrupted by SIGTERM. Do not upload what ${path.join(project, '.j1-integration')} holds: this run did not finish.`,
        );
        expect(await exists(lock)).toBe(false);
      } finally {
        first.child.kill('SIGKILL');
      }
    });

    it("stops, giving the lock back, when npm start is stopped by npm's pid (npm signals only its shell)", async () => {
      sandbox.setFaults({ latency: { ms: 2000, endpoints: 'api' } });
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const lock = path.join(project, LOCK_FILE);
      // This package's start script, run by npm in the scratch project.
      const { npm, manifest } = await npmStart(project, env);
      let collector = 0;
      try {
        collector = (await lockHolder(lock)).pid;
        expect(collector).not.toBe(npm.child.pid);
        npm.child.kill('SIGTERM');
        // Done once every holder of npm's output pipes is gone: the collector's process too.
        const run = await npm.done;
        expect(run.stderr).toContain(
          `The collection stopped: npm, which started it, was stopped. Do not upload what ${path.join(project, '.j1-integration')} holds: this run did not finish.`,
        );
        expect(await exists(lock)).toBe(false);
      } finally {
        if (collector) spawnSync('kill', ['-9', String(collector)]);
        await fs.rm(manifest, { force: true });
      }
    });

    it('stops too when npm is stopped as the collection starts, before it reads its settings', async () => {
      sandbox.setFaults({ latency: { ms: 2000, endpoints: 'api' } });
      const env = { ...cleanEnv(), ...sandboxEnv(sandbox), LOG_LEVEL: 'error' };
      const { npm, manifest } = await npmStart(project, env);
      const childrenOf = (pid: number | undefined) =>
        spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean)
          .map(Number);
      let collector = 0;
      try {
        // The moment the shell has started the collector's process: npm is stopped at once.
        for (let i = 0; i < 400 && !collector; i++) {
          collector = childrenOf(npm.child.pid).flatMap(childrenOf)[0] ?? 0;
          if (!collector) await sleep(25);
        }
        expect(collector).toBeGreaterThan(0);
        npm.child.kill('SIGTERM');
        const run = await npm.done;
        expect(run.stderr).toContain('The collection stopped: npm, which started it, was stopped.');
        expect(await exists(path.join(project, LOCK_FILE))).toBe(false);
      } finally {
        if (collector) spawnSync('kill', ['-9', String(collector)]);
        await fs.rm(manifest, { force: true });
      }
    });

    it('takes over a lock left by a run that is gone, and gives it back when done', async () => {
      const gone = await runProcess(process.execPath, ['-e', 'console.log(process.pid)'], {
        cwd: project,
        env: cleanEnv(),
      });
      const lock = path.join(project, LOCK_FILE);
      await fs.writeFile(lock, JSON.stringify({ pid: Number(gone.stdout), since: 'yesterday' }));
      const run = await runStart(project, { ...cleanEnv(), ...sandboxEnv(sandbox) });
      expect(run.code).toBe(EXIT_COMPLETE);
      expect(await exists(lock)).toBe(false);
    });

    it('exits 2, and says which step failed, when the collection is incomplete', async () => {
      sandbox.setFaults({ rules: [{ kind: 'status', status: 403, endpoints: 'orgDevices.list' }] });
      const result = await runStart(project, {
        ...cleanEnv(),
        ...sandboxEnv(sandbox),
        LOG_LEVEL: 'error',
      });
      expect(result.code).toBe(EXIT_INCOMPLETE);
      expect(result.stderr).toContain(
        'The collection is incomplete: step fetch-devices ended with "failure"',
      );
      expect(result.stderr).toContain(
        `${path.join(project, '.j1-integration')} holds what was collected`,
      );
    });

    it("uploads an incomplete run with the README's `j1-integration sync`, the failed step's types marked partial", async () => {
      // The id lists fail, so the assignments step does; the rest of the graph is complete.
      sandbox.setFaults({
        rules: [{ kind: 'status', status: 403, endpoints: 'mdmServers.devices' }],
      });
      const collected = await runStart(project, {
        ...cleanEnv(),
        ...sandboxEnv(sandbox),
        LOG_LEVEL: 'error',
      });
      expect(collected.code).toBe(EXIT_INCOMPLETE);

      const j1 = await fakeSynchronizationApi();
      try {
        const synced = await runProcess(
          BARE_CLI,
          ['sync', '--api-base-url', j1.url, '--account', 'j1-account', '-i', 'instance-1'],
          { cwd: project, env: { ...cleanEnv(), JUPITERONE_API_KEY: 'j1-api-key' } },
        );
        expect(synced.code).toBe(0);
        const paths = j1.requests.map((r) => `${r.method} ${r.path}`);
        expect(paths[0]).toBe('POST /persister/synchronization/jobs');
        expect(paths[paths.length - 1]).toBe('POST /persister/synchronization/jobs/job-1/finalize');
        expect(j1.requests[0].body).toEqual({
          source: 'integration-managed',
          integrationInstanceId: 'instance-1',
        });
        for (const request of j1.requests) {
          expect(request.authorization).toBe('Bearer j1-api-key');
          expect(request.account).toBe('j1-account');
        }

        // Everything collected is uploaded, once.
        const graph = await readGraph(path.join(project, '.j1-integration'));
        const uploaded = (kind: 'entities' | 'relationships') =>
          j1.requests
            .filter((r) => r.path === `/persister/synchronization/jobs/job-1/${kind}`)
            .flatMap((r) => (r.body as Record<string, Array<{ _key: string }>>)[kind])
            .map((o) => o._key)
            .sort();
        expect(uploaded('entities')).toEqual(graph.entities.map((e) => e._key).sort());
        const devices = uploaded('entities').filter((k) => k.startsWith(Entities.DEVICE._type));
        expect(devices).toHaveLength(DEVICES);
        expect(uploaded('relationships')).toEqual(graph.relationships.map((r) => r._key).sort());
        expect(graph.relationships.map((r) => r._type)).not.toContain(
          Relationships.MDM_SERVER_HAS_DEVICE._type,
        );

        // JupiterOne keeps its previous assignments rather than deleting them, and replaces the rest.
        const finalize = j1.requests[j1.requests.length - 1].body as {
          partialDatasets: { types: string[] };
        };
        expect(finalize.partialDatasets.types).toEqual([Relationships.MDM_SERVER_HAS_DEVICE._type]);
        expect(finalize.partialDatasets.types).not.toContain(Entities.DEVICE._type);
      } finally {
        await j1.stop();
      }
    });
  });
});
