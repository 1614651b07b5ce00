import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
  IntegrationProviderRetriesExceededError,
} from '@jupiterone/integration-sdk-core';
import { decodeProtectedHeader, jwtVerify } from 'jose';

import { fakeFetch, virtualClock } from '../../test/helpers/fakeFetch';
import { generateP256 } from '../../test/helpers/keys';
import { CLIENT_ASSERTION_AUDIENCE, CLIENT_ASSERTION_TYPE, TokenProvider } from './auth';
import { HttpTransport } from './http';
import { redactSecrets } from './redact';

const key = generateP256();
const config = {
  clientId: 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b',
  keyId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  privateKey: key.privateKey,
  scope: 'business.api' as const,
  tokenUrl: 'https://account.test/auth/oauth2/token',
};

function provider(handler: Parameters<typeof fakeFetch>[0]) {
  const fetch = fakeFetch(handler);
  const clock = virtualClock();
  const http = new HttpTransport({ fetch, ...clock });
  const tokens = new TokenProvider({ config, http, now: clock.now, sleep: clock.sleep });
  return { fetch, clock, tokens, http };
}

/** Waits (in real time: signing an assertion is truly async) until `done` holds, 5 s at most. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let issued = 0;
const okToken = (expiresIn = 3600) => ({
  body: { access_token: `token-${++issued}-abcdefgh`, token_type: 'Bearer', expires_in: expiresIn },
});

describe('TokenProvider', () => {
  it('sends the documented form with a valid ES256 client assertion', async () => {
    const { fetch, tokens } = provider(() => okToken());
    await tokens.getToken();
    const form = new URLSearchParams(String(fetch.calls[0].init.body));
    expect(fetch.calls[0].init.method).toBe('POST');
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('client_id')).toBe(config.clientId);
    expect(form.get('client_assertion_type')).toBe(CLIENT_ASSERTION_TYPE);
    expect(form.get('scope')).toBe('business.api');
    const assertion = form.get('client_assertion')!;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: config.keyId });
    const { payload } = await jwtVerify(assertion, key.publicKey, {
      audience: CLIENT_ASSERTION_AUDIENCE,
      issuer: config.clientId,
      subject: config.clientId,
      currentDate: new Date(1_700_000_000_000),
    });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(600);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Registered as a secret: it can never be printed by an error path.
    expect(redactSecrets(`x ${assertion} y`)).toBe('x [REDACTED] y');
  });

  it('fetches one token for many concurrent callers and reuses it', async () => {
    const { fetch, tokens } = provider(
      () => new Promise((resolve) => setTimeout(() => resolve(okToken()), 10)),
    );
    const values = await Promise.all(Array.from({ length: 10 }, () => tokens.getToken()));
    expect(new Set(values).size).toBe(1);
    await tokens.getToken();
    expect(fetch.calls).toHaveLength(1);
    expect(tokens.tokensIssued).toBe(1);
  });

  it('renews shortly before expiry, in the background, and after invalidate', async () => {
    const { fetch, clock, tokens } = provider(() => okToken(3600));
    const first = await tokens.getToken();
    await clock.sleep(3600_000 - 6 * 60_000);
    expect(await tokens.getToken()).toBe(first);
    await clock.sleep(2 * 60_000); // now within 5 minutes of expiry
    // The renewal starts, and the token that still serves is handed out meanwhile.
    expect(await tokens.getToken()).toBe(first);
    await until(() => tokens.tokensIssued === 2);
    const second = await tokens.getToken();
    expect(second).not.toBe(first);
    tokens.invalidate(first); // a stale token does not drop the new one
    expect(await tokens.getToken()).toBe(second);
    tokens.invalidate(second);
    expect(await tokens.getToken()).not.toBe(second);
    expect(fetch.calls).toHaveLength(3);
  });

  it('keeps using a token that still serves while renewals ahead of its expiry fail', async () => {
    let calls = 0;
    const fetch = fakeFetch(() => {
      calls += 1;
      if (calls === 1) return okToken(3600);
      // Every renewal refused, as the token endpoint does when asked "too often".
      return { status: 400, body: { error: 'invalid_request', error_description: 'too many' } };
    });
    const clock = virtualClock();
    const http = new HttpTransport({ fetch, ...clock });
    const failures: Array<[string, number]> = [];
    const tokens = new TokenProvider({
      config,
      http,
      now: clock.now,
      sleep: clock.sleep,
      onEarlyRenewalFailed: (err, expiresInMs) =>
        failures.push([(err as Error).message, expiresInMs]),
    });
    const first = await tokens.getToken();
    await clock.sleep(3600_000 - 4 * 60_000); // within 5 minutes of expiry
    // Many requests meanwhile: each gets the token at once; one renewal is under way.
    for (let i = 0; i < 5; i++) expect(await tokens.getToken()).toBe(first);
    await until(() => failures.length === 1);
    // Refused after its own retries (2 s and 10 s): reported, and not asked again for 30 s.
    expect(failures).toEqual([
      [expect.stringContaining('400 invalid_request'), expect.any(Number)],
    ]);
    expect(failures[0][1]).toBeGreaterThan(3 * 60_000);
    const asked = calls;
    expect(await tokens.getToken()).toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(asked);
    await clock.sleep(30_000);
    expect(await tokens.getToken()).toBe(first);
    await until(() => failures.length === 2);
    expect(calls).toBe(asked + 3);
    // Once the token is about to run out, requests wait for a new one, and get the error.
    await clock.sleep(4 * 60_000);
    await expect(tokens.getToken()).rejects.toThrow(/400 invalid_request/);
  });

  it('uses a token until 10 s before it expires, then waits for a new one', async () => {
    const { clock, tokens } = provider((_, __, call) =>
      call === 1
        ? okToken(3600)
        : { status: 400, body: { error: 'invalid_request', error_description: 'not now' } },
    );
    const first = await tokens.getToken();
    await clock.sleep(3600_000 - 15_000);
    expect(await tokens.getToken()).toBe(first);
    await clock.sleep(10_000); // 5 s left: too little to send a request with it
    const thrown = await tokens.getToken().catch((e) => e);
    expect(thrown.message).toContain('400 invalid_request');
    // Refused again after being asked again: retries exceeded, not a defect to report.
    expect(thrown).toBeInstanceOf(IntegrationProviderRetriesExceededError);
  });

  it('renews a short-lived token a tenth of its life ahead (before its last 10 s), not 5 minutes ahead', async () => {
    const { fetch, clock, tokens } = provider(() => okToken(600));
    const first = await tokens.getToken();
    await clock.sleep(400_000); // 200 s left: more than a tenth of 600 s and 10 s
    expect(await tokens.getToken()).toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fetch.calls).toHaveLength(1);
    await clock.sleep(135_000); // 65 s left, within the last tenth and 10 s
    expect(await tokens.getToken()).toBe(first);
    await until(() => tokens.tokensIssued === 2);
    expect(fetch.calls).toHaveLength(2);
  });

  it.each([100, 60, 20])(
    'renews a token of %i s in the background too, while it still serves',
    async (seconds) => {
      let calls = 0;
      const { clock, tokens } = provider(() => {
        calls += 1;
        return okToken(seconds);
      });
      const first = await tokens.getToken();
      // Within the last tenth of its life and 10 s, but more than the 10 s when it is no longer
      // handed out: the window where a renewal runs in the background. Before, a token of 100 s or
      // less had none, and every request waited for its renewal.
      await clock.sleep(seconds * 1000 - 10_000 - (seconds * 1000) / 20);
      expect(await tokens.getToken()).toBe(first);
      await until(() => tokens.tokensIssued === 2);
      expect(calls).toBe(2);
      expect(await tokens.getToken()).not.toBe(first);
    },
  );

  it('takes a first token refused with any 400 as final: the credentials never worked', async () => {
    const { fetch, tokens } = provider(() => ({
      status: 400,
      body: { error: 'invalid_request', error_description: 'malformed' },
    }));
    const thrown = await tokens.getToken().catch((e) => e);
    expect(thrown).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(thrown.message).toContain('400 invalid_request');
    expect(fetch.calls).toHaveLength(1);
  });

  it('does not retry a renewal refused for its credentials', async () => {
    const { fetch, tokens } = provider((_, __, call) =>
      call === 1 ? okToken() : { status: 400, body: { error: 'invalid_client' } },
    );
    tokens.invalidate(await tokens.getToken());
    const thrown = await tokens.getToken().catch((e) => e);
    expect(thrown).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(thrown.message).toContain('400 invalid_client');
    expect(fetch.calls).toHaveLength(2);
  });

  it.each([
    ['invalid_client', /Key ID and the private key both belong to this Client ID/],
    ['invalid_scope', /BUSINESSAPI\. Client ID only works for an Apple Business Manager account/],
  ])('turns %s into an authentication error that names the likely cause', async (error, hint) => {
    const { tokens } = provider(() => ({ status: 400, body: { error } }));
    const thrown = await tokens.getToken().catch((e) => e);
    expect(thrown).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(thrown.message).toContain(`POST /auth/oauth2/token: 400 ${error}`);
    expect(thrown.message).toMatch(hint);
  });

  it('retries a throttled token endpoint', async () => {
    const { fetch, tokens } = provider((_, __, call) =>
      call === 1 ? { status: 429, headers: { 'retry-after': '2' } } : okToken(),
    );
    await expect(tokens.getToken()).resolves.toMatch(/^token-/);
    expect(fetch.calls).toHaveLength(2);
  });

  it("keeps the token endpoint's 429 off the API's pace", async () => {
    // Apple's token endpoint is on another host than the API: its limit is not the API's.
    const { tokens, http } = provider((_, __, call) =>
      call === 1 ? { status: 429, headers: { 'retry-after': '2' } } : okToken(),
    );
    await tokens.getToken();
    expect(http.stats.throttled).toBe(1);
    expect(http.paceIntervalMs).toBe(0);
  });

  it('signs a new assertion for each attempt, so a retry never replays a jti', async () => {
    const { fetch, tokens } = provider((_, __, call) =>
      call === 1 ? { text: '{"access_tok' } : okToken(),
    );
    await tokens.getToken();
    const jtis = fetch.calls.map((call) => {
      const assertion = new URLSearchParams(String(call.init.body)).get('client_assertion')!;
      return JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString()).jti;
    });
    expect(jtis).toHaveLength(2);
    expect(jtis[0]).not.toBe(jtis[1]);
  });

  it.each([
    [401, { errors: [{ status: '401', code: 'UNAUTHORIZED', title: 'Bearer token required' }] }],
    [404, { errors: [{ status: '404', code: 'NOT_FOUND' }] }],
    [400, undefined],
  ])(
    'points at tokenUrl when a %i is not an OAuth error (not from the token endpoint)',
    async (status, body) => {
      const { tokens } = provider(() => ({ status, body }));
      await expect(tokens.getToken()).rejects.toThrow(
        /the answer is not an OAuth error, so it likely did not come from Apple's token endpoint: check that tokenUrl \(TOKEN_URL\) points at it/,
      );
    },
  );

  it("keeps Apple's own hint for an OAuth error", async () => {
    const { tokens } = provider(() => ({ status: 400, body: { error: 'invalid_client' } }));
    const refused = tokens.getToken();
    await expect(refused).rejects.toThrow(/Apple did not accept the credentials/);
    await expect(refused).rejects.not.toThrow(/not an OAuth error/);
  });

  it.each([
    ['business.api', 'Apple Business Manager'],
    ['school.api', 'Apple School Manager'],
  ] as const)(
    'names where a %s account is enabled when Apple refuses its grant',
    async (scope, manager) => {
      const fetch = fakeFetch(() => ({ status: 400, body: { error: 'unauthorized_client' } }));
      const clock = virtualClock();
      const http = new HttpTransport({ fetch, ...clock });
      const tokens = new TokenProvider({
        config: { ...config, scope },
        http,
        now: clock.now,
        sleep: clock.sleep,
      });
      await expect(tokens.getToken()).rejects.toThrow(
        `the API account is not allowed to use this grant: check that it is enabled in ${manager}`,
      );
    },
  );

  it.each(['toString', 'constructor', '__proto__'])(
    'adds no hint for the OAuth error %s, which it does not know',
    async (error) => {
      const { tokens } = provider(() => ({ status: 400, body: { error } }));
      const thrown = await tokens.getToken().catch((e) => e);
      expect(thrown).toBeInstanceOf(IntegrationProviderAuthenticationError);
      expect(thrown.message).toMatch(new RegExp(`400 ${error}\\b`));
      // Before, the name found what every object inherits, and the message showed it.
      expect(thrown.message).not.toMatch(/function|native code|\[object Object\]/);
    },
  );

  it('refuses a 200 without an access token', async () => {
    const { tokens } = provider(() => ({ body: { hello: 'world' } }));
    await expect(tokens.getToken()).rejects.toThrow(/without an access_token/);
  });

  it.each([
    ['a line break', 'abcdefghij\nklmnopqrstuv'],
    ['a space', 'abcdefghij klmnopqrstuv'],
    ['a non-ASCII character', 'abcdefghijé-klmnopqrstuv'],
  ])(
    'refuses an access token with %s, which no header can carry, without showing it',
    async (_, token) => {
      const { tokens } = provider(() => ({ body: { access_token: token, token_type: 'Bearer' } }));
      const thrown = await tokens.getToken().catch((e) => e);
      expect(thrown).toBeInstanceOf(IntegrationProviderAPIError);
      expect(thrown.message).toContain('outside printable ASCII, which no request can carry');
      expect(thrown.message).not.toContain('klmnop');
      expect(tokens.tokensIssued).toBe(0);
    },
  );

  it('refuses a token that is not a Bearer token, and takes any case of Bearer', async () => {
    const mac = provider(() => ({ body: { access_token: 'abcdefghijklmnop', token_type: 'MAC' } }));
    await expect(mac.tokens.getToken()).rejects.toThrow(/a token of type "MAC", not Bearer/);
    const lower = provider(() => ({
      body: { access_token: 'abcdefghijklmnop', token_type: 'bearer', expires_in: 3600 },
    }));
    expect(await lower.tokens.getToken()).toBe('abcdefghijklmnop');
  });

  it('refuses an access token too short to be told from other text', async () => {
    const { tokens } = provider(() => ({
      body: { access_token: 'Ab3xQ9z', token_type: 'Bearer', expires_in: 3600 },
    }));
    await expect(tokens.getToken()).rejects.toThrow(
      /answered an access_token of 7 characters, too short to be Apple's/,
    );
  });

  it('registers each access token it is given, so an echo of it anywhere is hidden', async () => {
    const token = 'ULIV9qjIjSamOVHCM9dENwY6Nvhms677p-DS318qeH4';
    const { tokens } = provider(() => ({
      body: { access_token: token, token_type: 'Bearer', expires_in: 3600 },
    }));
    expect(await tokens.getToken()).toBe(token);
    // Without "Bearer " before it, only its registration can hide it.
    expect(redactSecrets(`x ${token} y`)).toBe('x [REDACTED] y');
  });

  it('never quotes the token in the refusal of a token type that holds it', async () => {
    const token = 'Zk9QbTF2TDJoVWVYQmxjajByTjNwWGNWSjQ';
    const echo = provider(() => ({
      // Not after "Bearer ", where a pattern would hide it registered or not.
      body: { access_token: token, token_type: `mac ${token.slice(0, 30)}` },
    }));
    const error = await echo.tokens.getToken().catch((e) => e);
    expect(error.message).toMatch(/a token of type "mac \[REDACTED\]", not Bearer/);
    expect(error.message).not.toContain(token.slice(0, 12));
  });
});
