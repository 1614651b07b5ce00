/**
 * Secrets that must never reach a log line, an error message, the graph or a
 * recording. The auth layer registers each access token and client assertion
 * it handles, so text from anywhere (an error body, a network error) can be
 * cleaned before it is shown.
 */

/** What stands where a secret was. */
export const REDACTED = '[REDACTED]';

/** Shortest value registered as a secret: a shorter one would match innocent text. */
export const MIN_SECRET_CHARS = 8;

/** What is kept of a registered secret (see `patternsOf`). */
interface Known {
  /** Its echoes as text holds them: percent-encoded, with character references, or as it is. */
  text: RegExp;
  /** The same, each also as a JSON document's bytes may hold it (`\u00hh`, `\/`, `\"`, `\\`). */
  json: RegExp;
  /**
   * The longest run of its letters and digits, which every echo holds as it is: when a page does
   * not, it holds no echo, and one search of its bytes says so.
   */
  anchor?: Buffer;
}

const knownSecrets = new Map<string, Known>();
/** Every registered secret's `json` pattern in one, longest secret first (see `allSecrets`). */
let allSecretsPattern: RegExp | undefined;

/**
 * Shortest run of a registered secret's characters that is redacted wherever it stands: part of a
 * secret, as an echo cut short or broken across lines gives it (found by a review: an HTML page
 * that wrapped an echoed header every 20 characters showed all but its first line). Twelve
 * characters of a token's random text do not occur in other text by chance; fewer would leave
 * nothing a caller could use.
 */
const PIECE_CHARS = 12;
/** Every run of PIECE_CHARS characters of a registered secret. */
let pieces = new Set<string>();

/** A JWS in compact form: three base64url parts, the first starting with `eyJ` (`{"`). */
// Only from where a run of base64url characters starts: from every `eyJ` inside a long run, the
// scan to its end made the time grow with the square of the text (6 minutes a megabyte, found by
// a review).
const JWT_PATTERN = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const PEM_PATTERN = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
/**
 * A bearer credential as an `Authorization` header carries it, echoed by a server or a proxy: also
 * the part of one that the echo itself cut short, which no registered secret matches. A word of
 * letters alone is not taken for one ("Bearer authentication required", found by a review).
 */
const BEARER_PATTERN = /\b(Bearer\s+)(?=[A-Za-z]*[0-9\-._~+/])[A-Za-z0-9\-._~+/]{8,}=*/gi;

const ALPHANUMERIC = /[A-Za-z0-9]/;

/** HTML's named character references for the characters most escapers write by name. */
const NAMED_REFERENCES: Record<string, string> = {
  '&': 'amp',
  '"': 'quot',
  "'": 'apos',
  '<': 'lt',
  '>': 'gt',
};

/** A regular expression's text matching `text` literally. */
function literal(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** A number's hexadecimal digits, each matched in either case. */
function hexDigits(code: number): string {
  return [...code.toString(16)]
    .map((digit) => (/[a-f]/.test(digit) ? `[${digit}${digit.toUpperCase()}]` : digit))
    .join('');
}

/** The same with any leading zeros, as a character reference may write it. */
function hexOf(code: number): string {
  return `0*${hexDigits(code)}`;
}

/**
 * How one character of a secret other than a letter or digit may stand in an echo, as text: as
 * it is, percent-encoded (`%2B`, `%2b`), or as an HTML character reference (`&#43;`, `&#x2B;`,
 * `&#X002b;`). The encoders in use differ in which characters they encode (`encodeURIComponent`
 * leaves `!'()*`, Python's `quote` leaves `/`, Java's `URLEncoder` encodes `~`), so each character
 * may stand in any of its forms, whatever the others do (found by a review: a fixed list of whole
 * forms missed most of them).
 */
function textForm(char: string): string {
  const code = char.charCodeAt(0);
  // The encoded forms before the character itself, which begins some of them (`%`, `&`): a secret
  // ending in `%` echoed as `%25` would otherwise leave `25` behind (found by a review).
  const named = NAMED_REFERENCES[char] ? `|&${NAMED_REFERENCES[char]};` : '';
  return `(?:%${hexPair(char)}|&#0*${code};|&#[xX]${hexOf(code)};${named}|${literal(char)})`;
}

/** The two hexadecimal digits of a printable ASCII character's code, matched in either case. */
function hexPair(char: string): string {
  return hexDigits(char.charCodeAt(0));
}

/**
 * One character (not a letter or digit) inside a JSON document's bytes: as it is, as `\u00hh`
 * (any writer may; .NET writes `+` so, Go `&`), or, for `/`, `"` and `\`, after a backslash.
 */
function jsonChar(char: string): string {
  const backslashed = '/"\\'.includes(char) ? `\\\\${literal(char)}|` : '';
  return `(?:\\\\u00${hexPair(char)}|${backslashed}${literal(char)})`;
}

/** `textForm` inside a JSON document's bytes: each of its characters as `jsonChar` has it. */
function jsonForm(char: string): string {
  const code = char.charCodeAt(0);
  const [amp, hash, semi] = ['&', '#', ';'].map(jsonChar);
  const named = NAMED_REFERENCES[char] ? `|${amp}${NAMED_REFERENCES[char]}${semi}` : '';
  return `(?:${jsonChar('%')}${hexPair(char)}|${amp}${hash}0*${code}${semi}|${amp}${hash}[xX]${hexOf(code)}${semi}${named}|${jsonChar(char)})`;
}

/** Patterns for the echoes of `secret` (see `textForm` and `jsonForm`). */
function patternsOf(secret: string): Known {
  const build = (form: (char: string) => string): string =>
    [...secret].map((char) => (ALPHANUMERIC.test(char) ? char : form(char))).join('');
  const anchor = (secret.match(/[A-Za-z0-9]+/g) ?? []).reduce(
    (longest, run) => (run.length > longest.length ? run : longest),
    '',
  );
  return {
    text: new RegExp(build(textForm), 'g'),
    json: new RegExp(build(jsonForm), 'g'),
    anchor: anchor.length >= MIN_SECRET_CHARS ? Buffer.from(anchor) : undefined,
  };
}

/** One pattern for the echoes of every registered secret, the longest secret first. */
function allSecrets(): RegExp | undefined {
  if (allSecretsPattern === undefined && knownSecrets.size > 0) {
    const sources = [...knownSecrets]
      .sort(([a], [b]) => b.length - a.length)
      .map(([, known]) => known.json.source);
    allSecretsPattern = new RegExp(sources.join('|'), 'g');
  }
  return allSecretsPattern;
}

function addPieces(secret: string): void {
  for (let i = 0; i + PIECE_CHARS <= secret.length; i++) {
    pieces.add(secret.slice(i, i + PIECE_CHARS));
  }
}

/**
 * Registers a secret to hide. Only printable ASCII is registered (every access token the client
 * accepts, every client assertion), and only MIN_SECRET_CHARS characters or more (the token
 * provider refuses a shorter token).
 */
export function registerSecret(secret: string): void {
  if (secret.length < MIN_SECRET_CHARS || knownSecrets.has(secret)) return;
  if (!/^[\x21-\x7E]+$/.test(secret)) return;
  knownSecrets.set(secret, patternsOf(secret));
  allSecretsPattern = undefined;
  addPieces(secret);
}

/**
 * Takes a secret off the registry. The collector never does (a run registers a few tokens at
 * most); tests do, so that one test's secrets are not looked for in the next one's.
 */
export function forgetSecret(secret: string): void {
  if (!knownSecrets.delete(secret)) return;
  allSecretsPattern = undefined;
  pieces = new Set();
  for (const known of knownSecrets.keys()) addPieces(known);
}

/**
 * Whether an answer's bytes hold an echo of `secret`: never for a secret that is not registered
 * (a shorter one would match innocent data: a review's token "C02X" rewrote serial numbers). The
 * bytes are searched for its anchor first (about 0.06 ms for 0.6 MB); only a page that holds it,
 * or any page for a secret without one, is read as text and matched.
 */
export function holdsSecret(bytes: Buffer, secret: string): boolean {
  const known = knownSecrets.get(secret);
  if (known === undefined || (known.anchor && !bytes.includes(known.anchor))) return false;
  known.json.lastIndex = 0;
  return known.json.test(bytes.toString('utf8'));
}

/**
 * A parsed document with the echoes of `secret` replaced by REDACTED in every string of it, keys
 * included (in place, a record's keys kept in their order; the document is returned), and how
 * many strings changed. Strings hold an echo as text does, JSON's escapes undone by the parse, so
 * the document's structure is never touched.
 */
export function redactDocument(
  document: unknown,
  secret: string,
): { document: unknown; changed: number } {
  const known = knownSecrets.get(secret);
  if (!known) return { document, changed: 0 };
  let changed = 0;
  const clean = (value: unknown): unknown => {
    if (typeof value !== 'string') return value;
    const replaced = value.replace(known.text, REDACTED);
    if (replaced !== value) changed += 1;
    return replaced;
  };
  const top = clean(document);
  // A stack, not recursion: a document may nest deeper than the call stack goes.
  const stack: unknown[] = [top];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        value[i] = clean(value[i]);
        stack.push(value[i]);
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const renamed = keys.map((key) => key.replace(known.text, REDACTED));
    if (renamed.some((key, i) => key !== keys[i])) {
      // Every key put back in its order, the changed ones under their new names, each made unique
      // (`[REDACTED]`, then `[REDACTED] 2`) so that none takes another's place, and defined rather
      // than assigned, so that a `__proto__` key stays a key (found by a review).
      const taken = new Set(keys.filter((key, i) => key === renamed[i]));
      const entries = keys.map((key, i) => {
        let name = renamed[i];
        if (name !== key) {
          changed += 1;
          for (let n = 2; taken.has(name); n++) name = `${renamed[i]} ${n}`;
          taken.add(name);
        }
        return [name, record[key]] as const;
      });
      for (const key of keys) delete record[key];
      for (const [key, entry] of entries) {
        Object.defineProperty(record, key, {
          value: entry,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    for (const key of Object.keys(record)) {
      record[key] = clean(record[key]);
      stack.push(record[key]);
    }
  }
  return { document: top, changed };
}

export function redactSecrets(text: string): string {
  // The registered secrets first, whole: a pattern that took part of one (a token with a
  // character the bearer pattern stops at) would leave the rest to be shown (found by a review).
  const secrets = allSecrets();
  const result = (secrets ? text.replace(secrets, REDACTED) : text)
    .replace(JWT_PATTERN, REDACTED)
    .replace(PEM_PATTERN, REDACTED)
    .replace(BEARER_PATTERN, `$1${REDACTED}`);
  return redactPieces(result);
}

/** `text` with every run that holds PIECE_CHARS or more characters of a secret in a row replaced. */
function redactPieces(text: string): string {
  if (pieces.size === 0 || text.length < PIECE_CHARS) return text;
  let out = '';
  let copied = 0;
  let runStart = -1;
  let runEnd = -1;
  for (let i = 0; i + PIECE_CHARS <= text.length; i++) {
    if (!pieces.has(text.slice(i, i + PIECE_CHARS))) continue;
    if (i > runEnd) {
      if (runStart >= 0) {
        out += text.slice(copied, runStart) + REDACTED;
        copied = runEnd;
      }
      runStart = i;
    }
    runEnd = i + PIECE_CHARS;
  }
  if (runStart < 0) return text;
  return out + text.slice(copied, runStart) + REDACTED + text.slice(runEnd);
}
