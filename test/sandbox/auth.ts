import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  randomBytes,
  verify,
} from 'crypto';

export const APPLE_TOKEN_AUDIENCE = 'https://account.apple.com/auth/oauth2/v2/token';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LIFETIME_SECONDS = 180 * 86_400;
/** How far ahead of the sandbox clock an `iat` may be before it counts as forged. */
const IAT_FUTURE_TOLERANCE_SECONDS = 300;

export type AccountKind = 'business' | 'school';

export interface SandboxAccount {
  kind: AccountKind;
  clientId: string;
  keyId: string;
  /** PEM text; '' when the account was registered with only a public key. */
  privateKey: string;
  scope: 'business.api' | 'school.api';
}

interface RegisteredAccount {
  account: SandboxAccount;
  publicKey: KeyObject;
}

export interface AccessToken {
  token: string;
  clientId: string;
  scope: string;
  expiresAt: number;
  revoked: boolean;
  uses: number;
}

export class OAuthError extends Error {
  constructor(
    readonly error:
      'invalid_request' | 'invalid_client' | 'invalid_scope' | 'unsupported_grant_type',
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

function uuidFrom(bytes: Buffer): string {
  const hex = Buffer.from(bytes.subarray(0, 16));
  hex[6] = (hex[6] & 0x0f) | 0x40;
  hex[8] = (hex[8] & 0x3f) | 0x80;
  const h = hex.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Keys and ids come from the seed so that a sandbox restarted with the same seed hands out the
 * same credentials, which keeps recorded fixtures and graph keys stable.
 */
function deterministicKey(seed: number, label: string): KeyObject {
  for (let attempt = 0; ; attempt++) {
    const d = createHash('sha256').update(`abm-sandbox-key:${seed}:${label}:${attempt}`).digest();
    try {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(d);
      const point = ecdh.getPublicKey();
      return createPrivateKey({
        key: {
          kty: 'EC',
          crv: 'P-256',
          d: d.toString('base64url'),
          x: point.subarray(1, 33).toString('base64url'),
          y: point.subarray(33, 65).toString('base64url'),
        },
        format: 'jwk',
      });
    } catch {
      // A digest at or above the curve order is not a valid scalar: derive another.
    }
  }
}

function decodeSegment(segment: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(segment))
    throw new OAuthError('invalid_client', 'client_assertion is not a compact JWS');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion segment is not base64url JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OAuthError('invalid_client', 'client_assertion segment is not a JSON object');
  }
  return value as Record<string, unknown>;
}

export class AuthService {
  private readonly accounts = new Map<string, RegisteredAccount>();
  private readonly tokens = new Map<string, AccessToken>();
  /** jti -> assertion exp (seconds); kept until exp so a replay is caught while it could pass. */
  private readonly seenJti = new Map<string, number>();
  private registered = 0;

  constructor(
    private readonly seed: number,
    private readonly now: () => number,
    public ttlSeconds: number,
  ) {}

  get allAccounts(): SandboxAccount[] {
    return [...this.accounts.values()].map((entry) => ({ ...entry.account }));
  }

  register(kind: AccountKind, opts: { publicKey?: KeyObject | string } = {}): SandboxAccount {
    const label = `${kind}:${this.registered++}`;
    const idBytes = createHash('sha256').update(`abm-sandbox-ids:${this.seed}:${label}`).digest();
    const clientId = `${kind === 'business' ? 'BUSINESSAPI' : 'SCHOOLAPI'}.${uuidFrom(idBytes)}`;
    const keyId = uuidFrom(idBytes.subarray(16));
    let privateKey = '';
    let publicKey: KeyObject;
    if (opts.publicKey !== undefined) {
      publicKey =
        typeof opts.publicKey === 'string' ? createPublicKey(opts.publicKey) : opts.publicKey;
      if (publicKey.type === 'private') publicKey = createPublicKey(publicKey);
      if (
        publicKey.asymmetricKeyType !== 'ec' ||
        publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
      ) {
        throw new Error('API account keys must be EC P-256');
      }
    } else {
      const key = deterministicKey(this.seed, label);
      // Apple's downloads vary between PKCS#8 and SEC1; hand out both so clients read both.
      privateKey = key
        .export({ type: kind === 'business' ? 'pkcs8' : 'sec1', format: 'pem' })
        .toString();
      publicKey = createPublicKey(key);
    }
    const account: SandboxAccount = {
      kind,
      clientId,
      keyId,
      privateKey,
      scope: kind === 'business' ? 'business.api' : 'school.api',
    };
    this.accounts.set(clientId, { account, publicKey });
    return { ...account };
  }

  /**
   * Handles the form body of a token request; throws OAuthError on any refusal. `admit` runs
   * once the form is well formed and the client known, before the assertion is checked (so a
   * refusal there does not spend the assertion's jti); it may throw to refuse the request.
   */
  issueToken(params: URLSearchParams, admit?: (clientId: string) => void): AccessToken {
    const allowed = [
      'grant_type',
      'client_id',
      'client_assertion_type',
      'client_assertion',
      'scope',
    ];
    const seen = new Map<string, string>();
    for (const [name, value] of params) {
      if (!allowed.includes(name))
        throw new OAuthError('invalid_request', `unexpected parameter ${name}`);
      if (seen.has(name)) throw new OAuthError('invalid_request', `parameter ${name} repeated`);
      seen.set(name, value);
    }
    for (const name of allowed) {
      if (!seen.get(name)) throw new OAuthError('invalid_request', `missing parameter ${name}`);
    }
    if (seen.get('grant_type') !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', 'grant_type must be client_credentials');
    }
    if (seen.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError(
        'invalid_request',
        `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`,
      );
    }
    const clientId = seen.get('client_id') as string;
    const entry = this.accounts.get(clientId);
    if (!entry) throw new OAuthError('invalid_client', 'unknown client_id');
    admit?.(clientId);
    this.verifyAssertion(entry, seen.get('client_assertion') as string);

    const scope = seen.get('scope') as string;
    if (scope !== 'business.api' && scope !== 'school.api') {
      throw new OAuthError('invalid_scope', 'scope must be business.api or school.api');
    }
    if (scope !== entry.account.scope) {
      throw new OAuthError(
        'invalid_scope',
        `scope ${scope} does not belong to a ${entry.account.kind} account`,
      );
    }

    const token: AccessToken = {
      token: randomBytes(32).toString('base64url'),
      clientId,
      scope,
      expiresAt: this.now() + this.ttlSeconds * 1000,
      revoked: false,
      uses: 0,
    };
    this.tokens.set(token.token, token);
    return token;
  }

  private verifyAssertion(entry: RegisteredAccount, assertion: string): void {
    const parts = assertion.split('.');
    if (parts.length !== 3)
      throw new OAuthError('invalid_client', 'client_assertion is not a compact JWS');
    const header = decodeSegment(parts[0]);
    const claims = decodeSegment(parts[1]);
    if (header.alg !== 'ES256')
      throw new OAuthError('invalid_client', 'client_assertion must be signed with ES256');
    if (header.kid !== entry.account.keyId) {
      throw new OAuthError('invalid_client', 'kid is not a key of this client');
    }
    if (!/^[A-Za-z0-9_-]+$/.test(parts[2]))
      throw new OAuthError('invalid_client', 'bad signature encoding');
    const signature = Buffer.from(parts[2], 'base64url');
    // JOSE wants the raw 64-byte R||S form; a DER signature is a client bug Apple refuses too.
    if (signature.length !== 64)
      throw new OAuthError('invalid_client', 'signature is not a 64-byte ES256 signature');
    const valid = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: entry.publicKey, dsaEncoding: 'ieee-p1363' },
      signature,
    );
    if (!valid)
      throw new OAuthError(
        'invalid_client',
        'signature does not verify with the key of this client',
      );

    const clientId = entry.account.clientId;
    if (claims.iss !== clientId) throw new OAuthError('invalid_client', 'iss must equal client_id');
    if (claims.sub !== clientId) throw new OAuthError('invalid_client', 'sub must equal client_id');
    const audOk = Array.isArray(claims.aud)
      ? claims.aud.length === 1 && claims.aud[0] === APPLE_TOKEN_AUDIENCE
      : claims.aud === APPLE_TOKEN_AUDIENCE;
    if (!audOk) throw new OAuthError('invalid_client', `aud must be ${APPLE_TOKEN_AUDIENCE}`);
    const nowSeconds = this.now() / 1000;
    const { iat, exp, jti } = claims;
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      throw new OAuthError('invalid_client', 'iat missing');
    if (typeof exp !== 'number' || !Number.isFinite(exp))
      throw new OAuthError('invalid_client', 'exp missing');
    if (iat > nowSeconds + IAT_FUTURE_TOLERANCE_SECONDS)
      throw new OAuthError('invalid_client', 'iat is in the future');
    if (exp <= nowSeconds) throw new OAuthError('invalid_client', 'client_assertion has expired');
    if (exp <= iat) throw new OAuthError('invalid_client', 'exp must be after iat');
    if (exp - iat >= MAX_ASSERTION_LIFETIME_SECONDS) {
      throw new OAuthError('invalid_client', 'exp must be less than 180 days after iat');
    }
    if (typeof jti !== 'string' || jti.length === 0)
      throw new OAuthError('invalid_client', 'jti missing');
    for (const [seenJti, seenExp] of this.seenJti) {
      if (seenExp <= nowSeconds) this.seenJti.delete(seenJti);
    }
    const replayKey = `${clientId} ${jti}`;
    if (this.seenJti.has(replayKey)) throw new OAuthError('invalid_client', 'jti was already used');
    this.seenJti.set(replayKey, exp);
  }

  /** The live token for a bearer value, or why it is refused. */
  check(bearer: string): { token: AccessToken } | { refused: 'unknown' | 'expired' | 'revoked' } {
    const token = this.tokens.get(bearer);
    if (!token) return { refused: 'unknown' };
    if (token.revoked) return { refused: 'revoked' };
    if (this.now() >= token.expiresAt) return { refused: 'expired' };
    return { token };
  }

  revokeAll(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }
}
