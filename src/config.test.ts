import { IntegrationValidationError } from '@jupiterone/integration-sdk-core';
import { generateKeyPairSync } from 'crypto';

import { EC_PARAMETERS_P256, generateP256, generatePem, swapLabel } from '../test/helpers/keys';
import { IntegrationConfig, parseConfig } from './config';

const key = generateP256();

/** A SEC1 PEM with one bit of its private scalar flipped (the scalar starts at byte 7). */
function alteredSec1(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[10] ^= 0x01;
  return `-----BEGIN EC PRIVATE KEY-----\n${der.toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
}
const CLIENT_ID = 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const KEY_ID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

function config(overrides: Partial<IntegrationConfig> = {}): Partial<IntegrationConfig> {
  return { clientId: CLIENT_ID, keyId: KEY_ID, privateKey: key.sec1, ...overrides };
}

function errorOf(overrides: Partial<IntegrationConfig>): IntegrationValidationError {
  try {
    parseConfig(config(overrides));
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrationValidationError);
    return err as IntegrationValidationError;
  }
  throw new Error('expected parseConfig to throw');
}

describe('parseConfig', () => {
  it('derives host, scope and kind from a Business Client ID', () => {
    const parsed = parseConfig(config());
    expect(parsed).toMatchObject({
      kind: 'business',
      scope: 'business.api',
      apiBaseUrl: 'https://api-business.apple.com',
      tokenUrl: 'https://account.apple.com/auth/oauth2/token',
    });
    expect(parsed.privateKey.asymmetricKeyType).toBe('ec');
  });

  it('derives host, scope and kind from a School Client ID', () => {
    const parsed = parseConfig(config({ clientId: CLIENT_ID.replace('BUSINESSAPI', 'SCHOOLAPI') }));
    expect(parsed).toMatchObject({
      kind: 'school',
      scope: 'school.api',
      apiBaseUrl: 'https://api-school.apple.com',
    });
  });

  const SCHOOL_ID = CLIENT_ID.replace('BUSINESSAPI', 'SCHOOLAPI');

  it.each([
    [CLIENT_ID, 'https://api-school.apple.com', 'Apple School Manager', 'Apple Business Manager'],
    [
      SCHOOL_ID,
      'https://api-business.apple.com/v1',
      'Apple Business Manager',
      'Apple School Manager',
    ],
    // Another spelling of the same host: a trailing dot, a port.
    [CLIENT_ID, 'https://api-school.apple.com.', 'Apple School Manager', 'Apple Business Manager'],
    [
      CLIENT_ID,
      'https://api-school.apple.com:8443',
      'Apple School Manager',
      'Apple Business Manager',
    ],
  ])(
    'refuses, for the Client ID %s, apiBaseUrl %s: the API of the other kind of account',
    (clientId, apiBaseUrl, other, own) => {
      const error = errorOf({ clientId, apiBaseUrl });
      expect(error.message).toContain(
        `apiBaseUrl (API_BASE_URL) is the API of ${other} (https://api-${other.includes('School') ? 'school' : 'business'}.apple.com), but the Client ID is one of ${own}`,
      );
      expect(error.message).toContain('leave it empty');
    },
  );

  it("accepts the API of the Client ID's own kind, and names the School one to a School account", () => {
    expect(
      parseConfig(config({ clientId: SCHOOL_ID, apiBaseUrl: 'https://api-school.apple.com/v1/' }))
        .apiBaseUrl,
    ).toBe('https://api-school.apple.com');
    expect(errorOf({ clientId: SCHOOL_ID, apiBaseUrl: 'api school' }).message).toContain(
      'Expected an absolute URL such as https://api-school.apple.com.',
    );
  });

  it('names Apple School Manager, not Business Manager, to a School account once its Client ID says so', () => {
    const school = (overrides: Partial<IntegrationConfig>) =>
      errorOf({ clientId: SCHOOL_ID, ...overrides }).message;
    for (const message of [
      school({ keyId: '' }),
      school({ keyId: '00000000-0000-0000-0000-000000000000' }),
      school({ keyId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5\u200b' }),
      school({ privateKey: 'garbage' }),
    ]) {
      expect(message).toContain('Apple School Manager');
      expect(message).not.toContain('Apple Business Manager');
    }
    // Before the Client ID says which, both are named.
    expect(errorOf({ clientId: '' }).message).toContain(
      'Apple Business Manager (or Apple School Manager)',
    );
  });

  it("says that .env.example's private key is still its placeholder", () => {
    const placeholder = '"-----BEGIN EC PRIVATE KEY-----\\n...\\n-----END EC PRIVATE KEY-----"';
    expect(errorOf({ privateKey: placeholder }).message).toContain(
      'privateKey (PRIVATE_KEY) is still the placeholder of .env.example',
    );
  });

  it.each(['clientId', 'keyId', 'privateKey'] as const)('names the missing field %s', (field) => {
    for (const missing of [undefined, '', '   ', '""', " '' "]) {
      const error = errorOf({ [field]: missing });
      expect(error.message).toMatch(new RegExp(`${field}|PRIVATE_KEY`));
      expect(error.message).toMatch(/missing/i);
    }
  });

  it.each([
    ['a bare UUID', '3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b'],
    ['an unknown prefix', 'MDMAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b'],
    ['a truncated UUID', 'BUSINESSAPI.3f2a1b4c-5d6e'],
  ])('refuses a Client ID that is %s', (_, clientId) => {
    const error = errorOf({ clientId });
    expect(error.message).toContain('clientId (CLIENT_ID)');
    expect(error.message).toContain('BUSINESSAPI.<uuid> or SCHOOLAPI.<uuid>');
  });

  it('refuses a Key ID that is not a UUID', () => {
    const error = errorOf({ keyId: CLIENT_ID });
    expect(error.message).toContain('keyId (KEY_ID)');
    expect(error.message).toMatch(/UUID/);
  });

  it("refuses the Client ID's own UUID as the Key ID, saying which UUID is which", () => {
    const error = errorOf({ keyId: CLIENT_ID.split('.')[1].toUpperCase() });
    expect(error.message).toBe(
      "keyId (KEY_ID) is the UUID of the Client ID, not the Key ID: the Key ID is the other UUID, shown beside the key on the API account's page.",
    );
  });

  it.each([
    ['a zero-width space', 'clientId', CLIENT_ID.replace('.', '.\u200B'), 13, 'U+200B'],
    ['a Cyrillic letter', 'clientId', CLIENT_ID.replace('B', '\u0412'), 1, 'U+0412'],
    ['an en dash', 'keyId', KEY_ID.replace('-', '\u2013'), 9, 'U+2013'],
  ] as const)(
    'points at %s in an identifier that looks right',
    (_, field, value, position, code) => {
      expect(errorOf({ [field]: value }).message).toContain(
        `Its character ${position} is ${code}, not a plain letter, digit or dash, though it may look like one`,
      );
    },
  );

  it.each([
    ['clientId', 'BUSINESSAPI.00000000-0000-0000-0000-000000000000'],
    ['keyId', '00000000-0000-0000-0000-000000000000'],
  ] as const)('says %s is still the placeholder of .env.example', (field, value) => {
    expect(errorOf({ [field]: value }).message).toMatch(
      new RegExp(`^${field} \\([A-Z_]+\\) is still the placeholder of \\.env\\.example`),
    );
  });

  it('trims surrounding whitespace and quotes from identifiers', () => {
    const parsed = parseConfig(config({ clientId: ` "${CLIENT_ID}" `, keyId: `'${KEY_ID}'` }));
    expect(parsed.clientId).toBe(CLIENT_ID);
    expect(parsed.keyId).toBe(KEY_ID);
  });

  describe('private key variants that must be accepted', () => {
    const variants: Array<[string, string]> = [
      ['SEC1', key.sec1],
      ['PKCS#8', key.pkcs8],
      ['an EC PARAMETERS block in front', `${EC_PARAMETERS_P256}\n${key.sec1}`],
      ['SEC1 content under the PKCS#8 label', swapLabel(key.sec1)],
      ['PKCS#8 content under the SEC1 label', swapLabel(key.pkcs8)],
      ['literal \\n sequences (one-line env value)', key.sec1.replace(/\n/g, '\\n')],
      ['CRLF line ends', key.pkcs8.replace(/\n/g, '\r\n')],
      ['surrounding whitespace', `\n\n   ${key.sec1}   \n`],
      ['surrounding double quotes', `"${key.sec1.replace(/\n/g, '\\n')}"`],
      ['surrounding single quotes', `'${key.pkcs8}'`],
    ];
    it.each(variants)('accepts %s', (_, privateKey) => {
      const parsed = parseConfig(config({ privateKey }));
      expect(
        parsed.privateKey
          .export({ format: 'der', type: 'pkcs8' })
          .equals(key.privateKey.export({ format: 'der', type: 'pkcs8' })),
      ).toBe(true);
    });
  });

  describe('private keys that must be refused, each with a clear reason', () => {
    const rsa = generatePem('rsa');
    const p384 = generatePem('ec-p384');
    const ed25519 = generatePem('ed25519');
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' })
      .toString();
    // SEC1 with the traditional OpenSSL encryption headers (Proc-Type: 4,ENCRYPTED, DEK-Info).
    const encryptedSec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'sec1', cipher: 'aes-256-cbc', passphrase: 'x' })
      .toString();
    const rsaTraditional = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ format: 'pem', type: 'pkcs1' })
      .toString();
    const lines = key.sec1.trim().split('\n');
    const cases: Array<[string, string, RegExp]> = [
      ['an RSA key (PKCS#8)', rsa.privateKey, /RSA key/],
      ['an RSA key (PKCS#1)', rsaTraditional, /RSA key/],
      ['a P-384 key', p384.privateKey, /secp384r1.*P-256/],
      ['an Ed25519 key', ed25519.privateKey, /ED25519 key/],
      ['a truncated PEM (no END line)', lines.slice(0, 3).join('\n'), /truncated/],
      [
        'a PEM with part of its body cut out',
        [lines[0], lines[1], lines[lines.length - 1]].join('\n'),
        /truncated or corrupted|not base64/,
      ],
      ['garbage', 'not a key at all', /does not contain a PEM key/],
      ['the path of the .pem file', '/home/me/Downloads/AuthKey_ABC.pem', /looks like the path/],
      ['a Windows path', 'C:\\Users\\me\\abm key.pem', /looks like the path/],
      ['a file name alone', 'AuthKey_ABC.pem', /looks like the path of a file, not its contents/],
      ['an encrypted PEM', encrypted, /encrypted/],
      [
        'an encrypted SEC1 PEM (Proc-Type header)',
        encryptedSec1,
        /encrypted \(password-protected\)/,
      ],
      [
        'an OpenSSH key',
        '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----',
        /is an OpenSSH key; Apple.s API keys are EC P-256 keys/,
      ],
      [
        'a certificate',
        '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\n-----END CERTIFICATE-----',
        /certificate/,
      ],
      ['a public key', p384.publicKey, /public key/],
      ['only EC PARAMETERS', EC_PARAMETERS_P256, /EC PARAMETERS/],
      [
        'a PEM cut short after its EC PARAMETERS block',
        `${EC_PARAMETERS_P256}\n${lines.slice(0, 3).join('\n')}`,
        /is truncated: it has a -----BEGIN line but no matching -----END line/,
      ],
      [
        'a key whose END label does not match its BEGIN, after EC PARAMETERS',
        `${EC_PARAMETERS_P256}\n${lines.slice(0, -1).join('\n')}\n-----END PRIVATE KEY-----`,
        /has a -----BEGIN EC PRIVATE KEY----- line closed by -----END PRIVATE KEY-----: the two lines must name the same label/,
      ],
      [
        'a key whose END label does not match its BEGIN',
        `${lines.slice(0, -1).join('\n')}\n-----END PRIVATE KEY-----`,
        /has a -----BEGIN EC PRIVATE KEY----- line closed by -----END PRIVATE KEY-----/,
      ],
      [
        'a key cut short, then a complete block of another label (not a mismatch)',
        `${lines.slice(0, 3).join('\n')}\n${EC_PARAMETERS_P256}`,
        /is truncated: it has a -----BEGIN line but no matching -----END line/,
      ],
      [
        'a value far longer than a key (thousands of BEGIN lines take quadratic time to read)',
        '-----BEGIN PRIVATE KEY-----\nAAAA\n'.repeat(16_000),
        /is 516 KB long, far more than a private key: Apple's .pem is under 1 KB/,
      ],
      [
        'only the first line (a multi-line value in .env, as the SDK reads it)',
        '"-----BEGIN PRIVATE KEY-----',
        /is only its first line .* In \.env, a value cannot span lines: write the key on one line in double quotes, with each line break as \\n/,
      ],
      ['only the first line, unquoted', lines[0], /is only its first line/],
      [
        'a key whose private part was altered (it still loads, with the public key stored in it)',
        alteredSec1(key.sec1),
        /is damaged: its private part does not match the public key stored with it/,
      ],
      [
        'two keys pasted together',
        `${generateP256().pkcs8}\n${key.sec1}`,
        /holds 2 private keys: paste only the \.pem downloaded for this Key ID/,
      ],
      [
        'a P-256 key followed by a P-384 key',
        `${key.pkcs8}\n${p384.privateKey}`,
        /holds 2 private keys/,
      ],
    ];
    it.each(cases)('refuses %s', (_, privateKey, reason) => {
      const error = errorOf({ privateKey });
      expect(error.message).toContain('privateKey (PRIVATE_KEY)');
      expect(error.message).toMatch(reason);
    });

    it('never echoes key material in the message', () => {
      const body = rsa.privateKey.split('\n')[1];
      expect(errorOf({ privateKey: rsa.privateKey }).message).not.toContain(body);
    });
  });

  describe('a key pasted into the wrong field', () => {
    const keyLines = key.pkcs8
      .split('\n')
      .filter((line) => line.length > 20 && !line.startsWith('-----'));
    it.each([
      ['clientId', { clientId: key.pkcs8 }],
      ['keyId', { keyId: key.pkcs8 }],
      ['keyId (one line, \\n escaped)', { keyId: key.pkcs8.replace(/\n/g, '\\n') }],
      ['apiBaseUrl', { apiBaseUrl: key.pkcs8 }],
      ['tokenUrl', { tokenUrl: `http://example.com/${keyLines[0]}` }],
      ['retryBudgetSeconds', { retryBudgetSeconds: keyLines.join('') }],
    ])('is never echoed: %s', (_, overrides) => {
      const { message } = errorOf(overrides as Partial<IntegrationConfig>);
      expect(message).toContain('not shown');
      expect(message).not.toContain('-----BEGIN');
      for (const line of keyLines) expect(message).not.toContain(line);
    });

    it('still quotes an ordinary wrong value, so the user can see it', () => {
      expect(errorOf({ keyId: 'BUSINESSAPI.123' }).message).toContain('"BUSINESSAPI.123"');
    });
  });

  describe('URL overrides', () => {
    it('accepts https anywhere and http on loopback hosts, and strips /v1', () => {
      expect(
        parseConfig(config({ apiBaseUrl: 'https://proxy.example.com/abm/v1/' })).apiBaseUrl,
      ).toBe('https://proxy.example.com/abm');
      for (const host of ['127.0.0.1:8080', 'localhost:9', '[::1]:443']) {
        expect(parseConfig(config({ apiBaseUrl: `http://${host}` })).apiBaseUrl).toBe(
          `http://${host}`,
        );
      }
      expect(
        parseConfig(config({ tokenUrl: 'http://127.0.0.1:5/auth/oauth2/token' })).tokenUrl,
      ).toBe('http://127.0.0.1:5/auth/oauth2/token');
      // 127.0.0.1 mapped into IPv6, which the sandbox listens on when asked to: a URL parser
      // writes it [::ffff:7f00:1], which was refused (found by a review).
      expect(parseConfig(config({ apiBaseUrl: 'http://[::ffff:127.0.0.1]:8080' })).apiBaseUrl).toBe(
        'http://[::ffff:7f00:1]:8080',
      );
      expect(
        parseConfig(config({ tokenUrl: 'http://[0:0:0:0:0:0:0:1]:5/auth/oauth2/token' })).tokenUrl,
      ).toBe('http://[::1]:5/auth/oauth2/token');
    });

    it('reads empty quotes as unset, as every other field does', () => {
      // Docker's --env-file leaves `API_BASE_URL=""` quoted; it was refused as "not a valid URL".
      const parsed = parseConfig(config({ apiBaseUrl: '""', tokenUrl: " '' " }));
      expect(parsed.apiBaseUrl).toBe('https://api-business.apple.com');
      expect(parsed.tokenUrl).toBe('https://account.apple.com/auth/oauth2/token');
    });

    it.each([
      ['apiBaseUrl', 'http://api.example.com', /must use https/],
      ['apiBaseUrl', 'http://10.0.0.5', /must use https/],
      ['apiBaseUrl', 'http://[::ffff:10.0.0.5]', /must use https/],
      ['apiBaseUrl', 'http://[::ffff:8.8.8.8]', /must use https/],
      // Host names that only start like a loopback address are anywhere.
      ['apiBaseUrl', 'http://127.0.0.1.nip.io', /must use https/],
      ['apiBaseUrl', 'http://127.attacker.example', /must use https/],
      ['tokenUrl', 'http://localhost.attacker.example/token', /must use https/],
      ['tokenUrl', 'http://account.example.com/token', /must use https/],
      ['apiBaseUrl', 'ftp://127.0.0.1', /must be an https URL/],
      ['apiBaseUrl', 'not a url', /not a valid URL/],
      ['apiBaseUrl', 'https://api.example.com/?x=1', /without query/],
      ['tokenUrl', 'https://proxy.example.com/token#x', /must not carry a query or fragment/],
    ] as const)('refuses %s = %s', (field, value, reason) => {
      const error = errorOf({ [field]: value });
      expect(error.message).toContain(field);
      expect(error.message).toMatch(reason);
    });
  });

  it.each([
    ['tokenUrl', 'http://proxyuser:S3cretProxyPw@127.0.0.1:1/auth/oauth2/token'],
    ['tokenUrl', 'https://proxyuser:S3cretProxyPw@proxy.example.com/token'],
    ['apiBaseUrl', 'https://u:S3cretProxyPw@proxy.example.com'],
    ['apiBaseUrl', 'http://proxyuser:S3cretProxyPw@proxy.example.com'],
    ['apiBaseUrl', 'https://proxyuser:S3cret/ProxyPw@proxy.example.com'],
    ['apiBaseUrl', 'https://proxyuser@proxy.example.com'],
    ['apiBaseUrl', 'https://:S3cretProxyPw@proxy.example.com'],
    // Without the `//`, which a URL parser still reads as a user name and password.
    ['tokenUrl', 'https:proxyuser:S3cretProxyPw@proxy.example.com/auth/oauth2/token'],
    ['tokenUrl', 'https:/proxyuser:S3cretProxyPw@proxy.example.com/token'],
    ['tokenUrl', 'https:\\proxyuser:S3cretProxyPw@proxy.example.com/token'],
    ['tokenUrl', 'https:/\t/proxyuser:S3cretProxyPw@proxy.example.com/token'],
    ['apiBaseUrl', 'HTTPS:proxyuser:S3cretProxyPw@proxy.example.com'],
    ['apiBaseUrl', 'ftp:proxyuser:S3cretProxyPw@proxy.example.com'],
    ['apiBaseUrl', 'proxyuser:S3cretProxyPw@proxy.example.com'],
    // Not a URL at all (a space in the host): refused as such, the password still hidden.
    ['tokenUrl', 'https:proxyuser:S3cretProxyPw@exa mple.com/token'],
    ['tokenUrl', 'https://proxyuser:S3cretProxyPw@exa mple.com/token'],
  ] as const)('refuses %s with credentials in it (%s), never showing them', (field, value) => {
    const error = errorOf({ [field]: value });
    expect(error.message).toContain(field);
    expect(error.message).not.toMatch(/S3cret|ProxyPw|proxyuser/);
    expect(error.message).toContain('***@');
    if (!value.includes('/ProxyPw') && !value.includes(' ') && !value.startsWith('proxyuser')) {
      expect(error.message).toMatch(/must not carry a user name or password|must be an https URL/);
    }
  });

  it('reads checkReleasedDevices as a boolean or its text, off by default', () => {
    expect(parseConfig(config()).checkReleasedDevices).toBe(false);
    expect(parseConfig(config({ checkReleasedDevices: true })).checkReleasedDevices).toBe(true);
    expect(parseConfig(config({ checkReleasedDevices: 'TRUE ' })).checkReleasedDevices).toBe(true);
    expect(parseConfig(config({ checkReleasedDevices: 'false' })).checkReleasedDevices).toBe(false);
    expect(parseConfig(config({ checkReleasedDevices: '' })).checkReleasedDevices).toBe(false);
    // Quoted, as Docker's --env-file keeps the quotes of a .env line.
    expect(parseConfig(config({ checkReleasedDevices: '"true"' })).checkReleasedDevices).toBe(true);
    expect(errorOf({ checkReleasedDevices: 'yes please' }).message).toContain(
      'checkReleasedDevices (CHECK_RELEASED_DEVICES) must be true or false, got "yes please"',
    );
    // Without its quotes, as the retry budget's is shown.
    expect(errorOf({ checkReleasedDevices: '"maybe"' }).message).toContain('got "maybe".');
  });

  it("never shows an override URL's query or fragment, where a proxy's key would travel", () => {
    for (const [field, value] of [
      ['apiBaseUrl', 'https://proxy.example.com/?apikey=SECRETPROXYKEY123'],
      ['tokenUrl', 'https://proxy.example.com/token?apikey=SECRETPROXYKEY123'],
      ['tokenUrl', 'http://proxy.example.com/token?apikey=SECRETPROXYKEY123'],
      ['tokenUrl', 'https://proxy.example.com/token#SECRETPROXYKEY123'],
    ] as const) {
      const { message } = errorOf({ [field]: value });
      expect(message).not.toContain('SECRETPROXYKEY123');
      expect(message).toMatch(/proxy\.example\.com\/(token)?[?#]\*\*\*/);
    }
  });

  it('refuses a value that is not text, a number or a flag, by name, without storing it', () => {
    expect(errorOf({ organizationEmail: { a: 1 } as unknown as string }).message).toBe(
      'organizationEmail (ORGANIZATION_EMAIL) is an object, not text: enter it as a plain value.',
    );
    expect(errorOf({ organizationName: ['A', 'B'] as unknown as string }).message).toBe(
      'organizationName (ORGANIZATION_NAME) is a list, not text: enter it as a plain value.',
    );
    expect(errorOf({ keyId: { id: KEY_ID } as unknown as string }).message).toContain(
      'keyId (KEY_ID) is an object, not text',
    );
    expect(errorOf({ tokenUrl: [] as unknown as string }).message).toContain(
      'tokenUrl (TOKEN_URL) is a list, not text',
    );
    expect(errorOf({ checkReleasedDevices: [true] as unknown as boolean }).message).toBe(
      'checkReleasedDevices (CHECK_RELEASED_DEVICES) is a list, not text: enter it as a plain value.',
    );
    expect(errorOf({ privateKey: { pem: key.sec1 } as unknown as string }).message).toBe(
      'privateKey (PRIVATE_KEY) is an object, not text: enter it as a plain value.',
    );
  });

  it('takes an instance without any configuration as one missing its fields', () => {
    for (const missing of [null, undefined]) {
      let thrown: unknown;
      try {
        parseConfig(missing);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(IntegrationValidationError);
      expect((thrown as Error).message).toContain('Missing clientId (CLIENT_ID)');
    }
  });

  it('reads the retry budget and refuses nonsense', () => {
    expect(parseConfig(config({ retryBudgetSeconds: '60' })).retryBudgetMs).toBe(60_000);
    expect(parseConfig(config({ retryBudgetSeconds: '1.5' })).retryBudgetMs).toBe(1500);
    expect(parseConfig(config({ retryBudgetSeconds: ' "60" ' })).retryBudgetMs).toBe(60_000);
    expect(parseConfig(config({ retryBudgetSeconds: '""' })).retryBudgetMs).toBe(1_800_000);
    expect(parseConfig(config({ retryBudgetSeconds: 90 as unknown as string })).retryBudgetMs).toBe(
      90_000,
    );
    expect(parseConfig(config({ retryBudgetSeconds: '86400' })).retryBudgetMs).toBe(86_400_000);
    // Under a second no failed request could be tried again: the first backoff is a second.
    // Over a day is longer than any schedule; hex and exponents are not how seconds are written.
    for (const nonsense of [
      'soon',
      '0',
      '0.4',
      '1e-6',
      '-5',
      'Infinity',
      '0x10',
      '1e20',
      '+60',
      '86401',
    ]) {
      expect(errorOf({ retryBudgetSeconds: nonsense }).message).toContain(
        `retryBudgetSeconds (RETRY_BUDGET_SECONDS) must be a number of seconds from 1 to 86400, got "${nonsense}"`,
      );
    }
    // Quotes are read off first, as from every field, and the value shown without them.
    expect(errorOf({ retryBudgetSeconds: '"-"' }).message).toContain('got "-".');
  });

  it('reads the organization details as given, quotes stripped', () => {
    const { organization } = parseConfig(
      config({ organizationName: ' "Acme Labs" ', adminId: 'admin-1', organizationEmail: '' }),
    );
    expect(organization).toEqual({
      name: 'Acme Labs',
      id: undefined,
      email: undefined,
      phone: undefined,
      address: undefined,
      adminId: 'admin-1',
    });
  });

  it.each(['organizationName', 'organizationAddress', 'adminId'] as const)(
    'refuses a key pasted into %s, which the graph would store, without showing it',
    (field) => {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      for (const pasted of [key, key.replace(/\n/g, '\\n'), key.split('\n')[1]]) {
        const error = errorOf({ [field]: pasted });
        expect(error.message).toContain(`${field} (`);
        expect(error.message).toContain('looks like key material, not shown');
        expect(error.message).not.toContain(key.split('\n')[1]);
      }
    },
  );
});
