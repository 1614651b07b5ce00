import { createPrivateKey, generateKeyPairSync } from 'crypto';
import { startSandbox, type Sandbox } from './index';
import { apiGet, assertionFor, derAssertionFor, getToken, postToken, tokenForm } from './helpers';

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

  it('answers 401 for missing, unknown and revoked tokens', async () => {
    expect((await apiGet(sandbox, undefined, '/v1/orgDevices')).status).toBe(401);
    expect((await apiGet(sandbox, 'made-up', '/v1/orgDevices')).status).toBe(401);
    const token = await getToken(sandbox, sandbox.credentials, nowSeconds());
    sandbox.revokeAllTokens();
    const revoked = await apiGet(sandbox, token, '/v1/orgDevices');
    expect(revoked.status).toBe(401);
    expect(revoked.json.errors[0].status).toBe('401');
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
});
