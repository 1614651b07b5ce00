import { randomUUID } from 'crypto';
import { SignJWT } from 'jose';
import {
  IntegrationError,
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
  IntegrationProviderRetriesExceededError,
} from '@jupiterone/integration-sdk-core';

import { AbmConfig, MANAGER } from '../config';
import { describeErrorBody, HttpTransport } from './http';
import { MIN_SECRET_CHARS, redactSecrets, registerSecret } from './redact';

/** Apple checks `aud` against this fixed value, whatever URL the token is requested from. */
export const CLIENT_ASSERTION_AUDIENCE = 'https://account.apple.com/auth/oauth2/v2/token';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const ASSERTION_LIFETIME_SECONDS = 600;
const MAX_RENEW_EARLY_MS = 5 * 60_000;

export interface TokenProviderOptions {
  config: Pick<AbmConfig, 'clientId' | 'keyId' | 'privateKey' | 'scope' | 'tokenUrl'>;
  http: HttpTransport;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Told when a renewal made ahead of expiry failed while the current token still serves. */
  onEarlyRenewalFailed?: (error: unknown, expiresInMs: number) => void;
}

/**
 * A renewal ahead of expiry that failed is tried again this much later (while the token lasts),
 * so that a token endpoint in trouble is not asked again by every request.
 */
const EARLY_RENEWAL_RETRY_MS = 30_000;
/** A token this close to its expiry is no longer handed out: requests wait for a new one. */
const EXPIRY_MARGIN_MS = 10_000;

/** OAuth errors that say the credentials themselves are wrong: never worth another try. */
const CREDENTIAL_ERRORS = new Set([
  'invalid_client',
  'invalid_scope',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
]);

/**
 * Waits before asking again when the token endpoint refuses a renewal with a
 * 400 that does not blame the credentials: Apple has answered requests for
 * tokens "too often" with a 400 as well as a 429.
 */
const RENEWAL_RETRY_WAITS_MS = [2_000, 10_000];

interface CachedToken {
  value: string;
  expiresAt: number;
  renewAt: number;
  /** Whether the API has accepted this token at least once. */
  accepted: boolean;
}

/**
 * What each OAuth error most likely means for the person who configured the integration. A
 * Map, because the error name comes from the answer: `toString` must find nothing.
 */
const OAUTH_ERROR_HINTS = new Map([
  [
    'invalid_client',
    "Apple did not accept the credentials: check that the Key ID and the private key both belong to this Client ID (the API account may also have been deleted or its key revoked), and that this machine's clock is correct",
  ],
  [
    'invalid_scope',
    'Apple refused the scope: a BUSINESSAPI. Client ID only works for an Apple Business Manager account and a SCHOOLAPI. one only for Apple School Manager; check that the Client ID was copied from the right account',
  ],
  [
    'invalid_grant',
    "Apple refused the client assertion: check this machine's clock and that the Key ID belongs to this Client ID",
  ],
  [
    'unauthorized_client',
    'the API account is not allowed to use this grant: check that it is enabled in {manager}',
  ],
]);

const NOT_AN_OAUTH_ANSWER =
  "the answer is not an OAuth error, so it likely did not come from Apple's token endpoint: check that tokenUrl (TOKEN_URL) points at it (default https://account.apple.com/auth/oauth2/token)";

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
  /** When a renewal ahead of expiry may be tried again after one failed. */
  private earlyRenewalAfter = 0;
  private readonly now: () => number;

  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: TokenProviderOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Access tokens obtained so far in this run. */
  get tokensIssued(): number {
    return this.issued;
  }

  /**
   * The token to use. Within its last minutes (from `renewAt`) a new one is fetched in the
   * background while this one is still handed out, so a renewal the token endpoint refuses or
   * answers slowly costs nothing until the token really runs out: only then, or once the API
   * refuses it (`invalidate`), do requests wait for a new token, and fail with the endpoint's
   * error if none comes.
   */
  async getToken(patienceMs?: number): Promise<string> {
    const cached = this.cached;
    const now = this.now();
    if (cached && now < cached.renewAt) return cached.value;
    if (cached && now < cached.expiresAt - EXPIRY_MARGIN_MS) {
      if (!this.pending && now >= this.earlyRenewalAfter) this.renewEarly(cached);
      return cached.value;
    }
    if (!this.pending) {
      this.pending = this.fetchToken(patienceMs).finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  private renewEarly(current: CachedToken): void {
    const renewal = this.fetchToken();
    this.pending = renewal;
    renewal.then(
      () => {
        if (this.pending === renewal) this.pending = undefined;
      },
      (err: unknown) => {
        if (this.pending === renewal) this.pending = undefined;
        this.earlyRenewalAfter = this.now() + EARLY_RENEWAL_RETRY_MS;
        this.options.onEarlyRenewalFailed?.(err, current.expiresAt - this.now());
      },
    );
  }

  /**
   * Whether `token` is the one in use: not replaced by a newer one, nor dropped. A token whose
   * renewal in the background has begun is still current until the new one arrives.
   */
  isCurrent(token: string): boolean {
    return this.cached?.value === token;
  }

  /** Notes that the API accepted `token`: a later 401 means it expired or was revoked. */
  markAccepted(token: string): void {
    if (this.cached?.value === token) this.cached.accepted = true;
  }

  /** Whether the API has accepted `token` (while it is the current one). */
  wasAccepted(token: string): boolean {
    return this.cached?.value === token && this.cached.accepted;
  }

  /** Drops `token` if it is still the cached one, so the next `getToken` fetches a new one. */
  invalidate(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  private async createClientAssertion(): Promise<string> {
    const { clientId, keyId, privateKey } = this.options.config;
    const issuedAt = Math.floor(this.now() / 1000);
    let assertion: string;
    try {
      assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'JWT' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(CLIENT_ASSERTION_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
        .setJti(randomUUID())
        .sign(privateKey);
    } catch (err) {
      // The key was checked when the configuration was read, so this is unexpected; say what
      // failed without passing on anything the signing library may have quoted.
      throw new IntegrationError({
        code: 'CLIENT_ASSERTION_SIGNING_FAILED',
        message: `Could not sign the client assertion with privateKey (PRIVATE_KEY): ${redactSecrets(err instanceof Error ? err.name : 'error')}. Check that the key is the EC P-256 key downloaded for this API account.`,
      });
    }
    registerSecret(assertion);
    return assertion;
  }

  private async fetchToken(patienceMs?: number): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestToken(patienceMs);
      } catch (err) {
        // Only a renewal in a run whose credentials already worked; a first refusal is final.
        if (!(err instanceof RenewalRefused) || attempt >= RENEWAL_RETRY_WAITS_MS.length) {
          throw err instanceof RenewalRefused ? err.error : err;
        }
        await this.sleep(RENEWAL_RETRY_WAITS_MS[attempt]);
      }
    }
  }

  /** `patienceMs`: the most time the request may take, retries included (`HttpRequest.patienceMs`). */
  private async requestToken(patienceMs?: number): Promise<string> {
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
      limit: 'token',
      patienceMs,
    });

    const json = response.json as Record<string, unknown> | undefined;
    if (response.status !== 200) {
      const error = typeof json?.error === 'string' ? json.error : undefined;
      // Apple's token endpoint answers its refusals as OAuth errors; anything else came from
      // somewhere else (a wrong path, the API's host, a proxy), whatever its status says.
      const manager = MANAGER[scope === 'school.api' ? 'school' : 'business'];
      const hint = (error ? OAUTH_ERROR_HINTS.get(error) : NOT_AN_OAUTH_ANSWER)?.replace(
        '{manager}',
        manager,
      );
      const statusText = describeErrorBody(response) + (hint ? `. ${hint}` : '');
      if (response.status === 400 && this.issued > 0 && !CREDENTIAL_ERRORS.has(error ?? '')) {
        // Thrown once the renewal has been asked again (RENEWAL_RETRY_WAITS_MS) and refused.
        throw new RenewalRefused(
          new IntegrationProviderRetriesExceededError({ endpoint, status: 400, statusText }),
        );
      }
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
    // Sent as `Authorization: Bearer <token>`: a token a header cannot carry fails every request
    // as a network error, retried for minutes, and blames the network (found by a review).
    if (!/^[\x21-\x7E]+$/.test(accessToken)) {
      throw new IntegrationProviderAPIError({
        endpoint,
        status: response.status,
        statusText:
          "the token endpoint answered an access_token with spaces, line breaks or characters outside printable ASCII, which no request can carry; check that tokenUrl (TOKEN_URL) points at Apple's token endpoint",
      });
    }
    // Registered before anything about the answer is reported: a message may quote its parts.
    registerSecret(accessToken);
    if (accessToken.length < MIN_SECRET_CHARS) {
      // Apple's tokens are far longer; one this short could not be told from other text, so it
      // could not be kept out of messages and the graph (found by a review).
      throw new IntegrationProviderAPIError({
        endpoint,
        status: response.status,
        statusText: `the token endpoint answered an access_token of ${accessToken.length} characters, too short to be Apple's; check that tokenUrl (TOKEN_URL) points at Apple's token endpoint`,
      });
    }
    const tokenType = json?.token_type;
    if (tokenType !== undefined && String(tokenType).toLowerCase() !== 'bearer') {
      throw new IntegrationProviderAPIError({
        endpoint,
        status: response.status,
        statusText: `the token endpoint answered a token of type ${JSON.stringify(redactSecrets(String(tokenType).slice(0, 1000)).slice(0, 40))}, not Bearer; check that tokenUrl (TOKEN_URL) points at Apple's token endpoint`,
      });
    }
    const expiresInMs = readExpiresIn(json?.expires_in) * 1000;
    // The background renewal's window ends EXPIRY_MARGIN_MS before expiry, when the token is no
    // longer handed out, so it starts that much earlier: a window that ended where it began left
    // a token of 100 s or less without one, and every request waited for its renewal.
    const renewEarlyMs = EXPIRY_MARGIN_MS + Math.min(MAX_RENEW_EARLY_MS, expiresInMs / 10);
    this.cached = {
      value: accessToken,
      expiresAt: requestedAt + expiresInMs,
      renewAt: requestedAt + expiresInMs - renewEarlyMs,
      accepted: false,
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

/** A renewal refused with a 400 that may pass: retried a little, then `error` is thrown. */
class RenewalRefused extends Error {
  constructor(readonly error: IntegrationProviderRetriesExceededError) {
    super(error.message);
  }
}
