import { request } from 'http';
import { startSandbox, type FaultConfig, type Sandbox } from './index';
import { apiGet, getToken } from './helpers';

/** One GET that reports transport failures instead of throwing. */
async function attempt(
  sandbox: Sandbox,
  token: string,
  path: string,
  signal?: AbortSignal,
): Promise<{ status?: number; text?: string; contentType?: string | null; failed?: string }> {
  try {
    const response = await fetch(`${sandbox.apiBaseUrl}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal,
    });
    const text = await response.text();
    return { status: response.status, text, contentType: response.headers.get('content-type') };
  } catch (error) {
    return { failed: (error as Error).name };
  }
}

describe('faults', () => {
  let clock = Date.UTC(2025, 2, 1);
  let sandbox: Sandbox;
  let token: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 300, now: () => clock });
  });
  beforeEach(async () => {
    sandbox.setFaults({});
    token = await getToken(sandbox, sandbox.credentials, Math.floor(clock / 1000));
    sandbox.resetStats();
  });
  afterAll(() => sandbox.stop());

  it('answers 429 with Retry-After in seconds on the nth requests', async () => {
    sandbox.setFaults({ rules: [{ kind: 'tooManyRequests', nth: [2, 3], retryAfterSeconds: 7 }] });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await apiGet(sandbox, token, '/v1/mdmServers'));
    expect(answers.map((a) => a.status)).toEqual([200, 429, 429, 200]);
    expect(answers[1].headers.get('retry-after')).toBe('7');
    expect(answers[1].json.errors[0]).toEqual(
      expect.objectContaining({ status: '429', code: 'RATE_LIMIT_EXCEEDED' }),
    );
    expect(sandbox.stats().faultsInjected.tooManyRequests).toBe(2);
    expect(sandbox.stats().byEndpoint['mdmServers.list']).toEqual({ '200': 2, '429': 2 });
  });

  it('answers 429 with Retry-After as an HTTP date', async () => {
    sandbox.setFaults({
      rules: [
        { kind: 'tooManyRequests', nth: 1, retryAfterSeconds: 30, retryAfterFormat: 'http-date' },
      ],
    });
    const answer = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(answer.status).toBe(429);
    const header = answer.headers.get('retry-after') as string;
    expect(header).toMatch(/GMT$/);
    expect(Date.parse(header) - clock).toBeGreaterThanOrEqual(29_000);
    expect(Date.parse(header) - clock).toBeLessThanOrEqual(31_000);
  });

  it('enforces a requests-per-second limit with 429 and Retry-After', async () => {
    sandbox.setFaults({ rateLimit: { rps: 3, endpoints: 'api' } });
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await apiGet(sandbox, token, '/v1/mdmServers')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(limited.headers.get('retry-after')).toBe('1');
    clock += 1000;
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect(sandbox.stats().faultsInjected.rateLimit).toBe(3);
  });

  it('answers 5xx on the nth request or at a seeded rate, the same way each run', async () => {
    sandbox.setFaults({ rules: [{ kind: 'serverError', status: 503, nth: 2 }] });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    const failed = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(failed.status).toBe(503);
    expect(failed.json.errors[0].status).toBe('503');

    const run = async (): Promise<number[]> => {
      sandbox.setFaults({ seed: 42, rules: [{ kind: 'serverError', status: 502, rate: 0.4 }] });
      const statuses = [];
      for (let i = 0; i < 30; i++)
        statuses.push((await apiGet(sandbox, token, '/v1/mdmServers')).status);
      return statuses;
    };
    const first = await run();
    expect(first).toContain(502);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
  });

  it('caps how often a rule fires with times, and every-nth triggers', async () => {
    sandbox.setFaults({ rules: [{ kind: 'serverError', every: 2, times: 2 }] });
    const statuses = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await apiGet(sandbox, token, '/v1/mdmServers')).status);
    expect(statuses).toEqual([200, 500, 200, 500, 200, 200, 200, 200]);
  });

  it('resets the connection in the middle of a response', async () => {
    sandbox.setFaults({ rules: [{ kind: 'reset', nth: 1, endpoints: 'orgDevices.list' }] });
    const broken = await attempt(sandbox, token, '/v1/orgDevices');
    expect(broken.failed).toBeDefined();
    expect((await attempt(sandbox, token, '/v1/orgDevices')).status).toBe(200);
    expect(sandbox.stats().byEndpoint['orgDevices.list']).toEqual({ reset: 1, '200': 1 });
    expect(sandbox.stats().pagesServed['orgDevices.list']).toEqual({ first: 1 });
  });

  it('sends truncated JSON with consistent framing', async () => {
    sandbox.setFaults({ rules: [{ kind: 'truncate', nth: 1 }] });
    const cut = await attempt(sandbox, token, '/v1/orgDevices?limit=10');
    expect(cut.status).toBe(200);
    expect(() => JSON.parse(cut.text as string)).toThrow();
    const whole = await attempt(sandbox, token, '/v1/orgDevices?limit=10');
    expect(whole.text?.startsWith(cut.text as string)).toBe(true);
    expect(sandbox.stats().faultsInjected.truncate).toBe(1);
  });

  it('answers an HTML error page', async () => {
    sandbox.setFaults({
      rules: [
        { kind: 'html', nth: 1 },
        { kind: 'html', nth: 2, status: 200 },
      ],
    });
    const gateway = await attempt(sandbox, token, '/v1/mdmServers');
    expect(gateway.status).toBe(502);
    expect(gateway.contentType).toMatch(/^text\/html/);
    expect(gateway.text).toContain('<html>');
    const okHtml = await attempt(sandbox, token, '/v1/mdmServers');
    expect(okHtml.status).toBe(200);
    expect(okHtml.contentType).toMatch(/^text\/html/);
  });

  it('hangs until the client gives up, and stop() still cleans up', async () => {
    const local = await startSandbox({
      devices: 10,
      faults: { rules: [{ kind: 'hang', endpoints: 'mdmServers.list' }] },
    });
    const localToken = await getToken(local);
    const controller = new AbortController();
    const pending = attempt(local, localToken, '/v1/mdmServers', controller.signal);
    // Wait until the sandbox has the request, then give up on it as a client timeout would.
    while (local.stats().byEndpoint['mdmServers.list']?.hang !== 1)
      await new Promise((r) => setImmediate(r));
    expect(local.stats().inFlight).toBe(1);
    controller.abort();
    expect((await pending).failed).toBe('AbortError');
    // A second hung request is left open: stop() must still resolve.
    const orphan = new Promise<string>((resolve) => {
      const req = request(`${local.apiBaseUrl}/v1/mdmServers`, {
        headers: { authorization: `Bearer ${localToken}` },
      });
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    while (local.stats().byEndpoint['mdmServers.list']?.hang !== 2)
      await new Promise((r) => setImmediate(r));
    await local.stop();
    expect(await orphan).toMatch(/socket hang up|ECONNRESET/);
  });

  it('revokes a token after N API requests', async () => {
    sandbox.setFaults({ revokeTokenAfterRequests: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await apiGet(sandbox, token, '/v1/mdmServers')).status);
    expect(statuses).toEqual([200, 200, 200, 401]);
    const fresh = await getToken(sandbox, sandbox.credentials, Math.floor(clock / 1000));
    expect((await apiGet(sandbox, fresh, '/v1/mdmServers')).status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(401);
    expect(sandbox.stats().faultsInjected.revoke).toBe(1);
  });

  it.each(['reset', '503'] as const)('caps requests in flight (action %s)', async (action) => {
    sandbox.setFaults({
      maxConcurrent: { limit: 2, action },
      rules: [{ kind: 'hang', nth: [1, 2], endpoints: 'mdmServers.list' }],
    });
    const controller = new AbortController();
    const hung = [1, 2].map(() => attempt(sandbox, token, '/v1/mdmServers', controller.signal));
    while (sandbox.stats().byEndpoint['mdmServers.list']?.hang !== 2)
      await new Promise((r) => setImmediate(r));
    const refused = await attempt(sandbox, token, '/v1/orgDevices');
    if (action === 'reset') expect(refused.failed).toBeDefined();
    else expect(refused.status).toBe(503);
    expect(sandbox.stats().maxInFlight).toBe(3);
    controller.abort();
    await Promise.all(hung);
    while (sandbox.stats().inFlight !== 0) await new Promise((r) => setImmediate(r));
    expect((await attempt(sandbox, token, '/v1/orgDevices')).status).toBe(200);
    expect(sandbox.stats().faultsInjected.concurrency).toBe(1);
  });

  it('scopes rules to endpoints by name, and "api" leaves the token endpoint alone', async () => {
    sandbox.setFaults({
      rules: [
        { kind: 'serverError', endpoints: ['mdmServers.list'] },
        { kind: 'tooManyRequests', endpoints: 'api', nth: 1 },
      ],
    });
    expect((await apiGet(sandbox, token, '/v1/orgDevices?limit=1')).status).toBe(429);
    expect((await apiGet(sandbox, token, '/v1/orgDevices?limit=1')).status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(500);
    await expect(getToken(sandbox, sandbox.credentials, Math.floor(clock / 1000))).resolves.toEqual(
      expect.any(String),
    );
    sandbox.setFaults({ rules: [{ kind: 'serverError', endpoints: 'token' }] });
    await expect(getToken(sandbox, sandbox.credentials, Math.floor(clock / 1000))).rejects.toThrow(
      /500/,
    );
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
  });

  it('adds latency and counts it', async () => {
    sandbox.setFaults({ latency: [{ ms: 5, jitterMs: 5, endpoints: 'mdmServers.list' }] });
    await apiGet(sandbox, token, '/v1/mdmServers');
    await apiGet(sandbox, token, '/v1/orgDevices?limit=1');
    expect(sandbox.stats().faultsInjected.latency).toBe(1);
  });

  it('refuses a fault config with typos', () => {
    expect(() =>
      sandbox.setFaults({ rules: [{ kind: 'explode' }] } as unknown as FaultConfig),
    ).toThrow(/kind/);
    expect(() =>
      sandbox.setFaults({
        rules: [{ kind: 'hang', endpoints: 'orgDevice.list' }],
      } as unknown as FaultConfig),
    ).toThrow(/endpoint/);
    expect(() => sandbox.setFaults({ rateLimit: { rps: 0 } })).toThrow(/rps/);
  });

  it('accepts faults from another process over the control endpoint', async () => {
    const response = await fetch(`${sandbox.apiBaseUrl}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ kind: 'serverError', nth: 1 }] }),
    });
    expect(response.status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(500);
  });
});
