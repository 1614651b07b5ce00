import { Agent, request, type IncomingHttpHeaders } from 'http';
import { performance } from 'perf_hooks';
import { FaultEngine } from './faults';
import { startSandbox, type FaultConfig, type Sandbox } from './index';
import { apiGet, assertionFor, getToken, postToken, tokenForm } from './helpers';

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

interface RawAnswer {
  status?: number;
  headers?: IncomingHttpHeaders;
  /** Body bytes that arrived before the response ended or failed. */
  body: Buffer;
  /** Whether the response ended normally with its whole Content-Length. */
  complete: boolean;
  /** The error the response (or request, before any response) failed with. */
  error?: string;
  /** Order of what the client saw: 'response', 'data', 'end', 'error'. */
  events: string[];
}

/** A GET over a fresh connection that records what arrived before the answer ended or broke. */
function rawGet(sandbox: Sandbox, token: string, path: string): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const answer: RawAnswer = { body: Buffer.alloc(0), complete: false, events: [] };
    const req = request(`${sandbox.apiBaseUrl}${path}`, {
      agent: false,
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      answer.events.push('response');
      answer.status = res.statusCode;
      answer.headers = res.headers;
      res.on('data', (chunk: Buffer) => {
        if (answer.events[answer.events.length - 1] !== 'data') answer.events.push('data');
        answer.body = Buffer.concat([answer.body, chunk]);
      });
      res.on('end', () => {
        answer.events.push('end');
        answer.complete = res.complete;
      });
      res.on('error', (error) => {
        answer.events.push('error');
        answer.error = error.message;
      });
      res.on('close', () => resolve(answer));
    });
    req.on('error', (error) => {
      answer.events.push('error');
      answer.error = error.message;
      resolve(answer);
    });
    req.end();
  });
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

  it('dates each answer by its own clock when it answers, so its Retry-After dates read against it', async () => {
    sandbox.setFaults({
      latency: { ms: 1000 },
      rules: [
        { kind: 'tooManyRequests', nth: 1, retryAfterSeconds: 30, retryAfterFormat: 'http-date' },
      ],
    });
    const answered = apiGet(sandbox, token, '/v1/mdmServers');
    // The clock moves while the answer is on its way: the request arrived, not yet answered.
    while (sandbox.stats().inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    clock += 60_000;
    const answer = await answered;
    expect(answer.status).toBe(429);
    const date = answer.headers.get('date') as string;
    expect(date).toBe(new Date(clock).toUTCString());
    const waitMs = Date.parse(answer.headers.get('retry-after') as string) - Date.parse(date);
    expect(waitMs).toBeGreaterThanOrEqual(30_000);
    expect(waitMs).toBeLessThanOrEqual(31_000);
  });

  it('sends a Retry-After of 1 second when the rule does not set one', async () => {
    sandbox.setFaults({ rules: [{ kind: 'tooManyRequests', nth: 1 }] });
    const answer = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('1');
  });

  it('rounds an HTTP-date Retry-After up to the next whole second, for a rule and for the rate limit', async () => {
    // Half way through a second, so rounding down would name a time before the intended one.
    clock += 1500 - (clock % 1000);
    sandbox.setFaults({
      rules: [
        { kind: 'tooManyRequests', nth: 1, retryAfterSeconds: 30, retryAfterFormat: 'http-date' },
      ],
    });
    const ruled = (await apiGet(sandbox, token, '/v1/mdmServers')).headers.get('retry-after');
    expect(ruled).toMatch(/GMT$/);
    expect(Date.parse(ruled as string)).toBe(clock + 30_500);

    sandbox.setFaults({ rateLimit: { rps: 1, endpoints: 'api', retryAfterFormat: 'http-date' } });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    const limited = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(limited.status).toBe(429);
    const header = limited.headers.get('retry-after');
    expect(header).toMatch(/GMT$/);
    expect(Date.parse(header as string)).toBe(clock + 1500);
  });

  it('limits only the endpoints the rate limit names', async () => {
    sandbox.setFaults({ rateLimit: { rps: 1, endpoints: ['mdmServers.list'] } });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(429);
    for (let i = 0; i < 2; i++) {
      expect((await apiGet(sandbox, token, '/v1/orgDevices?limit=1')).status).toBe(200);
    }
    await expect(getToken(sandbox, sandbox.credentials, Math.floor(clock / 1000))).resolves.toEqual(
      expect.any(String),
    );
    expect(sandbox.stats().faultsInjected.rateLimit).toBe(1);
  });

  it('rounds a rate-limit Retry-After in seconds up, never telling a client to come back too soon', async () => {
    sandbox.setFaults({ rateLimit: { perMinute: 1, endpoints: 'api' } });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    clock += 10_500;
    const limited = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(limited.status).toBe(429);
    // The place frees 49.5 s from now.
    expect(limited.headers.get('retry-after')).toBe('50');
    clock += 49_000;
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(429);
    clock += 500;
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
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

  it('enforces a requests-per-minute limit, its Retry-After the wait until the minute frees a place', async () => {
    sandbox.setFaults({ rateLimit: { perMinute: 2, endpoints: 'api' } });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await apiGet(sandbox, token, '/v1/mdmServers')).status);
      clock += 10_000;
    }
    expect(statuses).toEqual([200, 200, 429]);
    // Admitted at 0 s and 10 s: at 30 s the first frees its place at 60 s.
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).headers.get('retry-after')).toBe('30');
    clock += 30_000;
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(429);
  });

  it('counts only API requests in a rate limit by default; the token endpoint refuses in OAuth form', async () => {
    const newToken = async () =>
      postToken(
        sandbox,
        tokenForm(
          sandbox.credentials,
          await assertionFor(sandbox.credentials, Math.floor(clock / 1000)),
        ),
      );
    sandbox.setFaults({ rateLimit: { perMinute: 1 } });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect((await newToken()).status).toBe(200);
    const limited = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(limited.status).toBe(429);
    expect(limited.json.errors[0].detail).toBe('Too many requests per minute; retry later');

    sandbox.setFaults({ rateLimit: { rps: 1, endpoints: 'all' } });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    const refused = await newToken();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: 'invalid_request',
      error_description: 'Too many requests per second; retry later',
    });
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
    const path = '/v1/orgDevices?limit=10';
    const whole = await rawGet(sandbox, token, path);
    expect(whole.complete).toBe(true);
    sandbox.resetStats();
    sandbox.setFaults({
      rules: [{ kind: 'reset', nth: 1, endpoints: 'orgDevices.list', afterBytes: 100 }],
    });
    const broken = await rawGet(sandbox, token, path);
    // Status and headers arrive, announcing the whole body...
    expect(broken.status).toBe(200);
    expect(broken.headers?.['content-type']).toBe('application/json');
    expect(Number(broken.headers?.['content-length'])).toBe(whole.body.length);
    // ...then exactly afterBytes of it, then the connection dies.
    expect(broken.body).toEqual(whole.body.subarray(0, 100));
    expect(broken.complete).toBe(false);
    expect(broken.events).toEqual(['response', 'data', 'error']);
    expect(broken.error).toMatch(/aborted|ECONNRESET|socket hang up/);
    // The next request is whole again.
    expect((await attempt(sandbox, token, path)).status).toBe(200);
    expect(sandbox.stats().byEndpoint['orgDevices.list']).toEqual({ reset: 1, '200': 1 });
    expect(sandbox.stats().pagesServed['orgDevices.list']).toEqual({ first: 1 });
    expect(sandbox.stats().faultsInjected.reset).toBe(1);
  });

  it('resets after the headers alone with afterBytes 0, and after half the body by default', async () => {
    const path = '/v1/mdmServers';
    const whole = await rawGet(sandbox, token, path);
    sandbox.setFaults({
      rules: [
        { kind: 'reset', nth: 1, afterBytes: 0 },
        { kind: 'reset', nth: 2 },
      ],
    });
    const headersOnly = await rawGet(sandbox, token, path);
    expect(headersOnly.status).toBe(200);
    expect(Number(headersOnly.headers?.['content-length'])).toBe(whole.body.length);
    expect(headersOnly.body.length).toBe(0);
    expect(headersOnly.complete).toBe(false);
    expect(headersOnly.error).toBeDefined();
    const half = await rawGet(sandbox, token, path);
    expect(half.body).toEqual(whole.body.subarray(0, Math.floor(whole.body.length / 2)));
    expect(half.complete).toBe(false);
    expect(half.error).toBeDefined();
  });

  it('sends truncated JSON with consistent framing', async () => {
    sandbox.setFaults({ rules: [{ kind: 'truncate', nth: 1 }] });
    const cut = await attempt(sandbox, token, '/v1/orgDevices?limit=10');
    expect(cut.status).toBe(200);
    expect(() => JSON.parse(cut.text as string)).toThrow();
    const whole = await attempt(sandbox, token, '/v1/orgDevices?limit=10');
    expect(whole.text?.startsWith(cut.text as string)).toBe(true);
    expect(cut.text?.length).toBe(Math.floor((whole.text as string).length / 2));
    expect(sandbox.stats().faultsInjected.truncate).toBe(1);
  });

  it('truncates to keepBytes, with a Content-Length of the cut body', async () => {
    const path = '/v1/orgDevices?limit=10';
    const whole = await rawGet(sandbox, token, path);
    sandbox.resetStats();
    sandbox.setFaults({ rules: [{ kind: 'truncate', nth: 1, keepBytes: 25 }] });
    const cut = await rawGet(sandbox, token, path);
    expect(cut.status).toBe(200);
    expect(cut.headers?.['content-length']).toBe('25');
    expect(cut.complete).toBe(true);
    expect(cut.error).toBeUndefined();
    expect(cut.body).toEqual(whole.body.subarray(0, 25));
    expect(sandbox.stats().pagesServed['orgDevices.list']).toBeUndefined();
  });

  it('still cuts the body when keepBytes is larger than it', async () => {
    const path = '/v1/mdmServers';
    const whole = await rawGet(sandbox, token, path);
    sandbox.setFaults({ rules: [{ kind: 'truncate', nth: 1, keepBytes: 10_000_000 }] });
    const cut = await rawGet(sandbox, token, path);
    expect(cut.status).toBe(200);
    expect(cut.headers?.['content-length']).toBe(String(whole.body.length - 1));
    expect(cut.body).toEqual(whole.body.subarray(0, whole.body.length - 1));
    expect(() => JSON.parse(cut.body.toString())).toThrow();
  });

  it('answers an HTML error page that names its status', async () => {
    sandbox.setFaults({
      rules: [
        { kind: 'html', nth: 1 },
        { kind: 'html', nth: 2, status: 200 },
        { kind: 'html', nth: 3, status: 503 },
      ],
    });
    const gateway = await attempt(sandbox, token, '/v1/mdmServers');
    expect(gateway.status).toBe(502);
    expect(gateway.contentType).toMatch(/^text\/html/);
    expect(gateway.text).toContain('<html>');
    expect(gateway.text).toContain('<title>502 Bad Gateway</title>');
    const okHtml = await attempt(sandbox, token, '/v1/mdmServers');
    expect(okHtml.status).toBe(200);
    expect(okHtml.contentType).toMatch(/^text\/html/);
    expect(okHtml.text).not.toContain('Bad Gateway');
    const unavailable = await attempt(sandbox, token, '/v1/mdmServers');
    expect(unavailable.status).toBe(503);
    expect(unavailable.text).toContain('<title>503 Service Unavailable</title>');
    expect(unavailable.text).not.toContain('Bad Gateway');
  });

  it.each([
    [403, 'FORBIDDEN'],
    [409, 'CONFLICT'],
    [400, 'PARAMETER_ERROR.INVALID'],
    [422, 'UNPROCESSABLE_ENTITY'],
    [501, 'NOT_IMPLEMENTED'],
  ])('answers any status with an Apple-style errors body (%i)', async (status, code) => {
    sandbox.setFaults({ rules: [{ kind: 'status', status, nth: 1 }] });
    const answer = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(answer.status).toBe(status);
    expect(answer.json.errors[0]).toEqual({
      id: expect.any(String),
      status: String(status),
      code,
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect(sandbox.stats().faultsInjected.status).toBe(1);
  });

  it('lets a status rule set code, title and detail', async () => {
    sandbox.setFaults({
      rules: [
        {
          kind: 'status',
          status: 403,
          code: 'FORBIDDEN.ACCOUNT_DISABLED',
          title: 'Forbidden',
          detail: 'The API account is disabled',
          nth: 1,
        },
      ],
    });
    const answer = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(answer.status).toBe(403);
    expect(answer.json.errors).toEqual([
      {
        id: expect.any(String),
        status: '403',
        code: 'FORBIDDEN.ACCOUNT_DISABLED',
        title: 'Forbidden',
        detail: 'The API account is disabled',
      },
    ]);
  });

  it.each([
    [
      'a status rule: code and detail are the OAuth error and its description',
      {
        kind: 'status',
        status: 400,
        code: 'invalid_grant',
        detail: 'The assertion has expired',
        endpoints: 'token',
      },
      400,
      { error: 'invalid_grant', error_description: 'The assertion has expired' },
      undefined,
    ],
    [
      'a 401 status rule without a code: invalid_client',
      { kind: 'status', status: 401, endpoints: 'token' },
      401,
      { error: 'invalid_client', error_description: 'The request could not be completed' },
      undefined,
    ],
    [
      'a tooManyRequests rule, with its Retry-After',
      { kind: 'tooManyRequests', retryAfterSeconds: 2, endpoints: 'token' },
      429,
      { error: 'invalid_request', error_description: 'Too many requests; retry later' },
      '2',
    ],
  ] as const)('refuses a token in OAuth form for %s', async (_, rule, status, body, retryAfter) => {
    sandbox.setFaults({ rules: [rule] });
    const answer = await postToken(
      sandbox,
      tokenForm(
        sandbox.credentials,
        await assertionFor(sandbox.credentials, Math.floor(clock / 1000)),
      ),
    );
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual(body);
    expect(answer.headers.get('retry-after') ?? undefined).toBe(retryAfter);
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a 5xx status rule on the token endpoint with the errors body, as a server in front of it would', async () => {
    sandbox.setFaults({
      rules: [
        {
          kind: 'status',
          status: 503,
          code: 'MAINTENANCE',
          detail: 'Back soon',
          endpoints: 'token',
        },
      ],
    });
    const { status, body } = await postToken(
      sandbox,
      tokenForm(
        sandbox.credentials,
        await assertionFor(sandbox.credentials, Math.floor(clock / 1000)),
      ),
    );
    expect(status).toBe(503);
    expect(body).toEqual({
      errors: [
        expect.objectContaining({ status: '503', code: 'MAINTENANCE', detail: 'Back soon' }),
      ],
    });
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

  it("counts a token's uses from when it was issued, not from when the config was set", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    }
    sandbox.setFaults({ revokeTokenAfterRequests: 3 });
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(401);
  });

  it('counts a token as issued even when a fault then cuts its answer', async () => {
    sandbox.setFaults({ rules: [{ kind: 'truncate', endpoints: 'token', nth: 1 }] });
    const account = sandbox.credentials;
    const cut = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(
        tokenForm(account, await assertionFor(account, Math.floor(clock / 1000))),
      ).toString(),
    });
    expect(cut.status).toBe(200);
    await expect(cut.json()).rejects.toThrow();
    expect(sandbox.stats().tokensIssued).toBe(1);
    expect(sandbox.stats().byEndpoint.token).toEqual({ '200': 1 });
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

  it('closes a connection after dropConnectionAfter answers on it, with no warning in the answer', async () => {
    sandbox.setFaults({ dropConnectionAfter: 2 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets: string[] = [];
    const closed: string[] = [];
    const get = () =>
      new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
        const req = request(
          `${sandbox.apiBaseUrl}/v1/mdmServers`,
          { agent, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode, connection: res.headers.connection }),
            );
          },
        );
        req.on('socket', (socket) => {
          const name = `${socket.localPort}`;
          if (!sockets.includes(name)) {
            sockets.push(name);
            socket.on('close', () => closed.push(name));
          }
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) {
        answers.push(await get());
        // Time for the close to arrive, so the agent does not reuse a closing socket.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers.map((a) => a.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
      // Two answers on the first connection, then it was closed; the third came on a new one.
      expect(sockets).toHaveLength(2);
      expect(closed).toEqual([sockets[0]]);
      expect(sandbox.stats().faultsInjected.dropConnection).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('keeps counting requests in flight across a stats reset, so the cap still holds', async () => {
    sandbox.setFaults({
      maxConcurrent: { limit: 1, action: '503' },
      rules: [{ kind: 'hang', nth: 1, endpoints: 'mdmServers.list' }],
    });
    const controller = new AbortController();
    const hung = attempt(sandbox, token, '/v1/mdmServers', controller.signal);
    while (sandbox.stats().byEndpoint['mdmServers.list']?.hang !== 1)
      await new Promise((r) => setImmediate(r));
    sandbox.resetStats();
    expect(sandbox.stats()).toEqual(expect.objectContaining({ inFlight: 1, maxInFlight: 1 }));
    // The hung request still holds the only place.
    expect((await attempt(sandbox, token, '/v1/orgDevices')).status).toBe(503);
    controller.abort();
    await hung;
    while (sandbox.stats().inFlight !== 0) await new Promise((r) => setImmediate(r));
    expect((await attempt(sandbox, token, '/v1/orgDevices')).status).toBe(200);
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

  it('adds latency: at least ms, and counts it only where it applies', async () => {
    const config: FaultConfig = {
      seed: 7,
      latency: [{ ms: 60, jitterMs: 40, endpoints: 'mdmServers.list' }],
    };
    // The jitter comes from the seeded PRNG, so a twin engine knows this request's exact delay.
    const expected = new FaultEngine(config, () => clock).delayFor('mdmServers.list');
    expect(expected).toBeGreaterThanOrEqual(60);
    expect(expected).toBeLessThan(100);
    sandbox.setFaults(config);
    const started = performance.now();
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    const elapsed = performance.now() - started;
    // libuv schedules timers on a millisecond clock, so allow the sub-millisecond rounding.
    expect(elapsed).toBeGreaterThanOrEqual(expected - 1);
    await apiGet(sandbox, token, '/v1/orgDevices?limit=1');
    expect(sandbox.stats().faultsInjected.latency).toBe(1);
  });

  it("makes an API answer on arrival, so latency is the time to answer with the sandbox's own work in it", async () => {
    sandbox.setFaults({ latency: { ms: 150, endpoints: 'api' } });
    const started = performance.now();
    const pending = apiGet(sandbox, token, '/v1/mdmServers');
    // Revoked while the request waits out its latency: its answer was made on arrival, with
    // the token still good. (Were the answer made after the wait, this would be a 401.) The
    // sandbox makes it in the same turn as it counts the request in flight; a fixed wait could
    // fall before the request arrived on a loaded machine (found by a review).
    while (sandbox.stats().inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
    sandbox.revokeAllTokens();
    expect((await pending).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150 - 1);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(401);
  });

  it('sums the latency rules in scope', async () => {
    sandbox.setFaults({
      latency: [
        { ms: 30, endpoints: 'api' },
        { ms: 40, endpoints: ['orgDevices.list'] },
        { ms: 500, endpoints: 'token' },
      ],
    });
    const started = performance.now();
    await apiGet(sandbox, token, '/v1/orgDevices?limit=1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(70 - 1);
    expect(sandbox.stats().faultsInjected.latency).toBe(1);
  });

  it('draws jitter uniformly in [0, jitterMs), the same for the same seed', () => {
    const draws = (seed: number): number[] => {
      const engine = new FaultEngine(
        {
          seed,
          latency: [
            { ms: 5, jitterMs: 5 },
            { ms: 1, endpoints: 'token' },
          ],
        },
        () => clock,
      );
      return Array.from({ length: 2000 }, () => engine.delayFor('orgDevices.list'));
    };
    const first = draws(3);
    for (const delay of first) {
      expect(delay).toBeGreaterThanOrEqual(5);
      expect(delay).toBeLessThan(10);
    }
    // Spread over the whole interval, not stuck at one value.
    expect(Math.min(...first)).toBeLessThan(5.1);
    expect(Math.max(...first)).toBeGreaterThan(9.9);
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    expect(Math.abs(mean - 7.5)).toBeLessThan(0.2);
    expect(draws(3)).toEqual(first);
    expect(draws(4)).not.toEqual(first);
    // Without jitter the delay is exactly ms; the token-only rule stays out of API requests.
    const fixed = new FaultEngine({ latency: { ms: 12 } }, () => clock);
    expect(fixed.delayFor('mdmServers.get')).toBe(12);
    expect(fixed.delayFor('token')).toBe(12);
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

  it.each([
    ['a top-level typo', { rule: [] }, /FaultConfig has an unknown key "rule"/],
    ['a config that is not an object', [], /FaultConfig must be an object/],
    ['rules that are not a list', { rules: { kind: 'hang' } }, /rules must be a list/],
    [
      'a rule key typo',
      { rules: [{ kind: 'hang', endpoint: 'api' }] },
      /rules\[0\] has an unknown key "endpoint"/,
    ],
    [
      'a key of another kind',
      { rules: [{ kind: 'hang', status: 500 }] },
      /rules\[0\] has an unknown key "status"/,
    ],
    ['a rule that is not an object', { rules: ['hang'] }, /rules\[0\] must be an object/],
    ['nth 0', { rules: [{ kind: 'hang', nth: 0 }] }, /rules\[0\]\.nth must be an integer >= 1/],
    ['nth 1.5', { rules: [{ kind: 'hang', nth: 1.5 }] }, /nth must be an integer/],
    ['nth as a string', { rules: [{ kind: 'hang', nth: '2' }] }, /nth must be an integer/],
    ['an empty nth list', { rules: [{ kind: 'hang', nth: [] }] }, /nth is an empty list/],
    [
      'a bad nth in a list',
      { rules: [{ kind: 'hang', nth: [2, -1] }] },
      /nth\[1\] must be an integer/,
    ],
    ['every 0', { rules: [{ kind: 'hang', every: 0 }] }, /every must be an integer >= 1/],
    ['every 2.5', { rules: [{ kind: 'hang', every: 2.5 }] }, /every must be an integer/],
    ['times 0', { rules: [{ kind: 'hang', times: 0 }] }, /times must be an integer >= 1/],
    ['rate above 1', { rules: [{ kind: 'hang', rate: 1.5 }] }, /rate must be a number from 0 to 1/],
    [
      'an empty endpoint list',
      { rules: [{ kind: 'hang', endpoints: [] }] },
      /endpoints is an empty list/,
    ],
    [
      'a serverError status of 404',
      { rules: [{ kind: 'serverError', status: 404 }] },
      /status must be an integer from 500 to 599/,
    ],
    [
      'a serverError status of 600',
      { rules: [{ kind: 'serverError', status: 600 }] },
      /status must be an integer from 500 to 599/,
    ],
    [
      'an html status of 100',
      { rules: [{ kind: 'html', status: 100 }] },
      /status must be an integer from 200 to 599/,
    ],
    [
      'an html status as a string',
      { rules: [{ kind: 'html', status: '503' }] },
      /status must be an integer/,
    ],
    [
      'a status rule without status',
      { rules: [{ kind: 'status' }] },
      /rules\[0\]\.status is required/,
    ],
    [
      'a status rule with 302',
      { rules: [{ kind: 'status', status: 302 }] },
      /status must be an integer from 400 to 599/,
    ],
    [
      'a status rule with an empty code',
      { rules: [{ kind: 'status', status: 403, code: '' }] },
      /code must be a non-empty string/,
    ],
    [
      'a bad retryAfterFormat',
      { rules: [{ kind: 'tooManyRequests', retryAfterFormat: 'date' }] },
      /retryAfterFormat must be one of/,
    ],
    [
      'a fractional retryAfterSeconds',
      { rules: [{ kind: 'tooManyRequests', retryAfterSeconds: 1.5 }] },
      /retryAfterSeconds must be an integer/,
    ],
    [
      'a negative afterBytes',
      { rules: [{ kind: 'reset', afterBytes: -1 }] },
      /afterBytes must be an integer >= 0/,
    ],
    [
      'keepBytes as a word',
      { rules: [{ kind: 'truncate', keepBytes: 'half' }] },
      /keepBytes must be an integer/,
    ],
    ['a latency rule without ms', { latency: { jitterMs: 5 } }, /latency\.ms is required/],
    [
      'a latency list entry without ms',
      { latency: [{ ms: 1 }, { endpoints: 'api' }] },
      /latency\[1\]\.ms is required/,
    ],
    [
      'a latency key typo',
      { latency: { ms: 5, jitter: 5 } },
      /latency has an unknown key "jitter"/,
    ],
    ['negative latency', { latency: { ms: -5 } }, /latency\.ms must be a number >= 0/],
    [
      'a rateLimit key typo',
      { rateLimit: { rps: 5, burst: 2 } },
      /rateLimit has an unknown key "burst"/,
    ],
    [
      'a rateLimit with both rps and perMinute',
      { rateLimit: { rps: 5, perMinute: 20 } },
      /exactly one of rps and perMinute/,
    ],
    [
      'a rateLimit with neither',
      { rateLimit: { endpoints: 'api' } },
      /exactly one of rps and perMinute/,
    ],
    [
      'a zero perMinute',
      { rateLimit: { perMinute: 0 } },
      /rateLimit\.perMinute must be a positive integer/,
    ],
    [
      'a fractional rps, which a window of whole requests cannot keep',
      { rateLimit: { rps: 2.5 } },
      /rateLimit\.rps must be a positive integer \(requests in its window\), not 2\.5/,
    ],
    ['a fractional perMinute', { rateLimit: { perMinute: 0.5 } }, /rateLimit\.perMinute/],
    ['a zero dropConnectionAfter', { dropConnectionAfter: 0 }, /dropConnectionAfter must be/],
    [
      'a rateLimit format typo',
      { rateLimit: { rps: 5, retryAfterFormat: 'none' } },
      /rateLimit\.retryAfterFormat/,
    ],
    [
      'maxConcurrent without limit',
      { maxConcurrent: { max: 2 } },
      /maxConcurrent has an unknown key "max"/,
    ],
    [
      'maxConcurrent limit 0',
      { maxConcurrent: { limit: 0 } },
      /maxConcurrent\.limit must be an integer >= 1/,
    ],
    [
      'a maxConcurrent action typo',
      { maxConcurrent: { limit: 2, action: 'drop' } },
      /maxConcurrent\.action must be one of/,
    ],
    [
      'a zero token interval',
      { tokenThrottle: { minIntervalSeconds: 0 } },
      /tokenThrottle\.minIntervalSeconds/,
    ],
    [
      'a token throttle status of 503',
      { tokenThrottle: { minIntervalSeconds: 5, status: 503 } },
      /tokenThrottle\.status must be one of 429, 400/,
    ],
    ['a fractional seed', { seed: 1.5 }, /seed must be an integer/],
    [
      'a negative revocation count',
      { revokeTokenAfterRequests: -1 },
      /revokeTokenAfterRequests must be an integer >= 0/,
    ],
  ])('refuses %s, saying where', (_label, config, message) => {
    expect(() => sandbox.setFaults(config as unknown as FaultConfig)).toThrow(message);
  });

  it('keeps the previous config when a new one is refused, and accepts every option together', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'serverError', status: 503, endpoints: 'mdmServers.list' }],
    });
    expect(() => sandbox.setFaults({ rules: [{ kind: 'hang', nth: 0 }] })).toThrow();
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(503);
    const everything: FaultConfig = {
      seed: 3,
      latency: [{ ms: 0, jitterMs: 0, endpoints: ['orgDevices.get'] }],
      rateLimit: { rps: 1000, endpoints: 'api', retryAfterFormat: 'http-date' },
      rules: [
        { kind: 'tooManyRequests', nth: [1000], retryAfterSeconds: 0, retryAfterFormat: 'none' },
        { kind: 'serverError', status: 599, every: 1000, times: 1 },
        { kind: 'reset', rate: 0, afterBytes: 0 },
        { kind: 'truncate', rate: 0, keepBytes: 0 },
        { kind: 'html', rate: 0, status: 200 },
        { kind: 'hang', rate: 0, endpoints: 'all' },
        { kind: 'status', status: 409, code: 'CONFLICT', title: 't', detail: 'd', rate: 0 },
      ],
      revokeTokenAfterRequests: 0,
      maxConcurrent: { limit: 100, action: '503' },
      tokenThrottle: { minIntervalSeconds: 0.5, status: 400 },
    };
    expect(() => sandbox.setFaults(everything)).not.toThrow();
  });

  it('refuses a bad config over the control endpoint with a 400 that says why', async () => {
    const response = await fetch(`${sandbox.apiBaseUrl}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ kind: 'serverError', nht: 1 }] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { detail: string }[] };
    expect(body.errors[0].detail).toMatch(/unknown key "nht"/);
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
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
