import type { Sandbox } from '../sandbox';

/** Environment variables that configure a collection against the sandbox. */
export function sandboxEnv(
  sandbox: Sandbox,
  account = sandbox.credentials,
): Record<string, string> {
  return {
    CLIENT_ID: account.clientId,
    KEY_ID: account.keyId,
    PRIVATE_KEY: account.privateKey,
    API_BASE_URL: sandbox.apiBaseUrl,
    TOKEN_URL: sandbox.tokenUrl,
  };
}
