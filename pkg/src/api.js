// The JavaScript API of @edgeauth/verify over the wasm bindings
// (crates/edgeauth-wasm). Every decision about a token, a role or a route is
// the Rust core's, and so are how long a verified token may be reused and
// when to refetch the JWKS; this file converts arguments, turns the core's
// errors into VerifyError, stores verified tokens and fetches JWKS documents.

import * as wasm from '../dist/edgeauth_wasm.js';

/** The core's default clock-skew leeway, in seconds. */
const DEFAULT_LEEWAY = 30;
/** How many verified tokens a verifier remembers unless told otherwise. */
const DEFAULT_CACHE_SIZE = 1024;
/** What wasm.KeyRefresh.plan() answers. */
const PLAN_START = 1;
const PLAN_WAIT = 2;

let ready = false;

/** Called by the entry points once the WebAssembly module is instantiated. */
export function markReady() {
  ready = true;
}

function assertReady() {
  if (!ready) {
    throw new Error('@edgeauth/verify: call and await init() before using the package');
  }
}

/** The one place that reads the wall clock: seconds since the epoch. */
function systemClock() {
  return Math.floor(Date.now() / 1000);
}

/**
 * A token, authorization or configuration failure. `code` is the core's
 * stable code (the repository's docs/codes.md): `expired`, `bad_signature`,
 * `insufficient_role`, `route_denied`, `invalid_jwks`, ...; `status` is the
 * HTTP status a server answers with (401 or 403) when there is one.
 */
export class VerifyError extends Error {
  constructor(code, message = code, status = undefined) {
    super(message);
    this.name = 'VerifyError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/** Turns a failure thrown by the bindings (`code:status:message`) into a VerifyError. */
function rethrow(error) {
  if (typeof error !== 'string') throw error;
  const a = error.indexOf(':');
  const b = error.indexOf(':', a + 1);
  const status = Number(error.slice(a + 1, b));
  throw new VerifyError(error.slice(0, a), error.slice(b + 1), status > 0 ? status : undefined);
}

function expectString(value, name) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}

function expectSeconds(value, name) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative integer number of seconds`);
  }
  return value;
}

function expectStrings(value, name) {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TypeError(`${name} must be an array of strings`);
  }
  return value;
}

function jsonText(value, name) {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  throw new TypeError(`${name} must be an object or its JSON text`);
}

/** The roles and permissions of a claims object, checked. */
function grantsOf(claims) {
  if (claims === null || typeof claims !== 'object') {
    throw new TypeError('claims must be the object returned by verify()');
  }
  return [expectStrings(claims.roles, 'claims.roles'), expectStrings(claims.perms, 'claims.perms')];
}

function freezeClaims(claims) {
  for (const value of Object.values(claims)) {
    if (Array.isArray(value)) Object.freeze(value);
  }
  return Object.freeze(claims);
}

/**
 * The JWKS of a verifier made by Verifier.fromJwksUrl: the fetch and the
 * fetch under way. When to fetch is the core's schedule (wasm.KeyRefresh,
 * the edge gate's too), in milliseconds.
 */
class JwksSource {
  constructor(url, fetchImpl) {
    this.url = String(url);
    this.fetch = fetchImpl;
    this.schedule = new wasm.KeyRefresh();
    this.pending = null;
  }

  /** Fetches the document: its text and its Cache-Control header ('' if none). */
  async load() {
    const response = await this.fetch(this.url, { headers: { accept: 'application/json' } });
    if (!response.ok) {
      throw new Error(`@edgeauth/verify: fetching the JWKS at ${this.url} failed: HTTP ${response.status}`);
    }
    const text = await response.text();
    const cacheControl = response.headers?.get?.('cache-control') ?? '';
    return { text, cacheControl };
  }

  /** What the schedule says to do at `now` (seconds), given what prompted it. */
  plan(now, unknownKey) {
    return this.schedule.plan(unknownKey, now * 1000);
  }
}

/** Checks edgeauth access tokens against a key set, an issuer and an audience. */
export class Verifier {
  #inner;
  #cache = new Map();
  #cacheSize;
  #clock;
  #isRevoked;
  #source = null;

  /**
   * @param {object} options `jwks` (object or JSON text), `issuer`,
   *   `audience`, and optionally `leeway` (seconds, default 30),
   *   `requireType` (default true), `cacheSize` (default 1024, 0 disables
   *   the cache), `isRevoked` ((sid) => boolean: refuse tokens of revoked
   *   sessions with `revoked`) and `clock` (() => seconds; for tests).
   */
  constructor(options) {
    assertReady();
    const {
      jwks,
      issuer,
      audience,
      leeway = DEFAULT_LEEWAY,
      requireType = true,
      cacheSize = DEFAULT_CACHE_SIZE,
      clock = systemClock,
      isRevoked = null,
    } = options ?? {};
    expectString(issuer, 'issuer');
    expectString(audience, 'audience');
    if (expectSeconds(leeway, 'leeway') > 0xffffffff) throw new TypeError('leeway is too large');
    if (typeof requireType !== 'boolean') throw new TypeError('requireType must be a boolean');
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
      throw new TypeError('cacheSize must be a non-negative integer');
    }
    if (typeof clock !== 'function') throw new TypeError('clock must be a function');
    if (isRevoked !== null && typeof isRevoked !== 'function') {
      throw new TypeError('isRevoked must be a function');
    }
    try {
      this.#inner = new wasm.Verifier(jsonText(jwks, 'jwks'), issuer, audience, leeway, requireType);
    } catch (error) {
      rethrow(error);
    }
    this.#cacheSize = cacheSize;
    this.#clock = clock;
    this.#isRevoked = isRevoked;
  }

  /**
   * Fetches the JWKS at `url` and makes a verifier with it. The verifier
   * refetches the document when a token names an unknown `kid` (at most
   * once a minute) and when the response's Cache-Control lifetime has passed
   * (the core's schedule: s-maxage, else max-age, within 1 min..1 h; 5 min
   * without one).
   * `options` are the constructor's without `jwks`, plus `fetch`.
   */
  static async fromJwksUrl(url, options = {}) {
    const { fetch: fetchImpl = globalThis.fetch, ...rest } = options;
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch() available; pass options.fetch');
    const source = new JwksSource(url, fetchImpl);
    const { text, cacheControl } = await source.load();
    const verifier = new Verifier({ ...rest, jwks: text });
    const nowMs = verifier.#clock() * 1000;
    source.schedule.succeeded(source.schedule.started(nowMs), nowMs, cacheControl);
    verifier.#source = source;
    return verifier;
  }

  /** Replaces the trusted keys (a JWKS object or its JSON text) and empties the cache. */
  setJwks(jwks) {
    try {
      this.#inner.setJwks(jsonText(jwks, 'jwks'));
    } catch (error) {
      rethrow(error);
    }
    this.#cache.clear();
  }

  /** The ids of the trusted keys, in JWKS order. */
  kids() {
    return this.#inner.kids();
  }

  /**
   * Verifies `token` at `now` (seconds since the epoch, default the current
   * time) and returns its claims as a frozen plain object. Throws a
   * VerifyError with the core's code when the token is not good.
   */
  verify(token, now = this.#clock()) {
    expectString(token, 'token');
    expectSeconds(now, 'now');
    if (this.#source !== null && this.#source.plan(now, false) === PLAN_START) this.#refresh(now);
    if (this.#cacheSize === 0) return this.#verify(token, now);

    const key = wasm.tokenDigest(token);
    const hit = this.#cache.get(key);
    if (
      hit !== undefined &&
      now >= hit.from &&
      now < hit.until && // the core's reuse window, from #remember
      (this.#isRevoked === null || !this.#isRevoked(hit.claims.sid))
    ) {
      return hit.claims;
    }
    const claims = this.#verify(token, now);
    this.#remember(key, claims);
    return claims;
  }

  /**
   * Like verify(), but for a verifier from fromJwksUrl(): waits for a JWKS
   * refetch under way, and when the token names an unknown key and a
   * refetch is allowed, refetches and tries once more.
   */
  async verifyAsync(token, now = this.#clock()) {
    if (this.#source?.pending) await this.#source.pending;
    try {
      return this.verify(token, now);
    } catch (error) {
      if (!(error instanceof VerifyError) || error.code !== 'unknown_key' || this.#source === null) {
        throw error;
      }
      const plan = this.#source.plan(now, true);
      if (plan === PLAN_START) await this.#refresh(now);
      else if (plan === PLAN_WAIT && this.#source.pending !== null) await this.#source.pending;
      else throw error;
      return this.verify(token, now);
    }
  }

  /**
   * Checks verified claims against a requirement: any of `anyRoles`, all of
   * `allRoles`, every one of `perms` (with `*` wildcards). Throws a
   * VerifyError `insufficient_role` or `insufficient_permission`.
   */
  authorize(claims, requirement = {}) {
    authorize(claims, requirement);
  }

  #verify(token, now) {
    let json;
    try {
      json =
        this.#isRevoked === null
          ? this.#inner.verify(token, now)
          : this.#inner.verifyRevocable(token, now, this.#isRevoked);
    } catch (error) {
      if (
        this.#source !== null &&
        error.startsWith?.('unknown_key:') &&
        this.#source.plan(now, true) === PLAN_START
      ) {
        this.#refresh(now);
      }
      rethrow(error);
    }
    return freezeClaims(JSON.parse(json));
  }

  /** Caches a success for the core's reuse window of its claims. */
  #remember(key, claims) {
    if (this.#cache.size >= this.#cacheSize) {
      // Oldest first: a Map iterates in insertion order.
      this.#cache.delete(this.#cache.keys().next().value);
    }
    const [from, until] = this.#inner.reuseWindow(claims.iat, claims.nbf, claims.exp);
    this.#cache.set(key, { claims, from, until });
  }

  /** Starts a refetch of the JWKS; failures keep the current keys. */
  #refresh(now) {
    const source = this.#source;
    const nowMs = now * 1000;
    const ticket = source.schedule.started(nowMs);
    const pending = source
      .load()
      .then(({ text, cacheControl }) => {
        this.setJwks(text);
        source.schedule.succeeded(ticket, nowMs, cacheControl);
      })
      .catch(() => {
        source.schedule.failed(ticket);
      })
      .finally(() => {
        if (source.pending === pending) source.pending = null;
      });
    source.pending = pending;
    return pending;
  }
}

/**
 * Checks verified claims against a requirement: any of `anyRoles`, all of
 * `allRoles`, every one of `perms` (with `*` wildcards). Returns nothing, or
 * throws a VerifyError `insufficient_role` or `insufficient_permission`
 * (`invalid_policy` for an empty name or a misplaced `*`).
 */
export function authorize(claims, requirement = {}) {
  assertReady();
  const [roles, perms] = grantsOf(claims);
  const { anyRoles = [], allRoles = [], perms: required = [] } = requirement ?? {};
  try {
    wasm.authorize(
      roles,
      perms,
      expectStrings(anyRoles, 'anyRoles'),
      expectStrings(allRoles, 'allRoles'),
      expectStrings(required, 'perms'),
    );
  } catch (error) {
    rethrow(error);
  }
}

/**
 * Ordered route rules (the repository's docs/tokens.md): the first rule that matches a
 * request decides.
 */
export class RoutePolicy {
  #inner;

  /** @param rules the rules' JSON text, or the rules as an array or `{rules, default}` object. */
  constructor(rules) {
    assertReady();
    try {
      this.#inner = new wasm.RoutePolicy(jsonText(rules, 'rules'));
    } catch (error) {
      rethrow(error);
    }
  }

  /**
   * Decides a request: `claims` are its verified token's, or null/undefined
   * when it has none. Returns `{ path }` when allowed, `path` being the
   * canonical form of the request path (the query dropped) that the rules
   * matched: hand that, not the raw path, to the router behind. Throws a
   * VerifyError (`route_denied`, also for a path with no canonical form,
   * `missing_token`, `insufficient_role`, `insufficient_permission`)
   * otherwise.
   */
  route(method, path, claims = null) {
    expectString(method, 'method');
    expectString(path, 'path');
    const hasToken = claims !== null && claims !== undefined;
    const [roles, perms] = hasToken ? grantsOf(claims) : [[], []];
    try {
      return { path: this.#inner.route(method, path, hasToken, roles, perms) };
    } catch (error) {
      rethrow(error);
    }
  }

  /** Like route(), returning nothing when the request may pass. */
  check(method, path, claims = null) {
    this.route(method, path, claims);
  }
}
