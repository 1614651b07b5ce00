/**
 * Secrets (the private key, client assertions, access tokens) never reach a log line, an error
 * message, the collector's output, a committed recording or what `j1-integration sync` uploads.
 * A full collection runs through the real CLI in a child process, logging at `trace`, through
 * faults that exercise the error paths (a revoked token, 5xx from the token endpoint, a failing
 * step), behind a proxy that records every assertion and token that crossed the wire.
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { IntegrationValidationError } from '@jupiterone/integration-sdk-core';

import { collectFromSandbox } from '../helpers/collect';
import { fakeSynchronizationApi } from '../helpers/fakeJupiterOne';
import { ProcessRun, runProcess } from '../helpers/processes';
import { appleError, startTapProxy, TapProxy } from '../helpers/tapProxy';
import { RECORDING_FLEET } from '../recording';
import { Sandbox, startSandbox } from '../sandbox';
import { captureOutput } from './support';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'node_modules', '.bin', 'j1-integration');

/** A compact JWS whose header and payload are JSON objects: how every assertion looks. */
const JWS = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}/;
const PEM_BEGIN = /-----BEGIN [A-Z ]*(PRIVATE KEY|EC PARAMETERS)-----/;

/** The base64 lines of a PEM's body that are long enough to be unmistakable. */
function keyBodyLines(pem: string): string[] {
  return pem
    .replace(/\\n/g, '\n')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
}

/** Names of the secrets found in `text`, e.g. `access token #2`; empty when clean. */
function leaks(
  text: string,
  secrets: { keyLines: string[]; assertions: string[]; tokens: string[] },
): string[] {
  const found: string[] = [];
  secrets.keyLines.forEach((line, i) => {
    if (text.includes(line)) found.push(`private key line ${i + 1}`);
  });
  secrets.assertions.forEach((a, i) => {
    if (text.includes(a) || text.includes(a.split('.')[2]))
      found.push(`client assertion #${i + 1}`);
  });
  secrets.tokens.forEach((t, i) => {
    if (text.includes(t)) found.push(`access token #${i + 1}`);
  });
  if (JWS.test(text)) found.push(`a JWS (${JWS.exec(text)?.[0].slice(0, 12)}...)`);
  if (PEM_BEGIN.test(text)) found.push('a PEM private key block');
  return found;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<ProcessRun> {
  return runProcess(CLI, args, { cwd: ROOT, env });
}

describe('secrets', () => {
  let sandbox: Sandbox;
  let proxy: TapProxy;
  /** Project directories the CLI ran in, removed once every test has read them. */
  const projects: string[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 1500, servers: 6, seed: 21 });
    proxy = await startTapProxy(sandbox.apiBaseUrl);
  });
  afterAll(async () => {
    await proxy.stop();
    await sandbox.stop();
    for (const project of projects) await fs.rm(project, { recursive: true, force: true });
  });

  it('never appear in the CLI output, the output directory or error messages (LOG_LEVEL=trace)', async () => {
    const account = sandbox.credentials;
    // The CLI writes to <project path>/.j1-integration whatever the environment says: give it
    // a project directory of its own whose src is the repository's, so the repository's
    // .j1-integration is left alone.
    const project = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-secrets-'));
    projects.push(project);
    await fs.symlink(path.join(ROOT, 'src'), path.join(project, 'src'), 'dir');
    const storage = path.join(project, '.j1-integration');
    sandbox.setFaults({
      seed: 3,
      // Each token authorizes 3 requests: the run renews it on 401 several times.
      revokeTokenAfterRequests: 3,
      rules: [
        { kind: 'serverError', status: 500, endpoints: 'token', nth: 1 },
        { kind: 'serverError', status: 503, endpoints: 'token', nth: 3 },
        { kind: 'serverError', status: 502, endpoints: 'orgDevices.list', nth: 1 },
        { kind: 'reset', endpoints: 'mdmServers.list', nth: 1 },
      ],
    });
    // One server's list answers 403 with a body that echoes the bearer token, as a
    // careless proxy might: the failure must still not print it.
    const victim = sandbox.fleet.servers[1].id;
    proxy.setIntercept(({ url, headers }) =>
      url.pathname === `/v1/mdmServers/${victim}/relationships/devices`
        ? {
            answer: appleError(
              403,
              'FORBIDDEN',
              `Not allowed for ${String(headers.authorization)} with key ${account.privateKey.slice(0, 120)}`,
            ),
          }
        : undefined,
    );

    const { code, stdout, stderr } = await runCli(['collect', '--project-path', project], {
      ...process.env,
      CLIENT_ID: account.clientId,
      KEY_ID: account.keyId,
      // One line with literal \n, the way keys travel in environment variables.
      PRIVATE_KEY: account.privateKey.replace(/\n/g, '\\n'),
      API_BASE_URL: proxy.apiBaseUrl,
      TOKEN_URL: proxy.tokenUrl,
      LOG_LEVEL: 'trace',
      DISABLE_DISK_USAGE_METRIC: '1',
    });

    // The run really happened and really went through the error paths.
    const summary = JSON.parse(await fs.readFile(path.join(storage, 'summary.json'), 'utf8'));
    expect(
      summary.integrationStepResults.map((r: { id: string; status: string }) => [r.id, r.status]),
    ).toEqual([
      ['fetch-organization', 'success'],
      ['fetch-mdm-servers', 'success'],
      ['fetch-devices', 'success'],
      ['build-mdm-server-device-relationships', 'failure'],
    ]);
    expect(code).not.toBeNull();
    expect(stdout.length).toBeGreaterThan(1000);
    expect(stdout + stderr).toContain('FORBIDDEN');
    expect(proxy.assertions.length).toBeGreaterThanOrEqual(4);
    expect(proxy.accessTokens.length).toBeGreaterThanOrEqual(2);
    expect(sandbox.stats().faultsInjected.revoke).toBeGreaterThan(0);

    const secrets = {
      keyLines: keyBodyLines(account.privateKey),
      assertions: proxy.assertions,
      tokens: proxy.accessTokens,
    };
    expect(secrets.keyLines.length).toBeGreaterThanOrEqual(2);
    expect(leaks(stdout, secrets)).toEqual([]);
    expect(leaks(stderr, secrets)).toEqual([]);
    const files = await filesUnder(storage);
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      expect({ file, leaks: leaks(await fs.readFile(file, 'utf8'), secrets) }).toEqual({
        file,
        leaks: [],
      });
    }

    // Nor what the README's `j1-integration sync` sends JupiterOne of this run.
    const j1 = await fakeSynchronizationApi();
    try {
      const synced = await runProcess(
        CLI,
        ['sync', '--api-base-url', j1.url, '--account', 'j1-account', '-i', 'instance-1'],
        { cwd: project, env: { ...process.env, JUPITERONE_API_KEY: 'j1-api-key' } },
      );
      expect(synced.code).toBe(0);
      const uploads = j1.requests.filter((r) => /\/(entities|relationships)$/.test(r.path));
      expect(uploads.length).toBeGreaterThan(2);
      expect(leaks(JSON.stringify(j1.requests), secrets)).toEqual([]);
      expect(leaks(synced.stdout + synced.stderr, secrets)).toEqual([]);
    } finally {
      await j1.stop();
    }
  }, 120_000);

  it('never appear in the error of a run refused at authentication', async () => {
    // The Business key with the School Client ID: invalid_client, a fatal error.
    proxy.setIntercept(undefined);
    sandbox.setFaults({});
    const before = proxy.assertions.length;
    const graph = await collectFromSandbox(sandbox, {
      env: {
        CLIENT_ID: sandbox.schoolCredentials.clientId,
        KEY_ID: sandbox.schoolCredentials.keyId,
        API_BASE_URL: proxy.apiBaseUrl,
        TOKEN_URL: proxy.tokenUrl,
      },
    });
    expect(graph.error?.message).toMatch(/invalid_client/);
    const secrets = {
      keyLines: keyBodyLines(sandbox.credentials.privateKey),
      assertions: proxy.assertions.slice(before),
      tokens: proxy.accessTokens,
    };
    expect(secrets.assertions.length).toBeGreaterThan(0);
    const error = graph.error as Error & { cause?: unknown };
    const text = [error.message, error.stack, JSON.stringify(error), String(error.cause)].join(
      '\n',
    );
    expect(leaks(text, secrets)).toEqual([]);
  });

  it.each([
    ['CLIENT_ID', 'as downloaded', (pem: string) => pem, 'clientId (CLIENT_ID)'],
    [
      'KEY_ID',
      'on one line with literal \\n',
      (pem: string) => pem.replace(/\n/g, '\\n'),
      'keyId (KEY_ID)',
    ],
    // An organization detail goes into the graph as it is, so this one would have been uploaded.
    [
      'ORGANIZATION_NAME',
      'on one line with literal \\n',
      (pem: string) => pem.replace(/\n/g, '\\n'),
      'organizationName (ORGANIZATION_NAME)',
    ],
    ['ADMIN_ID', 'as downloaded', (pem: string) => pem, 'adminId (ADMIN_ID)'],
  ])(
    'never appear when the private key is pasted into %s (%s): refused, neither the error nor the output (LOG_LEVEL=trace) repeats it',
    async (variable, _, shape, field) => {
      sandbox.setFaults({});
      sandbox.resetStats();
      const { privateKey } = sandbox.credentials;
      const { result: graph, output } = await captureOutput(() =>
        collectFromSandbox(sandbox, { env: { [variable]: shape(privateKey), LOG_LEVEL: 'trace' } }),
      );
      const error = graph.error as Error & { cause?: unknown };
      expect(error).toBeInstanceOf(IntegrationValidationError);
      expect(error.message).toContain(field);
      expect(error.message).toContain('not shown');
      // Refused before anything was sent or collected.
      expect(sandbox.stats().totalRequests).toBe(0);
      expect(graph.summary).toBeUndefined();
      const secrets = { keyLines: keyBodyLines(privateKey), assertions: [], tokens: [] };
      expect(secrets.keyLines.length).toBeGreaterThanOrEqual(2);
      const text = [error.message, error.stack, JSON.stringify(error), String(error.cause)].join(
        '\n',
      );
      expect(leaks(text, secrets)).toEqual([]);
      // The run really logged, and the validation failure is in what it logged.
      expect(output).toContain('Error occurred while validating integration configuration');
      expect(leaks(output, secrets)).toEqual([]);
    },
  );
});

describe('the leak scanner', () => {
  it('finds each kind of secret it looks for (so a clean scan means something)', () => {
    const pem =
      '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAAAAAAAAAAAA\n-----END PRIVATE KEY-----';
    const assertion =
      'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJCVVNJTkVTU0FQSSJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2ln';
    const secrets = {
      keyLines: keyBodyLines(pem),
      assertions: [assertion],
      tokens: ['tok_abcdefghijklmnop'],
    };
    expect(leaks('clean text', secrets)).toEqual([]);
    expect(leaks(`key=${pem.split('\n')[1]}`, secrets)).toEqual(['private key line 1']);
    expect(leaks(`sig ${assertion.split('.')[2]}`, secrets)).toEqual(['client assertion #1']);
    expect(leaks('Bearer tok_abcdefghijklmnop', secrets)).toEqual(['access token #1']);
    expect(leaks(`x ${assertion} y`, secrets)).toEqual([
      'client assertion #1',
      'a JWS (eyJhbGciOiJF...)',
    ]);
    expect(leaks('-----BEGIN EC PRIVATE KEY-----', secrets)).toEqual(['a PEM private key block']);
  });
});

describe('committed recordings', () => {
  async function harFiles(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === '.git') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await harFiles(full)));
      else if (entry.name.endsWith('.har')) out.push(full);
    }
    return out;
  }

  it('hold no private key, client assertion, access token or bearer token (every *.har in the repository)', async () => {
    // The recordings are made from this fleet; its seed fixes the accounts' keys.
    const recordingSandbox = await startSandbox(RECORDING_FLEET);
    const keyLines = [
      ...keyBodyLines(recordingSandbox.credentials.privateKey),
      ...keyBodyLines(recordingSandbox.schoolCredentials.privateKey),
    ];
    await recordingSandbox.stop();

    const files = await harFiles(ROOT);
    // The scan reaches every committed recording (there are at least three).
    const recordings = path.join(ROOT, 'src', 'steps', '__recordings__');
    const committed = (await fs.readdir(recordings)).map((dir) =>
      path.join(recordings, dir, 'recording.har'),
    );
    expect(committed.length).toBeGreaterThanOrEqual(3);
    expect(files).toEqual(expect.arrayContaining(committed));
    let entries = 0;
    const problems: string[] = [];
    for (const file of files) {
      const name = path.relative(ROOT, file);
      const text = await fs.readFile(file, 'utf8');
      for (const leak of leaks(text, { keyLines, assertions: [], tokens: [] })) {
        problems.push(`${name}: ${leak}`);
      }
      const har = JSON.parse(text) as {
        log: {
          entries: Array<{
            request: {
              url: string;
              headers: Array<{ name: string; value: string }>;
              postData?: { text?: string; params?: Array<{ name: string; value?: string }> };
            };
            response: { content?: { text?: string } };
          }>;
        };
      };
      entries += har.log.entries.length;
      for (const { request, response } of har.log.entries) {
        for (const header of request.headers) {
          if (/^authorization$/i.test(header.name) && header.value !== '[REDACTED]') {
            problems.push(`${name}: authorization header ${header.value.slice(0, 12)}...`);
          }
        }
        const form = new URLSearchParams(request.postData?.text ?? '');
        const assertion = form.get('client_assertion');
        if (assertion !== null && assertion !== '[REDACTED]') {
          problems.push(`${name}: client_assertion=${assertion.slice(0, 12)}...`);
        }
        for (const param of request.postData?.params ?? []) {
          if (param.name === 'client_assertion' && param.value !== '[REDACTED]') {
            problems.push(`${name}: client_assertion param`);
          }
        }
        const body = response.content?.text ?? '';
        if (/"access_token"\s*:\s*"(?!\[REDACTED\]")[^"]+"/.test(body)) {
          problems.push(`${name}: access_token in a response (${request.url})`);
        }
        if (/Bearer [A-Za-z0-9._~+/-]{16,}/.test(body + JSON.stringify(request))) {
          problems.push(`${name}: a bearer token (${request.url})`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Something was scanned: each recording holds requests.
    expect(entries).toBeGreaterThanOrEqual(committed.length);
  });
});
