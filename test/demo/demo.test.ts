import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { FIELD_ENV, instanceConfigFields } from '../../src/config';
import { readGraph } from '../helpers/graph';
import { ProcessRun, runProcess } from '../helpers/processes';
import { summaryProblems } from '../helpers/summary';
import { blankOptionalSettings } from './run';

const ROOT = path.resolve(__dirname, '..', '..');
const DEVICES = 200;

/**
 * A user's .env with every variable set to something that would show, or
 * break the run, if it reached the demo's collection: a name to look for, an
 * invalid retry budget, endpoints on a closed loopback port.
 */
const HOSTILE_ENV_FILE = [
  'CLIENT_ID=BUSINESSAPI.00000000-0000-0000-0000-000000000000',
  'KEY_ID=00000000-0000-0000-0000-000000000000',
  'PRIVATE_KEY="-----BEGIN EC PRIVATE KEY-----\\nnot a key\\n-----END EC PRIVATE KEY-----"',
  'API_BASE_URL=http://127.0.0.1:9',
  'TOKEN_URL=http://127.0.0.1:9/auth/oauth2/token',
  'ORGANIZATION_NAME=Leaked From Dotenv',
  'ORGANIZATION_ID=LEAKED-ID',
  'ORGANIZATION_EMAIL=leaked@example.com',
  'ORGANIZATION_PHONE=+1 555 0199',
  'ORGANIZATION_ADDRESS=Leaked Street 1',
  'ADMIN_ID=leaked-admin',
  'RETRY_BUDGET_SECONDS=not-a-number',
  'CHECK_RELEASED_DEVICES=true',
  'LOG_LEVEL=trace',
  '',
].join('\n');

function runDemo(cwd: string, env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  return runProcess(
    path.join(ROOT, 'node_modules', '.bin', 'ts-node'),
    ['--transpile-only', path.join(ROOT, 'test', 'demo', 'run.ts')],
    { cwd, env },
  );
}

async function statOrUndefined(file: string) {
  try {
    return await fs.stat(file);
  } catch {
    return undefined;
  }
}

describe('npm run demo', () => {
  let project: string;

  beforeAll(async () => {
    // A scratch project that runs this repository's code: the demo writes its
    // .j1-integration there, not over the developer's last collection, and the
    // CLI reads the scratch .env below instead of the developer's.
    project = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-demo-'));
    // Only src/, as README says will do: the demo points ts-node at this repository's tsconfig.
    await fs.symlink(path.join(ROOT, 'src'), path.join(project, 'src'));
    await fs.writeFile(path.join(project, '.env'), HOSTILE_ENV_FILE);
  });
  afterAll(() => fs.rm(project, { recursive: true, force: true }));

  it('collects a small fleet, prints the counts, renders the graph, and ignores .env', async () => {
    const envFile = path.join(project, '.env');
    const envBefore = await fs.stat(envFile);
    const ownSummary = path.join(ROOT, '.j1-integration', 'summary.json');
    const ownSummaryBefore = await statOrUndefined(ownSummary);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DEMO_DEVICES: String(DEVICES),
      DEMO_PROJECT_PATH: project,
    };
    delete env.LOG_LEVEL;
    const result = await runDemo(project, env);
    // On failure the diff shows what the demo printed.
    expect(result).toMatchObject({ code: 0 });

    // The counts per type, as printed.
    const printed = new Map(
      [...result.stdout.matchAll(/^\s+(\d+)\s{2}(apple_business_manager_\w+)$/gm)].map((m) => [
        m[2],
        Number(m[1]),
      ]),
    );
    expect(printed.get('apple_business_manager_organization')).toBe(1);
    expect(printed.get('apple_business_manager_mdm_server')).toBe(8);
    expect(printed.get('apple_business_manager_org_device')).toBe(DEVICES);
    expect(printed.get('apple_business_manager_organization_has_mdm_server')).toBe(8);
    expect(printed.get('apple_business_manager_organization_has_org_device')).toBe(DEVICES);
    const assignments = printed.get('apple_business_manager_mdm_server_has_org_device');
    expect(assignments).toBeGreaterThan(0);
    expect(assignments).toBeLessThan(DEVICES);
    expect(printed.size).toBe(6);

    // The picture exists, beside the output it was drawn from, with each node once.
    const storage = path.join(project, '.j1-integration');
    const picture = path.join(storage, 'index.html');
    expect(result.stdout).toContain(`The graph: ${picture}`);
    const html = await fs.readFile(picture, 'utf8');
    expect(html.split('[apple_business_manager_organization]').length - 1).toBe(1);
    expect(html.split('[apple_business_manager_org_device]').length - 1).toBe(DEVICES);

    // Nothing from .env reached the collection, and .env itself is untouched.
    const { entities } = await readGraph(storage);
    const organization = entities.find((e) => e._type === 'apple_business_manager_organization');
    expect(organization).toMatchObject({ name: 'Apple Business Manager', orgType: 'org' });
    expect(JSON.stringify(entities)).not.toMatch(/leaked/i);
    expect(await fs.readFile(envFile, 'utf8')).toBe(HOSTILE_ENV_FILE);
    expect((await fs.stat(envFile)).mtimeMs).toBe(envBefore.mtimeMs);

    // The repository's own last collection is left alone.
    expect((await statOrUndefined(ownSummary))?.mtimeMs).toBe(ownSummaryBefore?.mtimeMs);
    // Without a LOG_LEVEL the collector's log stays out of the way.
    expect(result.stdout).not.toContain('Collection summary');
  });

  it('shows the collector log, with progress and the closing summary, at LOG_LEVEL=info', async () => {
    const result = await runDemo(project, {
      ...process.env,
      DEMO_DEVICES: String(DEVICES),
      DEMO_PROJECT_PATH: project,
      LOG_LEVEL: 'info',
    });
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain(`Devices: ${DEVICES} of ${DEVICES} collected (page 1).`);
    expect(result.stdout).toMatch(
      new RegExp(
        `Collection summary: entities 1 apple_business_manager_organization, 8 apple_business_manager_mdm_server, ${DEVICES} apple_business_manager_org_device; relationships 8 apple_business_manager_organization_has_mdm_server, ${DEVICES} apple_business_manager_organization_has_org_device, \\d+ apple_business_manager_mdm_server_has_org_device\\.`,
      ),
    );
  });

  it('refuses a DEMO_PROJECT_PATH that is not a project', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-demo-empty-'));
    try {
      const result = await runDemo(empty, { ...process.env, DEMO_PROJECT_PATH: empty });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Demo failed: DEMO_PROJECT_PATH "${empty}" has no src/`);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  it('blanks every optional setting the sandbox does not provide', () => {
    const given = {
      CLIENT_ID: 'c',
      KEY_ID: 'k',
      PRIVATE_KEY: 'p',
      API_BASE_URL: 'a',
      TOKEN_URL: 't',
    };
    const blanks = blankOptionalSettings(given);
    const optional = Object.entries(instanceConfigFields)
      .filter(([, spec]) => spec.optional)
      .map(([field]) => FIELD_ENV[field as keyof typeof FIELD_ENV])
      .filter((name) => !(name in given));
    expect(Object.keys(blanks).sort()).toEqual(optional.sort());
    // Booleans too: npm start reads an empty CHECK_RELEASED_DEVICES as off.
    expect(blanks).toMatchObject({
      ORGANIZATION_NAME: '',
      ADMIN_ID: '',
      RETRY_BUDGET_SECONDS: '',
      CHECK_RELEASED_DEVICES: '',
    });
  });

  describe('summaryProblems', () => {
    const step = (id: string, status: string) => ({ id, status });

    it('finds none in a complete collection, or one of chosen steps (--step)', () => {
      expect(
        summaryProblems({
          integrationStepResults: [
            step('fetch-organization', 'success'),
            step('fetch-mdm-servers', 'cached'),
            step('build-mdm-server-device-relationships', 'disabled'),
          ],
          metadata: { partialDatasets: { types: [] } },
        }),
      ).toEqual([]);
    });

    it('names each step that did not succeed and the partial datasets', () => {
      expect(
        summaryProblems({
          integrationStepResults: [
            step('fetch-organization', 'success'),
            step('fetch-devices', 'failure'),
            step(
              'build-mdm-server-device-relationships',
              'partial_success_due_to_dependency_failure',
            ),
          ],
          metadata: {
            partialDatasets: {
              types: [
                'apple_business_manager_org_device',
                'apple_business_manager_mdm_server_has_org_device',
              ],
            },
          },
        }),
      ).toEqual([
        'step fetch-devices ended with "failure"',
        'step build-mdm-server-device-relationships ended with "partial_success_due_to_dependency_failure"',
        'partial datasets: apple_business_manager_org_device, apple_business_manager_mdm_server_has_org_device',
      ]);
    });

    it('counts a missing summary.json as a failure', () => {
      expect(summaryProblems(undefined)).toEqual(['the collection wrote no summary.json']);
    });
  });
});
