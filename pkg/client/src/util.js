// Pure helpers of @edgeauth/client: no I/O, no globals beyond the language,
// so Node's test runner checks them directly.

/** The refresh failures that end the session everywhere, never retried. */
export const FATAL = new Set(['refresh_token_reused', 'invalid_refresh_token', 'revoked']);

/** The request header that asks for the refresh token in the cookie only. */
export const PREFER = ['Prefer', 'refresh-token=cookie'];

/**
 * The claims of a JWT, decoded for display: the signature is NOT checked
 * (the server and the APIs verify tokens; a page never needs to).
 * Returns null when the token is not a JWT with a JSON object payload.
 */
export function decodeClaims(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat(-b64.length & 3)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims == 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * Milliseconds to wait for a `Retry-After` value (delta-seconds or an
 * HTTP-date, RFC 9110 10.2.3), capped at `max`; null when absent or invalid.
 */
export function retryAfterMs(value, nowMs, max) {
  if (value == null) return null;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : /^[a-z]/i.test(v) ? Date.parse(v) - nowMs : NaN;
  return Number.isNaN(ms) ? null : Math.min(Math.max(ms, 0), max);
}

/** Whether a request body can be sent twice (a stream cannot). */
export function replayable(body) {
  return (
    body == null ||
    typeof body == 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    ['Blob', 'FormData', 'URLSearchParams'].some((t) => globalThis[t] && body instanceof globalThis[t])
  );
}

/** The `code` of a problem+json answer, or null. Leaves `res` unread. */
export async function problemCode(res) {
  try {
    const code = (await res.clone().json()).code;
    return typeof code == 'string' ? code : null;
  } catch {
    return null;
  }
}
