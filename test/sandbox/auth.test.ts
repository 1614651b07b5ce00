import { createPrivateKey, generateKeyPairSync } from 'crypto';
import { APPLE_TOKEN_AUDIENCE, startSandbox, type Sandbox } from './index';
import {
  apiGet,
  assertionClaims,
  assertionFor,
  derAssertionFor,
  getToken,
  postToken,
  signAssertion,
  tokenForm,
} from './helpers';

const DAY = 86_400;

describe('token endpoint', () => {
  let clock = Date.UTC(2025, 0, 15, 12);
  let sandbox: Sandbox;
  const nowSeconds = (): number => Math.floor(clock / 1000);

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 20, tokenTtlSeconds: 60, now: () => clock });
  });
  afterAll(() => sandbox.stop());

  async function refused(form: Record<string, string> | string): Promise<string> {
    const { status, body } = await postToken(sandbox, form);
    expect(status).toBe(400);
    expect(typeof body.error_description).toBe('string');
    return body.error as string;
  }

  it('issues a bearer token for a valid assertion, and the token works', async () => {
    const account = sandbox.credentials;
    expect(account.clientId).toMatch(/^BUSINESSAPI\.[0-9a-f-]{36}$/);
    const { status, body } = await postToken(
      sandbox,
      tokenForm(account, await assertionFor(account, nowSeconds())),
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 60,
      scope: 'business.api',
    });
    const answer = await apiGet(sandbox, body.access_token as string, '/v1/mdmServers');
    expect(answer.status).toBe(200);
  });

  it('refuses an assertion signed with another key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const account = sandbox.credentials;
    expect(
      await refused(tokenForm(account, await assertionFor(account, nowSeconds(), { key: other }))),
    ).toBe('invalid_client');
  });

  it.each([
    ['unknown kid', { kid: '00000000-0000-4000-8000-000000000000' }, /kid/],
    ['wrong aud', { aud: 'https://account.apple.com/auth/oauth2/token' }, /aud/],
    ['wrong iss', { iss: 'BUSINESSAPI.00000000-0000-4000-8000-000000000000' }, /iss/],
    ['wrong sub', { sub: 'someone' }, /sub/],
  ])('refuses %s with invalid_client, for that reason', async (_label, overrides, reason) => {
    const account = sandbox.credentials;
    const form = tokenForm(account, await assertionFor(account, nowSeconds(), overrides));
    const { status, body } = await postToken(sandbox, form);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toMatch(reason);
  });

  it('refuses an expired assertion, and one that lives 180 days or more', async () => {
    const account = sandbox.credentials;
    const now = nowSeconds();
    const expired = await assertionFor(account, now, { iat: now - 600, exp: now - 1 });
    expect(await refused(tokenForm(account, expired))).toBe('invalid_client');
    const tooLong = await assertionFor(account, now, { exp: now + 180 * DAY });
    expect(await refused(tokenForm(account, tooLong))).toBe('invalid_client');
    const justUnder = await assertionFor(account, now, { exp: now + 180 * DAY - 1 });
    expect((await postToken(sandbox, tokenForm(account, justUnder))).status).toBe(200);
    const future = await assertionFor(account, now, { iat: now + 3600, exp: now + 3900 });
    expect(await refused(tokenForm(account, future))).toBe('invalid_client');
  });

  it('refuses an assertion whose exp is now, and an iat more than 5 minutes ahead', async () => {
    const account = sandbox.credentials;
    const now = nowSeconds();
    const endsNow = await assertionFor(account, now, { iat: now - 600, exp: now });
    expect(await refused(tokenForm(account, endsNow))).toBe('invalid_client');
    const tooFarAhead = await assertionFor(account, now, { iat: now + 301, exp: now + 900 });
    expect(await refused(tokenForm(account, tooFarAhead))).toBe('invalid_client');
    const withinSkew = await assertionFor(account, now, { iat: now + 300, exp: now + 900 });
    expect((await postToken(sandbox, tokenForm(account, withinSkew))).status).toBe(200);
  });

  it('accepts aud as a one-element array, and refuses an array with another audience', async () => {
    const account = sandbox.credentials;
    const header = { alg: 'ES256', kid: account.keyId };
    const single = signAssertion(account, header, {
      ...assertionClaims(account, nowSeconds()),
      aud: [APPLE_TOKEN_AUDIENCE],
    });
    expect((await postToken(sandbox, tokenForm(account, single))).status).toBe(200);
    const extra = signAssertion(account, header, {
      ...assertionClaims(account, nowSeconds()),
      aud: [APPLE_TOKEN_AUDIENCE, 'https://example.com/token'],
    });
    const { status, body } = await postToken(sandbox, tokenForm(account, extra));
    expect(status).toBe(400);
    expect(body).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(/aud/),
    });
  });

  it('refuses a replayed jti', async () => {
    const account = sandbox.credentials;
    const assertion = await assertionFor(account, nowSeconds(), { jti: 'same-jti' });
    expect((await postToken(sandbox, tokenForm(account, assertion))).status).toBe(200);
    expect(await refused(tokenForm(account, assertion))).toBe('invalid_client');
    const fresh = await assertionFor(account, nowSeconds(), { jti: 'same-jti' });
    expect(await refused(tokenForm(account, fresh))).toBe('invalid_client');
  });

  it('refuses a DER-encoded signature', async () => {
    const account = sandbox.credentials;
    expect(await refused(tokenForm(account, derAssertionFor(account, nowSeconds())))).toBe(
      'invalid_client',
    );
  });

  it('checks the form parameters', async () => {
    const account = sandbox.credentials;
    const good = async (): Promise<Record<string, string>> =>
      tokenForm(account, await assertionFor(account, nowSeconds()));
    expect(await refused({ ...(await good()), grant_type: 'password' })).toBe(
      'unsupported_grant_type',
    );
    const missing = await good();
    delete missing.scope;
    expect(await refused(missing)).toBe('invalid_request');
    expect(await refused({ ...(await good()), client_assertion_type: 'jwt' })).toBe(
      'invalid_request',
    );
    expect(await refused({ ...(await good()), extra: '1' })).toBe('invalid_request');
    const duplicated = `${new URLSearchParams(await good()).toString()}&scope=business.api`;
    expect(await refused(duplicated)).toBe('invalid_request');
    expect(await refused({ ...(await good()), client_id: 'BUSINESSAPI.nobody' })).toBe(
      'invalid_client',
    );
    expect(await refused({ ...(await good()), scope: 'school.api' })).toBe('invalid_scope');
    expect(await refused({ ...(await good()), scope: 'everything' })).toBe('invalid_scope');
    expect(await refused({ ...(await good()), client_assertion: 'not-a-jwt' })).toBe(
      'invalid_client',
    );
  });

  it.each([
    ['no jti', { jti: undefined }, /jti missing/],
    ['an empty jti', { jti: '' }, /jti missing/],
    ['no iat', { iat: undefined }, /iat missing/],
    ['a string iat', { iat: 'now' }, /iat missing/],
    ['no exp', { exp: undefined }, /exp missing/],
    ['exp equal to iat', { iat: 100, exp: 100 }, /exp must be after iat/],
    ['exp before iat', { iat: 200, exp: 100 }, /exp must be after iat/],
  ])('refuses an assertion with %s', async (_label, change, reason) => {
    const account = sandbox.credentials;
    const claims = assertionClaims(account, nowSeconds());
    for (const [name, value] of Object.entries(change)) {
      // iat/exp numbers in the table are offsets from now, kept ahead of the clock so that
      // "exp in the past" cannot be the reason; iat stays within the 5-minute tolerance.
      if (value === undefined) delete claims[name];
      else claims[name] = typeof value === 'number' ? nowSeconds() + value : value;
    }
    const { status, body } = await postToken(
      sandbox,
      tokenForm(account, signAssertion(account, { alg: 'ES256', kid: account.keyId }, claims)),
    );
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toMatch(reason);
  });

  it.each(['ES384', 'HS256', 'none', 'RS256'])(
    'refuses an assertion whose alg is %s',
    async (alg) => {
      const account = sandbox.credentials;
      const assertion = signAssertion(
        account,
        { alg, kid: account.keyId },
        assertionClaims(account, nowSeconds()),
      );
      const { status, body } = await postToken(sandbox, tokenForm(account, assertion));
      expect(status).toBe(400);
      expect(body).toEqual({
        error: 'invalid_client',
        error_description: expect.stringMatching(/ES256/),
      });
    },
  );

  it('accepts a well-formed assertion built by hand, so the refusals above are about one claim', async () => {
    const account = sandbox.credentials;
    const assertion = signAssertion(
      account,
      { alg: 'ES256', kid: account.keyId, typ: 'JWT' },
      assertionClaims(account, nowSeconds()),
    );
    expect((await postToken(sandbox, tokenForm(account, assertion))).status).toBe(200);
  });

  it.each<[string | undefined]>([
    ['application/json'],
    ['text/plain'],
    ['application/x-www-form-urlencoded-but-not'],
    [undefined],
  ])('refuses Content-Type %s with invalid_request', async (contentType) => {
    const account = sandbox.credentials;
    const form = tokenForm(account, await assertionFor(account, nowSeconds()));
    const response = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      body:
        contentType === undefined
          ? Buffer.from(new URLSearchParams(form).toString())
          : new URLSearchParams(form).toString(),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(/Content-Type/),
    });
  });

  it('accepts the form Content-Type with a charset parameter', async () => {
    const account = sandbox.credentials;
    const form = tokenForm(account, await assertionFor(account, nowSeconds()));
    const response = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: new URLSearchParams(form).toString(),
    });
    expect(response.status).toBe(200);
  });

  it.each(['GET', 'PUT', 'DELETE'])('answers %s on the token endpoint with 405', async (method) => {
    const response = await fetch(sandbox.tokenUrl, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      error_description: expect.any(String),
    });
  });

  it('answers an oversized token request with an OAuth invalid_request', async () => {
    const account = sandbox.credentials;
    const form = tokenForm(account, await assertionFor(account, nowSeconds()));
    const { status, body } = await postToken(
      sandbox,
      `${new URLSearchParams(form).toString()}&padding=${'x'.repeat(70 * 1024)}`,
    );
    expect(status).toBe(400);
    expect(body).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(/too large/),
    });
  });

  it('never echoes the assertion in an error', async () => {
    const account = sandbox.credentials;
    const assertion = await assertionFor(account, nowSeconds(), { aud: 'x' });
    const { body } = await postToken(sandbox, tokenForm(account, assertion));
    expect(JSON.stringify(body)).not.toContain(assertion.split('.')[2]);
  });

  it('serves school accounts with school scope, and refuses business scope for them', async () => {
    const school = sandbox.schoolCredentials;
    expect(school.clientId).toMatch(/^SCHOOLAPI\./);
    expect(school.privateKey).toContain('BEGIN EC PRIVATE KEY');
    expect(sandbox.credentials.privateKey).toContain('BEGIN PRIVATE KEY');
    const token = await getToken(sandbox, school, nowSeconds());
    expect((await apiGet(sandbox, token, '/v1/orgDevices?limit=1')).status).toBe(200);
    const wrongScope = tokenForm(school, await assertionFor(school, nowSeconds()), 'business.api');
    expect(await refused(wrongScope)).toBe('invalid_scope');
  });

  it('registers more accounts, including one known only by its public key', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const account = sandbox.registerAccount('business', { publicKey: pair.publicKey });
    expect(account.privateKey).toBe('');
    expect(sandbox.accounts.map((a) => a.clientId)).toContain(account.clientId);
    const assertion = await assertionFor(account, nowSeconds(), { key: pair.privateKey });
    expect((await postToken(sandbox, tokenForm(account, assertion))).status).toBe(200);
    const generated = sandbox.registerAccount('school');
    expect(createPrivateKey(generated.privateKey).asymmetricKeyType).toBe('ec');
  });

  it('expires tokens after the ttl and answers 401 in Apple style', async () => {
    const token = await getToken(sandbox, sandbox.credentials, nowSeconds());
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    clock += 59_000;
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    clock += 1_000;
    const expired = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(expired.status).toBe(401);
    expect(expired.json.errors[0]).toEqual(
      expect.objectContaining({
        status: '401',
        code: 'UNAUTHORIZED',
        id: expect.any(String),
        title: expect.any(String),
      }),
    );
  });

  it.each([
    ['missing', undefined, /Authorization header/],
    ['unknown', 'made-up', /not valid/],
  ])('answers 401 in Apple style for a %s token', async (_label, token, detail) => {
    const answer = await apiGet(sandbox, token, '/v1/orgDevices');
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.json.errors).toHaveLength(1);
    expect(answer.json.errors[0]).toEqual({
      id: expect.any(String),
      status: '401',
      code: 'UNAUTHORIZED',
      title: expect.any(String),
      detail: expect.stringMatching(detail),
    });
  });

  it('answers 401 in Apple style for a revoked token', async () => {
    const token = await getToken(sandbox, sandbox.credentials, nowSeconds());
    sandbox.revokeAllTokens();
    const revoked = await apiGet(sandbox, token, '/v1/orgDevices');
    expect(revoked.status).toBe(401);
    expect(revoked.json.errors[0]).toEqual(
      expect.objectContaining({
        status: '401',
        code: 'UNAUTHORIZED',
        detail: expect.stringMatching(/revoked/),
      }),
    );
  });

  it('revokes every token over the revoke-tokens control endpoint', async () => {
    const token = await getToken(sandbox, sandbox.credentials, nowSeconds());
    expect((await apiGet(sandbox, token, '/v1/mdmServers')).status).toBe(200);
    const response = await fetch(`${sandbox.apiBaseUrl}/__sandbox/revoke-tokens`, {
      method: 'POST',
    });
    expect(response.status).toBe(200);
    const revoked = await apiGet(sandbox, token, '/v1/mdmServers');
    expect(revoked.status).toBe(401);
    expect(revoked.json.errors[0]).toEqual(
      expect.objectContaining({ code: 'UNAUTHORIZED', detail: expect.stringMatching(/revoked/) }),
    );
    const fresh = await getToken(sandbox, sandbox.credentials, nowSeconds());
    expect((await apiGet(sandbox, fresh, '/v1/mdmServers')).status).toBe(200);
  });

  it('hands out the same credentials for the same seed', async () => {
    const again = await startSandbox({ devices: 20 });
    try {
      expect(again.credentials.clientId).toBe(sandbox.credentials.clientId);
      expect(again.credentials.privateKey).toBe(sandbox.credentials.privateKey);
    } finally {
      await again.stop();
    }
  });

  it('issues tokens for 3600 seconds unless told otherwise', async () => {
    let now = Date.UTC(2025, 0, 15, 12);
    const plain = await startSandbox({ devices: 5, now: () => now });
    try {
      const account = plain.credentials;
      const { status, body } = await postToken(
        plain,
        tokenForm(account, await assertionFor(account, Math.floor(now / 1000))),
      );
      expect(status).toBe(200);
      expect(body.expires_in).toBe(3600);
      const token = body.access_token as string;
      now += 3_599_000;
      expect((await apiGet(plain, token, '/v1/mdmServers')).status).toBe(200);
      now += 1_000;
      expect((await apiGet(plain, token, '/v1/mdmServers')).status).toBe(401);
    } finally {
      await plain.stop();
    }
  });
});

describe('token endpoint throttle (tokenThrottle)', () => {
  let clock = Date.UTC(2025, 0, 15, 12);
  let sandbox: Sandbox;
  const nowSeconds = (): number => Math.floor(clock / 1000);

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 20, now: () => clock });
  });
  beforeEach(() => sandbox.resetStats());
  afterAll(() => sandbox.stop());

  it('answers 429 with an OAuth body and Retry-After to a client that asks again too soon', async () => {
    sandbox.setFaults({ tokenThrottle: { minIntervalSeconds: 60 } });
    const account = sandbox.credentials;
    const first = await postToken(
      sandbox,
      tokenForm(account, await assertionFor(account, nowSeconds())),
    );
    expect(first.status).toBe(200);
    clock += 20_000;
    const assertion = await assertionFor(account, nowSeconds());
    const response = await postToken(sandbox, tokenForm(account, assertion));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('40');
    expect(response.body).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(/too many token requests/),
    });
    // Another client is not throttled by this one.
    await expect(getToken(sandbox, sandbox.schoolCredentials, nowSeconds())).resolves.toEqual(
      expect.any(String),
    );
    // The refusal neither spent the assertion's jti nor restarted the interval.
    clock += 40_000;
    expect((await postToken(sandbox, tokenForm(account, assertion))).status).toBe(200);
    const stats = sandbox.stats();
    expect(stats.faultsInjected.tokenThrottle).toBe(1);
    expect(stats.byEndpoint.token).toEqual({ '200': 3, '429': 1 });
    expect(stats.tokensIssued).toBe(3);
  });

  it('rounds the Retry-After of a throttled token request up to whole seconds', async () => {
    sandbox.setFaults({ tokenThrottle: { minIntervalSeconds: 60 } });
    const account = sandbox.credentials;
    expect(
      (await postToken(sandbox, tokenForm(account, await assertionFor(account, nowSeconds()))))
        .status,
    ).toBe(200);
    clock += 20_500;
    const response = await postToken(
      sandbox,
      tokenForm(account, await assertionFor(account, nowSeconds())),
    );
    expect(response.status).toBe(429);
    // 39.5 s remain: a client that waits 39 would be refused again.
    expect(response.headers.get('retry-after')).toBe('40');
  });

  it('can answer 400 instead, without Retry-After', async () => {
    sandbox.setFaults({ tokenThrottle: { minIntervalSeconds: 30, status: 400 } });
    const account = sandbox.credentials;
    expect(
      (await postToken(sandbox, tokenForm(account, await assertionFor(account, nowSeconds()))))
        .status,
    ).toBe(200);
    clock += 29_000;
    const response = await postToken(
      sandbox,
      tokenForm(account, await assertionFor(account, nowSeconds())),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(response.body.error).toBe('invalid_request');
    clock += 1_000;
    expect(
      (await postToken(sandbox, tokenForm(account, await assertionFor(account, nowSeconds()))))
        .status,
    ).toBe(200);
  });

  it('restarts with setFaults, and is off without the option', async () => {
    sandbox.setFaults({ tokenThrottle: { minIntervalSeconds: 3600 } });
    const account = sandbox.credentials;
    expect(
      (await postToken(sandbox, tokenForm(account, await assertionFor(account, nowSeconds()))))
        .status,
    ).toBe(200);
    sandbox.setFaults({});
    for (let i = 0; i < 3; i++) {
      expect(
        (await postToken(sandbox, tokenForm(account, await assertionFor(account, nowSeconds()))))
          .status,
      ).toBe(200);
    }
  });
});
