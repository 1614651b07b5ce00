import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'child_process';
import { join } from 'path';
import { envText, parseArgs, UsageError } from './cli';
import { getToken, apiGet } from './helpers';
import { isLoopbackHost, startSandbox, type Sandbox, type SandboxAccount } from './index';

function spawnCli(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(
    process.execPath,
    [
      require.resolve('ts-node/dist/bin.js'),
      '--transpile-only',
      join(__dirname, 'cli.ts'),
      ...args,
    ],
    { stdio: 'pipe' },
  );
}

/**
 * Stops `child` with SIGTERM and answers its exit code once its output is all read ('close', not
 * 'exit', after which output may still arrive); at once for a child whose output has already
 * closed, as no event would come again (found by a review: the test hung).
 */
function stopChild(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  const closed = child.stdout.closed && child.stderr.closed;
  // A child ended by a signal has no exit code, only a signal (found by a review: it hung).
  const ended = child.exitCode !== null || child.signalCode !== null;
  if (closed && ended) return Promise.resolve(child.exitCode);
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.kill('SIGTERM');
  return done;
}

/** Reads stdout until `done` says it is complete; rejects if the process exits first. */
function readStdout(
  child: ChildProcessWithoutNullStreams,
  done: (stdout: string) => boolean,
): Promise<string> {
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (done(stdout)) resolve(stdout);
    });
    child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
  });
}

/** Parses `.env` text the way a dotenv loader would: KEY=value, quotes stripped, \n unescaped. */
function parseEnv(lines: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1).replace(/\\n/g, '\n');
    env[match[1]] = value;
  }
  return env;
}

describe('sandbox CLI', () => {
  it('turns flags into options and faults', () => {
    const { options, json, statsOnExit } = parseArgs([
      '--port=0',
      '--seed',
      '9',
      '--devices',
      '50',
      '--servers',
      '8',
      '--token-ttl',
      '120',
      '--latency',
      '20',
      '--jitter',
      '10',
      '--rps',
      '5',
      '--faults',
      '{"rules":[{"kind":"serverError","nth":3}]}',
      '--quirks',
      '{"emptyPageWithNext":[2]}',
      '--json',
      '--stats-on-exit',
    ]);
    expect(json).toBe(true);
    expect(statsOnExit).toBe(true);
    expect(options).toEqual({
      port: 0,
      seed: 9,
      devices: 50,
      servers: 8,
      tokenTtlSeconds: 120,
      quirks: { emptyPageWithNext: [2] },
      faults: {
        rules: [{ kind: 'serverError', nth: 3 }],
        latency: [{ ms: 20, jitterMs: 10 }],
        rateLimit: { rps: 5 },
      },
    });
  });

  it('merges --per-minute, --rps and --latency into what --faults already sets', () => {
    const faults = JSON.stringify({
      rateLimit: { endpoints: 'api', retryAfterFormat: 'http-date' },
      latency: { ms: 5, endpoints: 'token' },
    });
    expect(
      parseArgs(['--per-minute', '20', '--latency', '10', '--faults', faults]).options.faults,
    ).toEqual({
      rateLimit: { endpoints: 'api', retryAfterFormat: 'http-date', perMinute: 20 },
      latency: [
        { ms: 10, jitterMs: 0 },
        { ms: 5, endpoints: 'token' },
      ],
    });
    expect(parseArgs(['--faults', faults, '--rps', '4']).options.faults).toEqual({
      rateLimit: { endpoints: 'api', retryAfterFormat: 'http-date', rps: 4 },
      latency: { ms: 5, endpoints: 'token' },
    });
  });

  it('refuses bad fault and quirk configs with a message that says where', () => {
    const bad: [string[], RegExp][] = [
      [['--faults', '{"rules":[{"kind":"hang","nth":0}]}'], /--faults.*rules\[0\]\.nth/],
      [['--faults', '{"latency":{"jitterMs":5}}'], /latency\.ms is required/],
      [['--faults', '{"rule":[]}'], /unknown key "rule"/],
      [['--rps', '0'], /rateLimit\.rps/],
      [['--latency', '-5'], /ms must be a number >= 0/],
      [['--quirks', '{"emptyPageWithNxt":[2]}'], /--quirks.*unknown key "emptyPageWithNxt"/],
      [['--quirks', '{"repeatCursorOnPage":"2"}'], /--quirks.*repeatCursorOnPage/],
      [['--faults', 'not json'], /--faults needs JSON/],
      [['--bogus'], /unknown option --bogus/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseArgs(argv)).toThrow(UsageError);
      expect(() => parseArgs(argv)).toThrow(message);
    }
  });

  it('refuses a non-loopback --host unless --allow-remote is given', async () => {
    for (const host of [
      '0.0.0.0',
      '::',
      '192.0.2.10',
      'example.com',
      // Names that start like a loopback address but resolve anywhere.
      '127.0.0.1.nip.io',
      '127.example.com',
    ]) {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => parseArgs(['--host', host])).toThrow(/--allow-remote/);
      expect(parseArgs(['--host', host, '--allow-remote']).options).toEqual(
        expect.objectContaining({ host, allowRemote: true }),
      );
    }
    // The collector's own check (src/loopback.ts), so that a URL the sandbox serves on is one the
    // collector accepts over plain http: the two used to differ on IPv6-mapped addresses.
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      'localhost',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '[::ffff:7f00:1]',
    ]) {
      expect(isLoopbackHost(host)).toBe(true);
      expect(parseArgs(['--host', host]).options.host).toBe(host);
    }
    // The programmatic API refuses too, before it listens anywhere.
    await expect(startSandbox({ host: '0.0.0.0', devices: 5 })).rejects.toThrow(/allowRemote/);
  });

  it.each([0, -5, 1.5])('refuses a token lifetime of %p seconds', async (ttl) => {
    await expect(startSandbox({ devices: 5, tokenTtlSeconds: ttl })).rejects.toThrow(
      `tokenTtlSeconds must be an integer >= 1, not ${ttl}`,
    );
    const child = spawnCli(['--token-ttl', String(ttl)]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(2);
    expect(stderr).toContain('cannot start the sandbox: tokenTtlSeconds must be an integer >= 1');
  });

  it('exits 2 with the reason when started on a non-loopback host', async () => {
    const child = spawnCli(['--host', '0.0.0.0']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/not a loopback address.*--allow-remote/);
  });

  it('with --school, prints the School account as the .env lines and the Business one as comments', async () => {
    expect(parseArgs(['--school']).school).toBe(true);
    expect(parseArgs([]).school).toBe(false);
    const sandbox = await startSandbox({ devices: 5, seed: 4 });
    try {
      const lines = envText(sandbox, true).split('\n');
      expect(lines[0]).toMatch(/, the School account$/);
      const env = parseEnv(lines);
      expect(env).toEqual({
        CLIENT_ID: sandbox.schoolCredentials.clientId,
        KEY_ID: sandbox.schoolCredentials.keyId,
        PRIVATE_KEY: sandbox.schoolCredentials.privateKey.trim(),
        API_BASE_URL: sandbox.apiBaseUrl,
        TOKEN_URL: sandbox.tokenUrl,
      });
      const business = parseEnv(
        lines.filter((line) => line.startsWith('# ')).map((line) => line.slice(2)),
      );
      expect(business.CLIENT_ID).toBe(sandbox.credentials.clientId);
      expect(lines).toContain(
        '# Business account (scope business.api), same API_BASE_URL and TOKEN_URL:',
      );
    } finally {
      await sandbox.stop();
    }
  });

  it('prints .env lines by default that a collector can use, School credentials as comments', async () => {
    const child = spawnCli(['--devices', '30', '--seed', '4']);
    let code: number | null = null;
    try {
      const text = await readStdout(child, (out) => /^# PRIVATE_KEY=.*\n/m.test(out));
      const lines = text.split('\n');
      const env = parseEnv(lines);
      expect(Object.keys(env).sort()).toEqual([
        'API_BASE_URL',
        'CLIENT_ID',
        'KEY_ID',
        'PRIVATE_KEY',
        'TOKEN_URL',
      ]);
      expect(env.API_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(env.TOKEN_URL).toBe(`${env.API_BASE_URL}/auth/oauth2/token`);
      expect(env.CLIENT_ID).toMatch(/^BUSINESSAPI\./);
      expect(env.PRIVATE_KEY).toMatch(
        /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----$/,
      );
      const school = parseEnv(
        lines.filter((line) => line.startsWith('# ')).map((line) => line.slice(2)),
      );
      expect(school.CLIENT_ID).toMatch(/^SCHOOLAPI\./);
      expect(school.PRIVATE_KEY).toContain('BEGIN EC PRIVATE KEY');

      const remote = { apiBaseUrl: env.API_BASE_URL, tokenUrl: env.TOKEN_URL } as Sandbox;
      const account = (
        vars: Record<string, string>,
        kind: 'business' | 'school',
      ): SandboxAccount => ({
        kind,
        clientId: vars.CLIENT_ID,
        keyId: vars.KEY_ID,
        privateKey: vars.PRIVATE_KEY,
        scope: kind === 'business' ? 'business.api' : 'school.api',
      });
      const token = await getToken(remote, account(env, 'business'));
      expect((await apiGet(remote, token, '/v1/orgDevices?limit=3')).json.data).toHaveLength(3);
      const schoolToken = await getToken(remote, account(school, 'school'));
      expect((await apiGet(remote, schoolToken, '/v1/mdmServers')).status).toBe(200);
    } finally {
      // Stopped whatever failed above; its exit code is checked only after, so that a failure
      // above is the one reported.
      code = await stopChild(child);
    }
    expect(code).toBe(0);
  });

  it('prints one JSON line, serves, and prints stats on SIGTERM', async () => {
    const child = spawnCli(['--json', '--devices', '30', '--stats-on-exit']);
    let code: number | null = null;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const line = (await readStdout(child, (out) => out.includes('\n'))).split('\n')[0];
      const info = JSON.parse(line) as Pick<
        Sandbox,
        'apiBaseUrl' | 'tokenUrl' | 'credentials' | 'schoolCredentials'
      >;
      expect(info.apiBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const remote = { ...info, fleet: undefined } as unknown as Sandbox;
      const token = await getToken(remote, info.credentials);
      expect((await apiGet(remote, token, '/v1/orgDevices?limit=5')).json.data).toHaveLength(5);
    } finally {
      // Stopped whatever failed above, so that no sandbox outlives the test; its exit code is
      // checked only after, so that a failure above is the one reported.
      code = await stopChild(child);
    }
    expect(code).toBe(0);
    const stats = JSON.parse(stderr.trim().split('\n').pop() as string);
    expect(stats.tokensIssued).toBe(1);
    expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': 1 });
  });

  it('stops when `npm run sandbox` is stopped by its pid (npm does not pass the signal on through its shell)', async () => {
    // A seed of its own, to find the sandbox's process should it outlive the test.
    const args = ['--json', '--devices', '5', '--seed', '9137'];
    const npm = spawn('npm', ['run', '--silent', 'sandbox', '--', ...args], {
      cwd: join(__dirname, '..', '..'),
      stdio: 'pipe',
    });
    const line = await readStdout(npm, (out) => out.includes('\n'));
    const { apiBaseUrl } = JSON.parse(line.split('\n')[0]) as { apiBaseUrl: string };
    const answers = async (): Promise<boolean> =>
      fetch(`${apiBaseUrl}/__sandbox/stats`).then(
        () => true,
        () => false,
      );
    expect(await answers()).toBe(true);
    npm.kill('SIGTERM');
    let open = true;
    try {
      for (let i = 0; i < 100 && open; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        open = await answers();
      }
    } finally {
      if (open) spawnSync('pkill', ['-f', `cli.ts ${args.join(' ')}`]);
    }
    expect(open).toBe(false);
  });
});
