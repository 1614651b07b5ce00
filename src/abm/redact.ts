/**
 * Secrets that must never reach a log line, an error message, the graph or a
 * recording. The auth layer registers each access token and client assertion
 * it handles, so text from anywhere (an error body, a network error) can be
 * cleaned before it is shown.
 */
const knownSecrets = new Set<string>();

/** A JWS in compact form: three base64url parts, the first starting with `eyJ` (`{"`). */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const PEM_PATTERN = /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g;
/**
 * A bearer credential as an `Authorization` header carries it, echoed by a server or a proxy: also
 * the part of one that the echo itself cut short, which no registered secret matches.
 */
const BEARER_PATTERN = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi;

export function registerSecret(secret: string): void {
  // Very short values would redact innocent text; real secrets are long.
  if (secret.length >= 8) knownSecrets.add(secret);
}

export function forgetSecret(secret: string): void {
  knownSecrets.delete(secret);
}

export function redactSecrets(text: string): string {
  let result = text
    .replace(JWT_PATTERN, '[REDACTED]')
    .replace(PEM_PATTERN, '[REDACTED]')
    .replace(BEARER_PATTERN, '$1[REDACTED]');
  for (const secret of knownSecrets) {
    if (result.includes(secret)) result = result.split(secret).join('[REDACTED]');
  }
  return result;
}
