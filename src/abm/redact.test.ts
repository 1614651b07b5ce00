import { forgetSecret, redactSecrets, registerSecret, replaceForms, secretFormsIn } from './redact';

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

  it('leaves other text alone, and forgets a secret once told', () => {
    const text =
      'GET /v1/orgDevices: 503 SERVICE_UNAVAILABLE: try again later (request 3f2a1b4c-5d6e-4f70)';
    expect(redactSecrets(text)).toBe(text);
    forgetSecret(TOKEN);
    expect(redactSecrets(`x ${TOKEN.slice(0, 20)}`)).toBe(`x ${TOKEN.slice(0, 20)}`);
  });
});

describe('secretFormsIn and replaceForms', () => {
  it('find the forms of a token in an answer, and replace them in its text', () => {
    registerSecret(TOKEN);
    try {
      const body = JSON.stringify({
        links: { self: `https://x/y?access_token=${encodeURIComponent(TOKEN)}` },
      });
      const forms = secretFormsIn(Buffer.from(body), TOKEN);
      expect(forms).toEqual([encodeURIComponent(TOKEN)]);
      expect(JSON.parse(replaceForms(body, forms))).toEqual({
        links: { self: 'https://x/y?access_token=[REDACTED]' },
      });
      expect(secretFormsIn(Buffer.from('{"data":[]}'), TOKEN)).toEqual([]);
    } finally {
      forgetSecret(TOKEN);
    }
  });
});
