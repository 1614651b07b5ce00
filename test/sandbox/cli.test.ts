import { spawn } from 'child_process';
import { join } from 'path';
import { parseArgs } from './cli';
import { getToken, apiGet } from './helpers';
import type { Sandbox } from './index';

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

  it('prints one JSON line, serves, and prints stats on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin.js'),
        '--transpile-only',
        join(__dirname, 'cli.ts'),
        '--json',
        '--devices',
        '30',
        '--stats-on-exit',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const info = JSON.parse(line) as Pick<
      Sandbox,
      'apiBaseUrl' | 'tokenUrl' | 'credentials' | 'schoolCredentials'
    >;
    expect(info.apiBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const remote = { ...info, fleet: undefined } as unknown as Sandbox;
    const token = await getToken(remote, info.credentials);
    expect((await apiGet(remote, token, '/v1/orgDevices?limit=5')).json.data).toHaveLength(5);
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stats = JSON.parse(stderr.trim().split('\n').pop() as string);
    expect(stats.tokensIssued).toBe(1);
    expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': 1 });
  });
});
