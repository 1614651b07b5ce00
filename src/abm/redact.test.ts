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
    // A JWS anywhere a word starts, however long the text around it.
    const jws = 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl';
    for (const text of [`token=${jws}`, `"${jws}"`, `(${jws})`]) {
      expect(redactSecrets(text)).not.toContain('eyJ');
    }
    // A word of letters alone after Bearer is no credential.
    expect(redactSecrets('401 UNAUTHORIZED: Bearer authentication required')).toBe(
      '401 UNAUTHORIZED: Bearer authentication required',
    );
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
  const TOKEN_B64 = 'Zk9+Qm1vL2hUeXBlcj0rN3pXcVJ4/YnVtZk9rZW4=';
  const hex = (c: string) => c.charCodeAt(0).toString(16);
  /** `text` with each character that is not a letter or digit, and that `which` picks, encoded. */
  const each = (text: string, which: RegExp, encode: (c: string) => string) =>
    [...text].map((c) => (/[A-Za-z0-9]/.test(c) || !which.test(c) ? c : encode(c))).join('');

  // How encoders in use write a value into a query, a page or a JSON string: each encodes its own
  // set of characters, in its own case.
  const echoes: Array<[string, string, (t: string) => string]> = [
    ['as it is', TOKEN_B64, (t) => t],
    ['encodeURIComponent', TOKEN_B64, encodeURIComponent],
    [
      "Python's quote (leaves /)",
      TOKEN_B64,
      (t) => each(t, /[^/_.~-]/, (c) => `%${hex(c).toUpperCase()}`),
    ],
    [
      "Java's URLEncoder (encodes ~)",
      'ULIV9qjIjSamOVHCM9dENwY6Nvhms677p~DS318qeH4',
      (t) => each(t, /~/, () => '%7E'),
    ],
    ['percent-encoding in lower case', TOKEN_B64, (t) => each(t, /./, (c) => `%${hex(c)}`)],
    [
      'mixed-case hex',
      TOKEN_B64,
      (t) => each(t, /./, (c) => `%${hex(c)[0]}${hex(c)[1].toUpperCase()}`),
    ],
    [
      'strict, with !',
      '9fQ2xL7pR4tV8wZ1bN6mK3jH!5gD0sAqYcE4uI',
      (t) => each(t, /./, (c) => `%${hex(c)}`),
    ],
    [
      'HTML references for every character but letters and digits',
      'L_pR6tHs2lDuHbZp-QQMCrYEGf~zgEeDoSXD_mRMflc',
      (t) => each(t, /./, (c) => `&#${c.charCodeAt(0)};`),
    ],
    [
      'HTML hex references with leading zeros',
      TOKEN_B64,
      (t) => each(t, /./, (c) => `&#X00${hex(c).toUpperCase()};`),
    ],
    ['with a quote', 'Zk9QbTF2TDJo"VWVYQmxj', (t) => t],
    ['with a backslash', 'Zk9QbTF2TDJo\\VWVYQmxj', (t) => t],
    ['ending in a backslash', 'Zk9QbTF2TDJoVWVYQmxj\\', (t) => t],
  ];
  // How JSON writers then put that text in a string.
  const writers: Array<[string, (s: string) => string]> = [
    ['JSON.stringify', (s) => JSON.stringify(s).slice(1, -1)],
    ['a writer escaping /', (s) => JSON.stringify(s).slice(1, -1).replace(/\//g, '\\/')],
    // .NET's System.Text.Json writes + (and & < > ' `) as \u00hh, and leaves / and =.
    [
      '.NET',
      (s) =>
        JSON.stringify(s)
          .slice(1, -1)
          .replace(/[+&<>'`]/g, (c) => `\\u${hex(c).padStart(4, '0').toUpperCase()}`),
    ],
    // Go writes & < > as \u00hh.
    [
      'Go',
      (s) =>
        JSON.stringify(s)
          .slice(1, -1)
          .replace(/[&<>]/g, (c) => `\\u${hex(c).padStart(4, '0')}`),
    ],
    [
      'a writer escaping all but letters and digits',
      (s) =>
        [...s].map((c) => (/[A-Za-z0-9]/.test(c) ? c : `\\u${hex(c).padStart(4, '0')}`)).join(''),
    ],
  ];

  describe.each(echoes)('a token echoed %s', (_, token, shape) => {
    beforeAll(() => registerSecret(token));
    afterAll(() => forgetSecret(token));

    it.each(writers)(
      'is found in a page written by %s, and redacted in its strings only',
      (__, write) => {
        const link = `https://p/x?t=${shape(token)}&n=1`;
        const text = `{"data":[{"id":"C02X","links":{"self":"${write(link)}"}}]}`;
        expect(holdsSecret(Buffer.from(text), token)).toBe(true);
        expect(redactDocument(JSON.parse(text), token)).toEqual({
          document: { data: [{ id: 'C02X', links: { self: 'https://p/x?t=[REDACTED]&n=1' } }] },
          changed: 1,
        });
        // And in a message that quotes the page as it came.
        expect(redactSecrets(`refused: ${text}`)).not.toContain(shape(token));
        expect(redactSecrets(`refused: ${text}`)).toContain('[REDACTED]');
      },
    );
  });

  it('redacts an echo in a key too, keeping the keys in their order, and counts what it changed', () => {
    registerSecret(TOKEN_B64);
    try {
      const document = {
        data: [{ id: 'C02X', attributes: { a: 1, [`t=${TOKEN_B64}`]: true, z: 2 } }],
      };
      const { document: redacted, changed } = redactDocument(document, TOKEN_B64) as {
        document: typeof document;
        changed: number;
      };
      expect(changed).toBe(1);
      expect(Object.keys(redacted.data[0].attributes)).toEqual(['a', 't=[REDACTED]', 'z']);
      expect(redactDocument({ data: [] }, TOKEN_B64)).toEqual({
        document: { data: [] },
        changed: 0,
      });
    } finally {
      forgetSecret(TOKEN_B64);
    }
  });

  it('gives a redacted key a name no other key has, and keeps a __proto__ key a key', () => {
    registerSecret(TOKEN_B64);
    try {
      const document = JSON.parse(
        JSON.stringify({
          [TOKEN_B64]: 'first',
          [encodeURIComponent(TOKEN_B64)]: 'second',
          '[REDACTED]': 'there before',
          other: 1,
        }).replace('"other"', '"__proto__":{"polluted":true},"other"'),
      );
      const { document: redacted, changed } = redactDocument(document, TOKEN_B64) as {
        document: Record<string, unknown>;
        changed: number;
      };
      expect(changed).toBe(2);
      expect(Object.entries(redacted)).toEqual([
        ['[REDACTED] 2', 'first'],
        ['[REDACTED] 3', 'second'],
        ['[REDACTED]', 'there before'],
        ['__proto__', { polluted: true }],
        ['other', 1],
      ]);
      expect(Object.getPrototypeOf(redacted)).toBe(Object.prototype);
    } finally {
      forgetSecret(TOKEN_B64);
    }
  });

  it.each([
    ['ending in %, echoed as %25', 'Zk9QbTF2TDJoVWVYQmxj%', (t: string) => encodeURIComponent(t)],
    [
      'ending in &, echoed as &#38;',
      'Zk9QbTF2TDJoVWVYQmxj&',
      (t: string) => t.replace('&', '&#38;'),
    ],
    [
      'with & and ", as HTML escapers name them',
      'Zk9QbTF2&TDJo"VWVYQmxj',
      (t: string) => t.replace('&', '&amp;').replace('"', '&quot;'),
    ],
  ])('hides a token %s, leaving nothing of its encoding', (_, token, shape) => {
    registerSecret(token);
    try {
      expect(redactSecrets(`echo ${shape(token)} end`)).toBe('echo [REDACTED] end');
      const page = JSON.stringify({ self: `x?t=${shape(token)}` });
      expect(holdsSecret(Buffer.from(page), token)).toBe(true);
      expect(redactDocument(JSON.parse(page), token).document).toEqual({ self: 'x?t=[REDACTED]' });
    } finally {
      forgetSecret(token);
    }
  });

  it('never matches a value too short to be registered, which would match innocent data', () => {
    registerSecret('C02X');
    expect(holdsSecret(Buffer.from('{"data":[{"id":"C02XK1AB"}]}'), 'C02X')).toBe(false);
    expect(redactDocument({ id: 'C02XK1AB' }, 'C02X')).toEqual({
      document: { id: 'C02XK1AB' },
      changed: 0,
    });
    expect(redactSecrets('C02XK1AB')).toBe('C02XK1AB');
  });

  it('registers many secrets, each still found in a form only its registration can match', () => {
    // A `+` every two characters: percent-encoded, no 12 characters of it stand in a row, so the
    // pieces cannot hide it (found by a review: a test of plain secrets passed without the forms).
    const secrets = Array.from({ length: 200 }, (_, i) => `a${i}+b2+c3+d4+e5+f6+g7+h8+i9+j0+k1+l2`);
    try {
      for (const secret of secrets) registerSecret(secret);
      const shown = redactSecrets(
        `a ${encodeURIComponent(secrets[0])} b ${encodeURIComponent(secrets[199])} c`,
      );
      expect(shown).toBe('a [REDACTED] b [REDACTED] c');
    } finally {
      for (const secret of secrets) forgetSecret(secret);
    }
  });
});
