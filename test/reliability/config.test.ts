/**
 * Bad configuration through the real run path (environment variables, then
 * validateInvocation, as `j1-integration collect` does). The field-by-field
 * cases (each field missing, every key shape accepted or refused) are unit
 * tests in src/config.test.ts; these prove the messages reach the user of a
 * real run, and that Apple's refusals come back as authentication errors
 * that name the likely cause.
 */
import {
  IntegrationProviderAuthenticationError,
  IntegrationValidationError,
} from '@jupiterone/integration-sdk-core';

import { collectFromSandbox } from '../helpers/collect';
import { generatePem, generateP256 } from '../helpers/keys';
import { startTapProxy, TapProxy } from '../helpers/tapProxy';
import { Sandbox, startSandbox } from '../sandbox';

describe('bad configuration in a real run', () => {
  let sandbox: Sandbox;
  let proxy: TapProxy;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 200, servers: 4, seed: 51 });
    proxy = await startTapProxy(sandbox.apiBaseUrl);
  });
  afterEach(() => proxy.setIntercept(undefined));
  afterAll(async () => {
    await proxy.stop();
    await sandbox.stop();
  });

  async function refused(env: Record<string, string | undefined>): Promise<Error> {
    sandbox.resetStats();
    const graph = await collectFromSandbox(sandbox, { env });
    expect(graph.error).toBeDefined();
    // Nothing was collected and no step ran.
    expect(graph.entities).toEqual([]);
    expect(graph.summary).toBeUndefined();
    return graph.error as Error;
  }

  it('missing CLIENT_ID: refused naming the variable, before any request', async () => {
    // Locally the SDK itself refuses a missing required field while loading the
    // environment (IntegrationLocalConfigFieldMissingError); on the platform the config
    // comes from the UI and parseConfig says "Missing clientId (CLIENT_ID): ..." (unit-tested).
    const error = await refused({ CLIENT_ID: undefined });
    expect(error.message).toContain('CLIENT_ID');
    expect(sandbox.stats().totalRequests).toBe(0);
  });

  it('an RSA key as PRIVATE_KEY: a validation error that says what key is expected', async () => {
    const error = await refused({ PRIVATE_KEY: generatePem('rsa').privateKey });
    expect(error).toBeInstanceOf(IntegrationValidationError);
    expect(error.message).toMatch(/privateKey \(PRIVATE_KEY\)/);
    expect(error.message).toMatch(/P-256/);
    expect(sandbox.stats().totalRequests).toBe(0);
  });

  it('garbage as PRIVATE_KEY: a validation error that does not echo the value', async () => {
    const error = await refused({ PRIVATE_KEY: 'not-a-key-but-a-secret-looking-value-123456' });
    expect(error).toBeInstanceOf(IntegrationValidationError);
    expect(error.message).toMatch(/privateKey \(PRIVATE_KEY\)/);
    expect(error.message).not.toContain('secret-looking-value');
  });

  it('an http API_BASE_URL on a non-loopback host: refused before any credential is sent', async () => {
    const error = await refused({ API_BASE_URL: 'http://api-business.example.com' });
    expect(error).toBeInstanceOf(IntegrationValidationError);
    expect(error.message).toMatch(/apiBaseUrl \(API_BASE_URL\) must use https/);
    expect(sandbox.stats().totalRequests).toBe(0);
  });

  it('a RETRY_BUDGET_SECONDS that is not a positive number: a validation error', async () => {
    const error = await refused({ RETRY_BUDGET_SECONDS: 'soon' });
    expect(error).toBeInstanceOf(IntegrationValidationError);
    expect(error.message).toContain('retryBudgetSeconds (RETRY_BUDGET_SECONDS)');
  });

  it("a valid P-256 key that is not this Client ID's: invalid_client, an authentication error naming the cause", async () => {
    const error = await refused({ PRIVATE_KEY: generateP256().pkcs8 });
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('POST /auth/oauth2/token');
    expect(error.message).toContain('400 invalid_client');
    expect(error.message).toMatch(
      /check that the Key ID and the private key both belong to this Client ID/,
    );
    // Refused once, not retried: retrying cannot fix credentials.
    expect(sandbox.stats().byEndpoint.token).toEqual({ '400': 1 });
  });

  it('a Key ID of another account: invalid_client', async () => {
    const error = await refused({ KEY_ID: sandbox.schoolCredentials.keyId });
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('invalid_client');
  });

  it('Apple refusing the scope (a Client ID registered as the other account kind): invalid_scope, naming the cause', async () => {
    // The collector picks the scope from the Client ID prefix, so it always asks for the
    // matching one; Apple can still refuse it (an account moved between organizations).
    // The proxy asks for the other scope, and the sandbox refuses it as Apple would.
    proxy.setIntercept(({ url, body }) => {
      if (!url.pathname.endsWith('/auth/oauth2/token')) return undefined;
      const form = new URLSearchParams(body);
      form.set('scope', 'school.api');
      return { body: form.toString() };
    });
    const error = await refused({ API_BASE_URL: proxy.apiBaseUrl, TOKEN_URL: proxy.tokenUrl });
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('invalid_scope');
    expect(error.message).toMatch(
      /a BUSINESSAPI\. Client ID only works for an Apple Business Manager account/,
    );
  });

  it('a TOKEN_URL with the wrong path: an authentication error naming the endpoint and status', async () => {
    const error = await refused({ TOKEN_URL: `${sandbox.apiBaseUrl}/auth/oauth2/wrong` });
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('POST /auth/oauth2/wrong: 401');
  });
});
