import { forgetSecret, holdsSecret, redactDocument, redactSecrets, registerSecret } from './redact';

/** A token as a base64 issuer would make it: `+`, `/` and `=` in it. */
const TOKEN = 'Zk9+Qm1vL2hUeXBlcj0rN3pXcVJ4/YnVtZk9rZW4=';

describe('redactSecrets', () => {
  beforeEach(() => registerSecret(TOKEN));
  afterEach(() => forgetSecret(TOKEN));

  const percent = encodeURIComponent(TOKEN);
  const entities = (radix: 10 | 16) =>
    [...TOKEN]
      .map((c) =>
        /[A-Za-z0-9]/.test(c)
          ? c
          : `&#${radix === 16 ? 'x' : ''}${c.charCodeAt(0).toString(radix)};`,
      )
      .join('');

  it.each([
    ['as it is', TOKEN],
    [
      'inside JSON whose writer escapes /',
      JSON.stringify(TOKEN).slice(1, -1).replace(/\//g, '\\/'),
    ],
    ['percent-encoded', percent],
    ['percent-encoded in lower case', percent.replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase())],
    ['percent-encoded after Bearer', `Bearer ${percent}`],
    ['with decimal HTML character references', entities(10)],
    ['with hex HTML character references', entities(16)],
  ])('hides a registered token echoed %s', (_, echo) => {
    const shown = redactSecrets(`the server said: ${echo} was refused`);
    expect(shown).toBe(
      `the server said: ${echo.startsWith('Bearer') ? 'Bearer ' : ''}[REDACTED] was refused`,
    );
  });

  it('hides the whole of a registered token after Bearer, even one with a character the bearer pattern stops at', () => {
    const token = '9fQ2xL7pR4tV8wZ1bN6mK3jH!5gD0sAqYcE4uI';
    registerSecret(token);
    try {
      expect(redactSecrets(`Authorization: Bearer ${token} refused`)).toBe(
        'Authorization: Bearer [REDACTED] refused',
      );
    } finally {
      forgetSecret(token);
    }
  });

  it('hides the pieces of a token that an echo broke across lines or cut short', () => {
    const token = 'L_pR6tHs2lDuHbZp_QQMCrYEGfzzgEeDoSXD_mRMflc';
    registerSecret(token);
    try {
      const wrapped = token.match(/.{1,20}/g)!.join('\n');
      const shown = redactSecrets(`<pre>Authorization: Bearer ${wrapped}</pre>`);
      // Every piece of 12 characters or more is gone; what is left is shorter than that.
      for (let i = 0; i + 12 <= token.length; i++) {
        expect(shown).not.toContain(token.slice(i, i + 12));
      }
      expect(redactSecrets(`token ${token.slice(0, 24)}... revoked`)).toBe(
        'token [REDACTED]... revoked',
      );
      expect(redactSecrets(`the end: ${token.slice(-15)}`)).toBe('the end: [REDACTED]');
    } finally {
      forgetSecret(token);
    }
  });

  it('hides what looks like a credential nobody registered: a bearer token in any case, a JWS without its signature', () => {
    expect(redactSecrets('authorization: bearer q7Xc29LmN0pRs')).toBe(
      'authorization: bearer [REDACTED]',
    );
    expect(redactSecrets('BEARER q7Xc29LmN0pRs')).toBe('BEARER [REDACTED]');
    expect(redactSecrets('cut: eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.')).toBe('cut: [REDACTED]');
  });

  it('leaves other text alone, and forgets a secret once told', () => {
    const text =
      'GET /v1/orgDevices: 503 SERVICE_UNAVAILABLE: try again later (request 3f2a1b4c-5d6e-4f70)';
    expect(redactSecrets(text)).toBe(text);
    forgetSecret(TOKEN);
    expect(redactSecrets(`x ${TOKEN.slice(0, 20)}`)).toBe(`x ${TOKEN.slice(0, 20)}`);
  });
});

describe('holdsSecret and redactDocument', () => {
  /** Percent-encoding of every byte but letters, digits and -._~ (stricter than encodeURIComponent). */
  const strict = (text: string) =>
    [...text]
      .map((c) => (/[A-Za-z0-9\-._~]/.test(c) ? c : `%${c.charCodeAt(0).toString(16)}`))
      .join('');

  it.each([
    ['base64, as it is', 'Zk9+Qm1vL2hUeXBlcj0rN3pXcVJ4/YnVtZk9rZW4=', (t: string) => t],
    ['base64, percent-encoded', 'Zk9+Qm1vL2hUeXBlcj0rN3pXcVJ4/YnVtZk9rZW4=', encodeURIComponent],
    ['with ! percent-encoded strictly', '9fQ2xL7pR4tV8wZ1bN6mK3jH!5gD0sAqYcE4uI', strict],
    ['with a quote', 'Zk9QbTF2TDJo"VWVYQmxj', (t: string) => t],
    ['with a backslash', 'Zk9QbTF2TDJo\\VWVYQmxj', (t: string) => t],
    ['ending in a backslash', 'Zk9QbTF2TDJoVWVYQmxj\\', (t: string) => t],
  ])(
    'finds a token %s in a JSON page, escaped as JSON writers do, and redacts it in the parsed strings only',
    (_, token, shape) => {
      registerSecret(token);
      try {
        const link = `https://p/x?t=${shape(token)}`;
        const page = (value: string) => `{"data":[{"id":"C02X","links":{"self":"${value}"}}]}`;
        const plain = page(JSON.stringify(link).slice(1, -1));
        const slashes = page(JSON.stringify(link).slice(1, -1).replace(/\//g, '\\/'));
        // Every character that is not a letter or digit as \u00xx, as some writers escape < > &.
        const unicode = page(
          link.replace(
            /[^A-Za-z0-9\-._~]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          ),
        );
        for (const text of [plain, slashes, unicode]) {
          const bytes = Buffer.from(text);
          expect(holdsSecret(bytes, token)).toBe(true);
          expect(redactDocument(JSON.parse(text), token)).toEqual({
            data: [{ id: 'C02X', links: { self: 'https://p/x?t=[REDACTED]' } }],
          });
        }
        expect(holdsSecret(Buffer.from('{"data":[]}'), token)).toBe(false);
      } finally {
        forgetSecret(token);
      }
    },
  );

  it('never matches a value too short to be registered, which would match innocent data', () => {
    registerSecret('C02X');
    expect(holdsSecret(Buffer.from('{"data":[{"id":"C02XK1AB"}]}'), 'C02X')).toBe(false);
    expect(redactDocument({ id: 'C02XK1AB' }, 'C02X')).toEqual({ id: 'C02XK1AB' });
    expect(redactSecrets('C02XK1AB')).toBe('C02XK1AB');
  });

  it('registers many secrets, each still found (a run registers an assertion for each token request)', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `assertion-${i}-${'x'.repeat(400)}`);
    try {
      for (const secret of secrets) registerSecret(secret);
      // Each still found, the last as the first.
      expect(redactSecrets(`a ${secrets[0]} b ${secrets[199]} c`)).toBe(
        'a [REDACTED] b [REDACTED] c',
      );
    } finally {
      for (const secret of secrets) forgetSecret(secret);
    }
  });
});
