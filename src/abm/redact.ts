/**
 * Secrets that must never reach a log line, an error message, the graph or a
 * recording. The auth layer registers each access token and client assertion
 * it handles, so text from anywhere (an error body, a network error) can be
 * cleaned before it is shown.
 */

/** What stands where a secret was. */
export const REDACTED = '[REDACTED]';

/** The forms a registered secret may take (see `formsOf`). */
interface Forms {
  /** As text may hold it: as it is, percent-encoded, with HTML's character references. */
  text: string[];
  /** As a JSON document's bytes may hold each of those: its string escapes written out. */
  json: Buffer[];
  /**
   * The longest run of the secret's PLAIN characters, when it is long enough to rule a document
   * out: every form holds it as it is, so one search of a page can stand for all of them.
   */
  anchor?: Buffer;
}

const knownSecrets = new Map<string, Forms>();
/** Every form of every registered secret, longest first, so a secret holding another goes whole. */
let knownForms: string[] = [];
/**
 * Shortest run of a registered secret's characters that is redacted wherever it stands: part of a
 * secret, as an echo cut short or broken across lines gives it (found by a review: an HTML page
 * that wrapped an echoed header every 20 characters showed all but its first line). Twelve
 * characters of a token's random text do not occur in other text by chance; fewer would leave
 * nothing a caller could use.
 */
const PIECE_CHARS = 12;
/** Shortest value registered as a secret: a shorter one would match innocent text. */
const MIN_SECRET_CHARS = 8;
/** Every run of PIECE_CHARS characters of a registered secret. */
let pieces = new Set<string>();

/** A JWS in compact form: three base64url parts, the first starting with `eyJ` (`{"`). */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const PEM_PATTERN = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
/**
 * A bearer credential as an `Authorization` header carries it, echoed by a server or a proxy: also
 * the part of one that the echo itself cut short, which no registered secret matches.
 */
const BEARER_PATTERN = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi;

/** A character left as it is by every encoding below. */
const PLAIN = /[A-Za-z0-9\-._~]/;

/** `secret` with each character that is not PLAIN written by `encode`. */
function encoded(secret: string, encode: (char: string) => string): string {
  return [...secret].map((char) => (PLAIN.test(char) ? char : encode(char))).join('');
}

/** Percent-encoded byte by byte, every byte that is not PLAIN (stricter than encodeURIComponent). */
function percentEncoded(secret: string, upper: boolean): string {
  return encoded(secret, (char) =>
    [...Buffer.from(char, 'utf8')]
      .map((byte) => `%${byte.toString(16).padStart(2, '0')}`)
      .map((code) => (upper ? code.toUpperCase() : code))
      .join(''),
  );
}

/**
 * A secret as an echo may carry it (found by a review: a token with `+`, `/` and `=` echoed in any
 * of these was shown whole): as it is; percent-encoded, as a query or a form carries it (as
 * `encodeURIComponent` does, leaving `!'()*`, and every byte; upper- and lower-case hex); and with
 * HTML's character references (decimal and hex) for what is not a letter or digit, as a web page
 * may. And each of those as a JSON document's bytes may hold it: JSON's escapes for `"`, `\` and
 * control characters, `/` as `\/`, and every character that is not PLAIN as `\u00xx`.
 */
function formsOf(secret: string): Forms {
  const point = (char: string): number => char.codePointAt(0) ?? 0;
  const text = new Set([secret, percentEncoded(secret, true), percentEncoded(secret, false)]);
  try {
    const uri = encodeURIComponent(secret);
    text.add(uri).add(uri.replace(/%[0-9A-F]{2}/g, (code) => code.toLowerCase()));
  } catch {
    // A lone surrogate, which no URL carries.
  }
  text
    .add(encoded(secret, (char) => `&#${point(char)};`))
    .add(encoded(secret, (char) => `&#x${point(char).toString(16)};`))
    .add(encoded(secret, (char) => `&#x${point(char).toString(16).toUpperCase()};`));
  const json = new Set<string>();
  for (const form of text) {
    const escaped = JSON.stringify(form).slice(1, -1);
    json.add(escaped).add(escaped.replace(/\//g, '\\/'));
    for (const upper of [false, true]) {
      const unicode = [...form]
        .map((char) =>
          PLAIN.test(char)
            ? char
            : [...char]
                .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
                .map((code) => (upper ? code.toUpperCase().replace('\\U', '\\u') : code))
                .join(''),
        )
        .join('');
      json.add(unicode);
    }
  }
  const run = (secret.match(/[A-Za-z0-9\-._~]+/g) ?? []).reduce(
    (longest, part) => (part.length > longest.length ? part : longest),
    '',
  );
  return {
    text: [...text],
    json: [...json].map((form) => Buffer.from(form, 'utf8')),
    anchor: run.length >= MIN_SECRET_CHARS ? Buffer.from(run) : undefined,
  };
}

const longestFirst = (a: string, b: string): number => b.length - a.length;

function formsForMessages(forms: Forms): string[] {
  return [...new Set([...forms.text, ...forms.json.map((form) => form.toString('utf8'))])];
}

function addPieces(secret: string): void {
  for (let i = 0; i + PIECE_CHARS <= secret.length; i++) {
    pieces.add(secret.slice(i, i + PIECE_CHARS));
  }
}

/** Everything made from the registered secrets, made again (after one is forgotten). */
function rebuild(): void {
  knownForms = [...knownSecrets.values()].flatMap(formsForMessages).sort(longestFirst);
  pieces = new Set();
  for (const secret of knownSecrets.keys()) addPieces(secret);
}

export function registerSecret(secret: string): void {
  // Very short values would redact innocent text; real secrets are long.
  if (secret.length < MIN_SECRET_CHARS || knownSecrets.has(secret)) return;
  const forms = formsOf(secret);
  knownSecrets.set(secret, forms);
  // Added to what is there, not made again: a run registers an assertion for each token request.
  knownForms = [...knownForms, ...formsForMessages(forms)].sort(longestFirst);
  addPieces(secret);
}

export function forgetSecret(secret: string): void {
  if (knownSecrets.delete(secret)) rebuild();
}

/**
 * Whether an answer's bytes hold `secret` in any of its forms: never for a secret that is not
 * registered (shorter than MIN_SECRET_CHARS, it would match innocent data: a review's token
 * "C02X" rewrote serial numbers). A search of bytes, cheap enough for every page: about 0.06 ms
 * for 0.6 MB, once for the anchor where the secret has one (any token of 8 letters or digits in a
 * row), else once a form.
 */
export function holdsSecret(bytes: Buffer, secret: string): boolean {
  const forms = knownSecrets.get(secret);
  if (forms === undefined || (forms.anchor && !bytes.includes(forms.anchor))) return false;
  return forms.json.some((form) => bytes.includes(form));
}

/**
 * A parsed document with `secret` replaced by REDACTED in every string of it (in place; the
 * document is returned). Strings hold it as text does, JSON's escapes undone by the parse, so
 * the document's structure is never touched.
 */
export function redactDocument(document: unknown, secret: string): unknown {
  const forms = knownSecrets.get(secret)?.text.slice().sort(longestFirst);
  if (!forms) return document;
  const clean = (value: unknown): unknown =>
    typeof value === 'string' ? replaceForms(value, forms) : value;
  // A stack, not recursion: a document may nest deeper than the call stack goes.
  const stack: unknown[] = [document];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        value[i] = clean(value[i]);
        stack.push(value[i]);
      }
    } else {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        record[key] = clean(record[key]);
        stack.push(record[key]);
      }
    }
  }
  return clean(document);
}

/** `text` with each of `forms` replaced by REDACTED. */
export function replaceForms(text: string, forms: string[]): string {
  let result = text;
  for (const form of forms) {
    if (result.includes(form)) result = result.split(form).join(REDACTED);
  }
  return result;
}

export function redactSecrets(text: string): string {
  // The registered secrets first, whole: a pattern that took part of one (a token with a
  // character the bearer pattern stops at) would leave the rest to be shown (found by a review).
  const result = replaceForms(text, knownForms)
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
