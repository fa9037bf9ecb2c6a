// Types of @edgeauth/verify (both entry points: Node and web/bundlers).

/** The claims of a verified edgeauth access token (the repository's docs/tokens.md). */
export interface Claims {
  /** Issuer URL. */
  readonly iss: string;
  /** Audiences; a single string `aud` becomes one element. */
  readonly aud: readonly string[];
  /** User id. */
  readonly sub: string;
  /** Session id (the refresh-token family). */
  readonly sid: string;
  /** Unique token id. */
  readonly jti: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Not before, seconds since the epoch. */
  readonly nbf: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
  /** Effective roles. */
  readonly roles: readonly string[];
  /** Effective permissions, `resource.action`, with `*` wildcards. */
  readonly perms: readonly string[];
  /** Tenant or organization id, when the token has one. */
  readonly tid?: string;
  /** Authentication methods (`pwd`, `otp`, `oauth`), when the token has them. */
  readonly amr?: readonly string[];
}

/** The roles and permissions that authorization looks at. */
export interface Grants {
  readonly roles: readonly string[];
  readonly perms: readonly string[];
}

/** A JSON Web Key Set: `{"keys": [...]}`. */
export interface Jwks {
  keys: ReadonlyArray<Record<string, unknown>>;
}

export interface VerifierOptions {
  /** The trusted keys: a JWKS object or its JSON text. */
  jwks: Jwks | string;
  /** The expected `iss`. */
  issuer: string;
  /** The audience this service is (one of the token's `aud` values). */
  audience: string;
  /** Clock-skew leeway for `exp`, `nbf` and `iat`, in seconds. Default 30. */
  leeway?: number;
  /** Whether the header `typ` must be `at+jwt` (RFC 9068). Default true. */
  requireType?: boolean;
  /** How many verified tokens to remember (keyed by hash). Default 1024; 0 disables the cache. */
  cacheSize?: number;
  /** Refuse tokens of revoked sessions (`revoked`): return true for a revoked session id. */
  isRevoked?: ((sid: string) => boolean) | null;
  /** Seconds since the epoch; the default `now` (and the JWKS refetch clock). For tests. */
  clock?: () => number;
}

export interface JwksUrlOptions extends Omit<VerifierOptions, 'jwks'> {
  /** The fetch implementation; default `globalThis.fetch`. It is called with `redirect: 'manual'` and an abort `signal`. */
  fetch?: (
    url: string,
    init?: { headers?: Record<string, string>; redirect?: 'manual'; signal?: AbortSignal },
  ) => Promise<Response>;
  /**
   * Milliseconds after which a JWKS (or revocation feed) fetch is aborted.
   * Default 10000 for the JWKS, 5000 for the feed (the gate's).
   */
  fetchTimeout?: number;
  /** The largest JWKS document accepted, in bytes. Default 65536. */
  maxJwksBytes?: number;
  /**
   * Seconds after the last successful JWKS fetch at which its keys stop
   * being trusted (`jwks_unavailable`) until a refetch succeeds. Default
   * 86400 (the gate's `EDGEAUTH_JWKS_MAX_STALENESS`).
   */
  maxStaleness?: number;
  /**
   * The server's signed revocation feed (`/.well-known/revocations`;
   * https, or http to a loopback host): tokens of the sessions it lists
   * are refused with `revoked`. Fetched at most once per its max-age
   * (1..60 s), one fetch shared, no redirects, at most 1 MiB; a feed that
   * fails verification or is older than the last good one never replaces
   * it. Default: none (no revocation is checked).
   */
  revocationsUrl?: string | URL;
  /**
   * Seconds after the last good feed fetch at which verify() throws
   * `revocations_unavailable` (status 503) until a fetch succeeds. Default
   * 60 (the gate's `EDGEAUTH_REVOCATIONS_MAX_STALENESS`).
   */
  revocationsMaxStaleness?: number;
}

/** What `authorize` requires; every list is optional. */
export interface Requirement {
  /** At least one of these roles. */
  anyRoles?: readonly string[];
  /** Every one of these roles. */
  allRoles?: readonly string[];
  /** Every one of these permissions (`resource.action`). */
  perms?: readonly string[];
}

/** The core's error codes (the repository's docs/codes.md). */
export type VerifyErrorCode =
  | 'token_too_large'
  | 'malformed'
  | 'unsupported_alg'
  | 'wrong_type'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'revoked'
  | 'missing_token'
  | 'route_denied'
  | 'insufficient_role'
  | 'insufficient_permission'
  | 'invalid_jwks'
  | 'invalid_policy'
  | 'jwks_unavailable'
  | 'revocations_unavailable'
  | 'assertion_missing'
  | 'assertion_malformed'
  | 'assertion_bad_signature'
  | 'assertion_expired'
  | 'assertion_mismatch'
  | 'invalid_assertion_key';

/** A token, authorization or configuration failure, with the core's code. */
export class VerifyError extends Error {
  readonly name: 'VerifyError';
  /** The core's stable code. */
  readonly code: VerifyErrorCode;
  /**
   * The HTTP status to answer with, when there is one: 401 or 403 for
   * token, access and assertion failures, 503 for `jwks_unavailable` and
   * `revocations_unavailable`.
   */
  readonly status?: 401 | 403 | 503;
  constructor(code: VerifyErrorCode, message?: string, status?: 401 | 403 | 503);
}

/** Checks edgeauth access tokens against a key set, an issuer and an audience. */
export class Verifier {
  /** Throws VerifyError `invalid_jwks` for a bad key set, TypeError for bad options. */
  constructor(options: VerifierOptions);
  /**
   * Fetches the JWKS (https; http only to 127.0.0.1, localhost or [::1];
   * no redirects; at most `maxJwksBytes`) and makes a verifier that
   * refetches it on an unknown `kid` (at most once a minute) and after its
   * Cache-Control lifetime (s-maxage, else max-age, within 1 min..1 h;
   * `no-store`/`no-cache` 1 min; 5 min without one). Throws TypeError for a
   * URL it refuses. With `revocationsUrl`, the first feed is fetched
   * before it resolves (a failure does not reject: verify() fails closed).
   */
  static fromJwksUrl(url: string | URL, options: JwksUrlOptions): Promise<Verifier>;
  /**
   * Verifies a token at `now` (seconds since the epoch; default the current
   * time). A fromJwksUrl verifier whose keys are past `maxStaleness` throws
   * `jwks_unavailable` (status 503); one whose revocation feed is past
   * `revocationsMaxStaleness` (or never fetched) throws
   * `revocations_unavailable` (status 503). It uses the last good feed and
   * starts a due refresh in the background.
   */
  verify(token: string, now?: number): Claims;
  /**
   * Like verify(); waits for a JWKS refetch only when the token's `kid` is
   * unknown or the keys are past `maxStaleness` (fromJwksUrl verifiers),
   * never for a known `kid`. With `revocationsUrl`, it first waits for a
   * due refresh of the feed (or the one under way).
   */
  verifyAsync(token: string, now?: number): Promise<Claims>;
  /** Throws VerifyError `insufficient_role` / `insufficient_permission` unless `claims` meet `requirement`. */
  authorize(claims: Grants, requirement?: Requirement): void;
  /** Replaces the trusted keys and empties the cache. */
  setJwks(jwks: Jwks | string): void;
  /** The ids of the trusted keys, in JWKS order. */
  kids(): string[];
}

/** Throws VerifyError `insufficient_role` / `insufficient_permission` unless `claims` meet `requirement`. */
export function authorize(claims: Grants, requirement?: Requirement): void;

/** What the edge gate asserted about a request it forwarded. */
export interface GateAssertion {
  /** When the gate signed it, in seconds since the epoch. */
  readonly iat: number;
  /** The request's method. */
  readonly method: string;
  /** The request target (path and query) the gate sent to the origin. */
  readonly target: string;
  /** The verified user id; absent on public routes. */
  readonly sub?: string;
  /** The verified session id; absent on public routes. */
  readonly sid?: string;
  /** The verified roles; absent on public routes. */
  readonly roles?: readonly string[];
}

export interface GateAssertionOptions {
  /** The gate's public key (32 bytes, base64url), or several during a key rollover. */
  publicKey: string | readonly string[];
  /** This request's method, as received. */
  method: string;
  /** This request's target, path and query exactly as received (Node's `req.url`). */
  target: string;
  /** How far the signing time may be from now, in seconds (either way). Default 60. */
  maxAge?: number;
  /** Seconds since the epoch; default the current time. */
  now?: number;
}

/**
 * Checks the edge gate's `X-Edgeauth-Assertion` header (pass the header's
 * value, or undefined when absent). Throws VerifyError
 * `assertion_missing`, `assertion_malformed`, `assertion_bad_signature`,
 * `assertion_expired`, `assertion_mismatch` (status 403) or
 * `invalid_assertion_key`.
 */
export function verifyGateAssertion(
  assertion: string | null | undefined,
  options: GateAssertionOptions,
): GateAssertion;

/** A route rule (the repository's docs/tokens.md, "Route rules"). */
export interface RouteRule {
  methods?: readonly string[];
  path: string;
  public?: boolean;
  require?: { any_roles?: readonly string[]; all_roles?: readonly string[]; perms?: readonly string[] };
}

/** Route rules with what happens to unmatched requests and how paths are compared. */
export interface RouteRules {
  rules: readonly RouteRule[];
  /** What a request no rule matches gets (default `deny`). */
  default?: 'deny' | 'authenticated' | 'allow';
  /**
   * Compare paths without regard to ASCII case (default false: exact, and a
   * case variant that ignoring case would route elsewhere is `route_denied`).
   */
  case_insensitive?: boolean;
  /** Let `;` path parameters through, ignored by matching (default false: denied). */
  allow_params?: boolean;
}

/** An allowed request. */
export interface Routed {
  /** The canonical request path the rules matched (no query): pass this one on. */
  path: string;
}

/** Ordered route rules: the first rule that matches a request decides. */
export class RoutePolicy {
  /** Throws VerifyError `invalid_policy` for bad rules. */
  constructor(rules: string | readonly RouteRule[] | RouteRules);
  /**
   * Returns the canonical path when the request may pass; throws VerifyError
   * `route_denied` (also for a path with no canonical form), `missing_token`,
   * `insufficient_role` or `insufficient_permission`.
   */
  route(method: string, path: string, claims?: Grants | null): Routed;
  /** Like route(), returning nothing. */
  check(method: string, path: string, claims?: Grants | null): void;
}

/**
 * Loads the WebAssembly module; await it once before using the package in
 * browsers (in Node >= 20.16 it resolves at once). Optionally where to load it from.
 */
export function init(
  moduleOrPath?: string | URL | Request | Response | BufferSource | WebAssembly.Module,
): Promise<void>;
