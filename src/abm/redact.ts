/**
 * Secrets that must never reach a log line, an error message, the graph or a
 * recording. The auth layer registers each access token and client assertion
 * it handles, so text from anywhere (an error body, a network error) can be
 * cleaned before it is shown.
 */

/** What stands where a secret was. */
export const REDACTED = '[REDACTED]';

/**
 * Each registered secret with the forms an echo may give it (see `formsOf`), every form of every
 * secret longest first, so that a secret holding another is replaced whole.
 */
const knownSecrets = new Map<string, string[]>();
let knownForms: string[] = [];

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
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const PEM_PATTERN = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
/**
 * A bearer credential as an `Authorization` header carries it, echoed by a server or a proxy: also
 * the part of one that the echo itself cut short, which no registered secret matches.
 */
const BEARER_PATTERN = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi;

/** A character left as it is by every encoding below. */
const PLAIN = /[A-Za-z0-9\-._~]/;

/**
 * A secret as an echo may carry it: as it is; inside JSON, whose writer may escape `/` as `\/`;
 * percent-encoded (upper- and lower-case hex), as a query or a form carries it; and with HTML's
 * character references (decimal and hex) for what is not a letter or digit, as a web page may
 * (found by a review: a token with `+`, `/` and `=` echoed in any of these was shown whole).
 */
function formsOf(secret: string): string[] {
  const each = (encode: (c: string) => string): string =>
    [...secret].map((c) => (PLAIN.test(c) ? c : encode(c))).join('');
  const hex = (c: string): string => c.charCodeAt(0).toString(16);
  return [
    ...new Set([
      secret,
      secret.replace(/\//g, '\\/'),
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase()),
      each((c) => `&#${c.charCodeAt(0)};`),
      each((c) => `&#x${hex(c)};`),
      each((c) => `&#x${hex(c).toUpperCase()};`),
    ]),
  ];
}

function rebuild(): void {
  knownForms = [...knownSecrets.values()].flat().sort((a, b) => b.length - a.length);
  pieces = new Set();
  for (const secret of knownSecrets.keys()) {
    for (let i = 0; i + PIECE_CHARS <= secret.length; i++) {
      pieces.add(secret.slice(i, i + PIECE_CHARS));
    }
  }
}

export function registerSecret(secret: string): void {
  // Very short values would redact innocent text; real secrets are long.
  if (secret.length < 8 || knownSecrets.has(secret)) return;
  knownSecrets.set(secret, formsOf(secret));
  rebuild();
}

export function forgetSecret(secret: string): void {
  if (knownSecrets.delete(secret)) rebuild();
}

/**
 * The registered secrets' forms found in `bytes` (an answer's body), longest first; empty when
 * there is none. A search of bytes, cheap enough for every page (about 0.06 ms for 0.6 MB).
 */
export function secretFormsIn(bytes: Buffer, secret: string): string[] {
  const forms = knownSecrets.get(secret) ?? formsOf(secret);
  return forms.filter((form) => bytes.includes(form));
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
