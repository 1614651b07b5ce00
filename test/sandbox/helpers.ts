/** Shared by the sandbox's own tests: build assertions, get tokens, call the API. */
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'crypto';
import { SignJWT } from 'jose';
import {
  APPLE_TOKEN_AUDIENCE,
  CLIENT_ASSERTION_TYPE,
  type Sandbox,
  type SandboxAccount,
} from './index';

export interface AssertionOverrides {
  key?: KeyObject;
  kid?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  jti?: string;
}

export async function assertionFor(
  account: SandboxAccount,
  nowSeconds: number,
  overrides: AssertionOverrides = {},
): Promise<string> {
  const iat = overrides.iat ?? nowSeconds;
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: overrides.kid ?? account.keyId })
    .setIssuer(overrides.iss ?? account.clientId)
    .setSubject(overrides.sub ?? account.clientId)
    .setAudience(overrides.aud ?? APPLE_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(overrides.exp ?? iat + 300)
    .setJti(overrides.jti ?? randomUUID())
    .sign(overrides.key ?? createPrivateKey(account.privateKey));
}

/** The claims a valid assertion carries, for tests that remove or bend one of them. */
export function assertionClaims(
  account: SandboxAccount,
  nowSeconds: number,
): Record<string, unknown> {
  return {
    iss: account.clientId,
    sub: account.clientId,
    aud: APPLE_TOKEN_AUDIENCE,
    iat: nowSeconds,
    exp: nowSeconds + 300,
    jti: randomUUID(),
  };
}

/**
 * A compact JWS with exactly this header and these claims, signed ES256 (raw R||S) with the
 * account's key whatever `alg` says, so only the claim or header under test is wrong.
 */
export function signAssertion(
  account: SandboxAccount,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
): string {
  const enc = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: createPrivateKey(account.privateKey),
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

/** The same claims signed with a DER-encoded ECDSA signature, which JOSE forbids. */
export function derAssertionFor(account: SandboxAccount, nowSeconds: number): string {
  const enc = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${enc({ alg: 'ES256', kid: account.keyId })}.${enc({
    iss: account.clientId,
    sub: account.clientId,
    aud: APPLE_TOKEN_AUDIENCE,
    iat: nowSeconds,
    exp: nowSeconds + 300,
    jti: randomUUID(),
  })}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: createPrivateKey(account.privateKey),
    dsaEncoding: 'der',
  });
  return `${input}.${signature.toString('base64url')}`;
}

export function tokenForm(
  account: SandboxAccount,
  assertion: string,
  scope?: string,
): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: account.clientId,
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
    scope: scope ?? account.scope,
  };
}

export async function postToken(
  sandbox: Sandbox,
  form: Record<string, string> | string,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

export async function getToken(
  sandbox: Sandbox,
  account: SandboxAccount = sandbox.credentials,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  const { status, body } = await postToken(
    sandbox,
    tokenForm(account, await assertionFor(account, nowSeconds)),
  );
  if (status !== 200) throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export async function apiGet(
  sandbox: Sandbox,
  token: string | undefined,
  path: string,
): Promise<ApiAnswer> {
  const response = await fetch(`${sandbox.apiBaseUrl}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Walks a paged list to its end, building each next URL from meta.paging.nextCursor. */
export async function walk(
  sandbox: Sandbox,
  token: string,
  path: string,
  query: Record<string, string> = {},
  maxPages = 100_000,
): Promise<{ ids: string[]; pages: number; total: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  let total = -1;
  do {
    const params = new URLSearchParams(query);
    if (cursor) params.set('cursor', cursor);
    const qs = params.toString();
    const answer = await apiGet(sandbox, token, `${path}${qs ? `?${qs}` : ''}`);
    if (answer.status !== 200)
      throw new Error(`page ${pages + 1}: ${answer.status} ${answer.text}`);
    for (const item of answer.json.data as { id: string }[]) ids.push(item.id);
    total = answer.json.meta.paging.total as number;
    cursor = answer.json.meta.paging.nextCursor as string | undefined;
    pages++;
    if (pages > maxPages) throw new Error('too many pages');
  } while (cursor);
  return { ids, pages, total };
}
