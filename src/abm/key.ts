import { createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'crypto';
import { IntegrationValidationError } from '@jupiterone/integration-sdk-core';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]+={0,2}$/;
const ONLY_A_BEGIN_LINE = /^['"]?-----BEGIN [A-Z0-9 ]+-----$/;
/**
 * Longest value read as a key. Apple's .pem is about 250 characters, and a paste with an
 * `EC PARAMETERS` block, a certificate or a chain beside it stays within a few KB. Finding the
 * blocks of a text holding thousands of `-----BEGIN` lines without their `-----END` takes time
 * that grows with the square of its length (a second at 500 KB), so a longer value is refused
 * before it is read.
 */
export const MAX_KEY_CHARS = 64 * 1024;
/** A file's path or name where its contents belong: `./AuthKey.pem`, `~/keys/abm.p8`, `C:\\...`. */
const LOOKS_LIKE_A_PATH = /^(~|\.{0,2}\/|[A-Za-z]:\\)[^\n]*$|^[^\s\n]+\.(pem|p8|key)$/i;

/**
 * Turns whatever an administrator pasted into the private key field into the
 * PEM text it stands for: surrounding quotes and whitespace go, literal `\n`
 * sequences (one-line environment variables) and CRLF line ends become newlines.
 */
export function normalizePem(value: string): string {
  let text = value.trim();
  const quoted = /^(['"])([\s\S]*)\1$/.exec(text);
  if (quoted) text = quoted[2].trim();
  return text
    .replace(/\\r\\n|\\n|\\r/g, '\n')
    .replace(/\r\n?/g, '\n')
    .trim();
}

/** How a key's error names its field, and where its account is managed. */
interface KeyField {
  field: string;
  manager: string;
}

function invalid({ field, manager }: KeyField, problem: string): IntegrationValidationError {
  return new IntegrationValidationError(
    `${field} ${problem} Paste the whole .pem file downloaded for this API account in ${manager} (Preferences > API), from -----BEGIN to -----END. If it is lost, generate a new key there.`,
  );
}

function refuseLabel(field: KeyField, label: string, body: string): void {
  if (label.includes('ENCRYPTED') || /Proc-Type:\s*4,ENCRYPTED/.test(body)) {
    throw invalid(
      field,
      'is an encrypted (password-protected) key; the integration needs the unencrypted key Apple issued.',
    );
  }
  if (label.includes('CERTIFICATE')) {
    throw invalid(field, 'is a certificate, not a private key.');
  }
  if (label.includes('PUBLIC KEY')) {
    throw invalid(field, 'is a public key; the integration needs the private key.');
  }
  if (label === 'RSA PRIVATE KEY') {
    throw invalid(field, "is an RSA key; Apple's API keys are EC P-256 keys.");
  }
  if (label === 'OPENSSH PRIVATE KEY') {
    throw invalid(field, "is an OpenSSH key; Apple's API keys are EC P-256 keys.");
  }
}

/**
 * The first BEGIN line whose next marker line is an END line of another label (`-----BEGIN EC
 * PRIVATE KEY-----` ... `-----END PRIVATE KEY-----`, a label edited by hand), which would
 * otherwise read as a key cut short.
 */
function mismatchedLabels(pem: string): { begin: string; end: string } | undefined {
  const markers = pem.matchAll(/-----(BEGIN|END) ([A-Z0-9 ]+)-----/g);
  let open: string | undefined;
  for (const [, kind, label] of markers) {
    if (kind === 'BEGIN') {
      open = label;
    } else if (open !== undefined && label !== open) {
      return { begin: open, end: label };
    } else {
      open = undefined;
    }
  }
  return undefined;
}

function parseDer(der: Buffer): KeyObject | undefined {
  // The label is not trustworthy (Apple's downloads have swapped them), so try both encodings.
  for (const type of ['pkcs8', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  return undefined;
}

/**
 * Loads the API account's private key from any of the PEM variants seen in the
 * wild (SEC1, PKCS#8, swapped labels, an `EC PARAMETERS` block in front) and
 * checks that it is an EC P-256 key. Error messages describe the problem and
 * never contain key material.
 */
export function loadPrivateKey(
  value: unknown,
  fieldName = 'privateKey (PRIVATE_KEY)',
  manager = 'Apple Business Manager',
): KeyObject {
  const field: KeyField = { field: fieldName, manager };
  // Blank, or only empty quotes (`PRIVATE_KEY=""`, as Docker's --env-file leaves it), is missing,
  // as it is for every other field.
  const pem = typeof value === 'string' ? normalizePem(value) : '';
  if (pem === '') throw invalid(field, 'is missing.');
  if (pem.length > MAX_KEY_CHARS) {
    throw invalid(
      field,
      `is ${Math.ceil(pem.length / 1024)} KB long, far more than a private key: Apple's .pem is under 1 KB.`,
    );
  }
  if (ONLY_A_BEGIN_LINE.test(pem)) {
    // A value on several lines cut after its first: what a .env loader without multi-line values
    // (the SDK's) makes of a key pasted as is.
    throw new IntegrationValidationError(
      `${field.field} is only its first line (-----BEGIN ...-----): the rest of the key did not arrive. In .env, a value cannot span lines: write the key on one line in double quotes, with each line break as \\n (PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\\nMIG...\\n-----END PRIVATE KEY-----"), or set PRIVATE_KEY in the environment.`,
    );
  }
  const blocks = [...pem.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1], body: m[2] }));
  const unended = (pem.match(/-----BEGIN /g) ?? []).length > blocks.length;
  const candidates = blocks.filter((b) => b.label !== 'EC PARAMETERS');
  if (candidates.length === 0) {
    const mismatch = mismatchedLabels(pem);
    if (mismatch) {
      throw invalid(
        field,
        `has a -----BEGIN ${mismatch.begin}----- line closed by -----END ${mismatch.end}-----: the two lines must name the same label, as in the file Apple issued.`,
      );
    }
    if (unended) {
      throw invalid(field, 'is truncated: it has a -----BEGIN line but no matching -----END line.');
    }
    if (blocks.length === 0 && LOOKS_LIKE_A_PATH.test(pem)) {
      throw invalid(
        field,
        'looks like the path of a file, not its contents: the integration does not read files.',
      );
    }
    if (blocks.length === 0) {
      throw invalid(field, 'does not contain a PEM key (no -----BEGIN ... ----- line).');
    }
    throw invalid(field, 'holds only EC PARAMETERS, not the private key itself.');
  }
  for (const block of candidates) refuseLabel(field, block.label, block.body);
  const keyBlocks = candidates.filter(
    (b) => b.label === 'EC PRIVATE KEY' || b.label === 'PRIVATE KEY',
  );
  if (keyBlocks.length > 1) {
    // Taking one would sign with a key that may not be this Key ID's, and Apple's refusal would
    // then blame the credentials as a whole.
    throw invalid(
      field,
      `holds ${keyBlocks.length} private keys: paste only the .pem downloaded for this Key ID.`,
    );
  }
  const keyBlock = keyBlocks[0];
  if (!keyBlock) {
    throw invalid(field, `holds a "${candidates[0].label}" block, not a private key.`);
  }
  if (keyBlock.body.trim() === '...') {
    // `.env.example`'s stand-in, which would otherwise read as a damaged key (found by a review).
    throw invalid(
      field,
      'is still the placeholder of .env.example (-----BEGIN ...-----, "...", -----END ...-----): paste the key itself in its place.',
    );
  }
  const base64 = keyBlock.body.replace(/\s+/g, '');
  if (!BASE64_BODY.test(base64) || base64.length % 4 !== 0) {
    throw invalid(field, 'is damaged: the text between the BEGIN and END lines is not base64.');
  }
  const key = parseDer(Buffer.from(base64, 'base64'));
  if (!key) {
    throw invalid(field, 'could not be read as a private key: it looks truncated or corrupted.');
  }
  if (key.asymmetricKeyType !== 'ec') {
    throw invalid(
      field,
      `is an ${String(key.asymmetricKeyType).toUpperCase()} key; Apple's API keys are EC P-256 keys.`,
    );
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'prime256v1') {
    throw invalid(
      field,
      `is an EC key on curve ${curve ?? 'unknown'}; expected P-256 (prime256v1).`,
    );
  }
  if (!signsForItsPublicKey(key)) {
    throw invalid(
      field,
      'is damaged: its private part does not match the public key stored with it, so Apple could not verify what it signs.',
    );
  }
  return key;
}

/**
 * Whether a signature made with the key verifies against the public key the file carries. A file
 * whose private part was altered still loads (the public key in it is used as stored), and would
 * only show as Apple's `invalid_client`, which blames the Key ID and Client ID. Under 1 ms.
 */
function signsForItsPublicKey(key: KeyObject): boolean {
  const probe = Buffer.from('abm key check');
  try {
    return verify('sha256', probe, createPublicKey(key), sign('sha256', probe, key));
  } catch {
    return false;
  }
}
