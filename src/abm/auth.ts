import { randomUUID } from 'crypto';
import { SignJWT } from 'jose';
import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
} from '@jupiterone/integration-sdk-core';

import { AbmConfig } from '../config';
import { describeErrorBody, HttpTransport } from './http';
import { registerSecret } from './redact';

/** Apple checks `aud` against this fixed value, whatever URL the token is requested from. */
export const CLIENT_ASSERTION_AUDIENCE = 'https://account.apple.com/auth/oauth2/v2/token';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const ASSERTION_LIFETIME_SECONDS = 600;
const MAX_RENEW_EARLY_MS = 5 * 60_000;

export interface TokenProviderOptions {
  config: Pick<AbmConfig, 'clientId' | 'keyId' | 'privateKey' | 'scope' | 'tokenUrl'>;
  http: HttpTransport;
  now?: () => number;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  renewAt: number;
}

/** What each OAuth error most likely means for the person who configured the integration. */
const OAUTH_ERROR_HINTS: Record<string, string> = {
  invalid_client:
    "Apple did not accept the credentials: check that the Key ID and the private key both belong to this Client ID (the API account may also have been deleted or its key revoked), and that this machine's clock is correct",
  invalid_scope:
    'Apple refused the scope: a BUSINESSAPI. Client ID only works for an Apple Business Manager account and a SCHOOLAPI. one only for Apple School Manager; check that the Client ID was copied from the right account',
  invalid_grant:
    "Apple refused the client assertion: check this machine's clock and that the Key ID belongs to this Client ID",
  unauthorized_client:
    'the API account is not allowed to use this grant: check that it is enabled in Apple Business Manager',
};

/**
 * Builds client assertions and trades them for access tokens. One token is
 * shared by every request of the run: reused for its lifetime, renewed
 * shortly before it expires or when the API rejects it, and fetched by only
 * one request at a time however many steps ask at once.
 */
export class TokenProvider {
  private cached?: CachedToken;
  private pending?: Promise<string>;
  private issued = 0;
  private readonly now: () => number;

  constructor(private readonly options: TokenProviderOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Access tokens obtained so far in this run. */
  get tokensIssued(): number {
    return this.issued;
  }

  async getToken(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.value;
    if (!this.pending) {
      this.pending = this.fetchToken().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  /** Drops `token` if it is still the cached one, so the next `getToken` fetches a new one. */
  invalidate(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  private async createClientAssertion(): Promise<string> {
    const { clientId, keyId, privateKey } = this.options.config;
    const issuedAt = Math.floor(this.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(CLIENT_ASSERTION_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(privateKey);
    registerSecret(assertion);
    return assertion;
  }

  private async fetchToken(): Promise<string> {
    const { clientId, scope, tokenUrl } = this.options.config;
    const endpoint = `POST ${new URL(tokenUrl).pathname}`;
    // A fresh assertion (new jti) for each attempt: a retry after a lost answer must not replay one.
    const body = async () =>
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await this.createClientAssertion(),
        scope,
      }).toString();
    const requestedAt = this.now();
    const response = await this.options.http.request({
      endpoint,
      url: tokenUrl,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });

    const json = response.json as Record<string, unknown> | undefined;
    if (response.status !== 200) {
      const error = typeof json?.error === 'string' ? json.error : undefined;
      const hint = error ? OAUTH_ERROR_HINTS[error] : undefined;
      const statusText = describeErrorBody(response) + (hint ? `. ${hint}` : '');
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        throw new IntegrationProviderAuthenticationError({
          endpoint,
          status: response.status,
          statusText,
        });
      }
      throw new IntegrationProviderAPIError({ endpoint, status: response.status, statusText });
    }
    const accessToken = json?.access_token;
    if (typeof accessToken !== 'string' || accessToken.length === 0) {
      throw new IntegrationProviderAPIError({
        endpoint,
        status: response.status,
        statusText:
          "the token endpoint answered 200 without an access_token; check that tokenUrl (TOKEN_URL) points at Apple's token endpoint",
      });
    }
    registerSecret(accessToken);
    const expiresInMs = readExpiresIn(json?.expires_in) * 1000;
    const renewEarlyMs = Math.min(MAX_RENEW_EARLY_MS, expiresInMs / 10);
    this.cached = {
      value: accessToken,
      expiresAt: requestedAt + expiresInMs,
      renewAt: requestedAt + expiresInMs - renewEarlyMs,
    };
    this.issued += 1;
    return accessToken;
  }
}

function readExpiresIn(value: unknown): number {
  const seconds = typeof value === 'string' ? Number(value) : value;
  // Apple documents 3600; assume that when the answer leaves it out.
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : 3600;
}
