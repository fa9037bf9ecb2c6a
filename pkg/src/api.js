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
/** The largest JWKS document fetched unless told otherwise, in bytes. */
const DEFAULT_MAX_JWKS_BYTES = 64 * 1024;
/** The largest revocation feed fetched, in bytes: the core's MAX_REVOCATIONS_LEN (1 MiB). */
const MAX_REVOCATIONS_BYTES = 1024 * 1024;
/** Hosts a JWKS may be fetched from over plain http (local tests). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** How old a gate assertion may be unless told otherwise, in seconds. */
const DEFAULT_ASSERTION_MAX_AGE = 60;

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

function optionalPositive(value, name) {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

/**
 * A URL the package may fetch keys or the revocation feed from (`what`
 * names it in errors): https, or http to a loopback host.
 */
function secureUrl(url, what) {
  let parsed;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError(`the ${what} is not a URL`);
  }
  const secure = parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname));
  if (!secure || parsed.username !== '' || parsed.password !== '') {
    throw new TypeError(`the ${what} must be https (http only to 127.0.0.1, localhost or [::1])`);
  }
  return parsed.href;
}

/**
 * GETs `url` with `fetchImpl` and answers its body's text and its
 * Cache-Control header ('' if none). Redirects are refused, the fetch is
 * aborted after `timeout` ms, only a 200 answer counts, and a body larger
 * than `maxBytes` is refused. `what` names the document in errors.
 */
async function fetchDocument(fetchImpl, url, { accept, timeout, maxBytes, what }) {
  const failed = (why) => new Error(`@edgeauth/verify: fetching ${what} at ${url} failed: ${why}`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(failed(`no answer within ${timeout} ms`)), timeout);
  try {
    const response = await fetchImpl(url, {
      headers: { accept },
      redirect: 'manual',
      signal: controller.signal,
    });
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel?.();
      throw failed('redirects are not followed');
    }
    if (response.status !== 200) {
      await response.body?.cancel?.();
      throw failed(`HTTP ${response.status}`);
    }
    const text = await cappedText(response, maxBytes, what);
    const cacheControl = response.headers?.get?.('cache-control') ?? '';
    return { text, cacheControl };
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/** A response body as text, refused past `cap` bytes (declared or read). */
async function cappedText(response, cap, what) {
  const tooLarge = () => new Error(`@edgeauth/verify: ${what} is larger than ${cap} bytes`);
  if (Number(response.headers?.get?.('content-length')) > cap) {
    await response.body?.cancel?.();
    throw tooLarge();
  }
  const reader = response.body?.getReader?.();
  if (reader === undefined) {
    const text = await response.text();
    if (new TextEncoder().encode(text).length > cap) throw tooLarge();
    return text;
  }
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The JWKS of a verifier made by Verifier.fromJwksUrl: the fetch and the
 * fetch under way. When to fetch, how long a fetch may take and how long
 * keys are trusted without a successful refetch are the core's schedule
 * (wasm.KeyRefresh, the edge gate's too), in milliseconds.
 */
class JwksSource {
  constructor(url, fetchImpl, { fetchTimeout, maxStaleness, maxJwksBytes = DEFAULT_MAX_JWKS_BYTES }) {
    this.url = secureUrl(url, 'JWKS URL');
    this.fetch = fetchImpl;
    const staleness = optionalPositive(maxStaleness, 'maxStaleness');
    this.schedule = new wasm.KeyRefresh(
      optionalPositive(fetchTimeout, 'fetchTimeout'),
      staleness === undefined ? undefined : staleness * 1000,
    );
    this.maxBytes = optionalPositive(maxJwksBytes, 'maxJwksBytes');
    this.pending = null;
  }

  /**
   * Fetches the document: its text and its Cache-Control header ('' if
   * none). Redirects are refused, the fetch is aborted after the
   * schedule's timeout, and a document larger than the cap is refused.
   */
  load() {
    return fetchDocument(this.fetch, this.url, {
      accept: 'application/json',
      timeout: this.schedule.fetchTimeoutMs,
      maxBytes: this.maxBytes,
      what: 'the JWKS',
    });
  }

  /** What the schedule says to do at `now` (seconds), given what prompted it. */
  plan(now, unknownKey) {
    return this.schedule.plan(unknownKey, now * 1000);
  }

  /** Whether the keys may be trusted at `now` (seconds): fetched within the staleness bound. */
  usable(now) {
    return this.schedule.usable(now * 1000);
  }
}

/**
 * The revocation feed of a verifier made by Verifier.fromJwksUrl with
 * `revocationsUrl`: the URL, the core's feed and schedule
 * (wasm.RevocationFeed: the last good feed, at most one fetch per max-age,
 * the staleness bound; the edge gate's too) and the fetch under way.
 */
class RevocationsSource {
  constructor(url, fetchImpl, { fetchTimeout, maxStaleness }) {
    this.url = secureUrl(url, 'revocations URL');
    this.fetch = fetchImpl;
    const staleness = optionalPositive(maxStaleness, 'revocationsMaxStaleness');
    this.feed = new wasm.RevocationFeed(
      optionalPositive(fetchTimeout, 'fetchTimeout'),
      staleness === undefined ? undefined : staleness * 1000,
    );
    this.pending = null;
    /** How many feeds were taken: a cached token checked against feed N need not be checked again until N changes. */
    this.taken = 0;
  }

  load() {
    return fetchDocument(this.fetch, this.url, {
      accept: 'application/revocations+jwt',
      timeout: this.feed.fetchTimeoutMs,
      maxBytes: MAX_REVOCATIONS_BYTES,
      what: 'the revocation feed',
    });
  }
}

/** Checks edgeauth access tokens against a key set, an issuer and an audience. */
export class Verifier {
  #inner;
  #cache = new Map();
  #cacheSize;
  #clock;
  /** What verifyRevocable asks: `isRevoked` and, with a feed, the feed. */
  #isRevoked;
  /** The caller's `isRevoked` alone (asked on every cache hit). */
  #ownIsRevoked;
  #source = null;
  #revocations = null;

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
    this.#ownIsRevoked = isRevoked;
  }

  /**
   * Fetches the JWKS at `url` (https; http only to a loopback host) and
   * makes a verifier with it. The verifier refetches the document when a
   * token names an unknown `kid` (at most once a minute) and when the
   * response's Cache-Control lifetime has passed (the core's schedule:
   * s-maxage, else max-age, within 1 min..1 h, `no-store`/`no-cache` 1 min;
   * 5 min without one). Keys not refreshed for `maxStaleness` seconds are
   * no longer trusted (`jwks_unavailable`) until a refetch succeeds.
   * `options` are the constructor's without `jwks`, plus `fetch`,
   * `fetchTimeout` (ms, default 10000), `maxJwksBytes` (default 65536) and
   * `maxStaleness` (seconds, default 86400).
   *
   * With `revocationsUrl` (the server's /.well-known/revocations; https,
   * or http to a loopback host) the verifier also fetches the signed
   * revocation feed and refuses tokens of the sessions it lists with
   * `revoked`: at most once per the feed's max-age (within 1..60 s), one
   * fetch shared by every caller, redirects refused, at most 1 MiB, the
   * fetch given `fetchTimeout` (default 5000 ms for the feed). A feed that
   * fails verification (signature, `typ`, issuer, unknown key, expired) or
   * is older than the last good one never replaces it. When the last good
   * feed is older than `revocationsMaxStaleness` (seconds, default 60), or
   * none was ever fetched, verify() throws `revocations_unavailable`
   * (status 503) until a fetch succeeds; verifyAsync() waits for a due
   * refresh first. The first feed is fetched before this resolves; its
   * failure does not reject (the verifier fails closed instead).
   */
  static async fromJwksUrl(url, options = {}) {
    const {
      fetch: fetchImpl = globalThis.fetch,
      fetchTimeout,
      maxJwksBytes,
      maxStaleness,
      revocationsUrl,
      revocationsMaxStaleness,
      ...rest
    } = options;
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch() available; pass options.fetch');
    const source = new JwksSource(url, fetchImpl, { fetchTimeout, maxJwksBytes, maxStaleness });
    const revocations =
      revocationsUrl === undefined || revocationsUrl === null
        ? null
        : new RevocationsSource(revocationsUrl, fetchImpl, { fetchTimeout, maxStaleness: revocationsMaxStaleness });
    const { text, cacheControl } = await source.load();
    const verifier = new Verifier({ ...rest, jwks: text });
    const now = verifier.#clock();
    const nowMs = now * 1000;
    source.schedule.succeeded(source.schedule.started(nowMs), nowMs, cacheControl);
    verifier.#source = source;
    if (revocations !== null) {
      const own = verifier.#isRevoked;
      verifier.#isRevoked = own === null
        ? (sid) => revocations.feed.revoked(sid)
        : (sid) => revocations.feed.revoked(sid) || own(sid);
      verifier.#revocations = revocations;
      const begun = revocations.feed.begin(now * 1000); // a first fetch: always a ticket
      if (begun >= 0) await verifier.#fetchRevocations(begun, now);
    }
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
    const revocations = this.#revocations;
    if (revocations !== null) {
      // A ticket: a fetch is due and started; -1: the feed may be relied on.
      const begun = revocations.feed.begin(now * 1000);
      if (begun >= 0) this.#fetchRevocations(begun, now);
      if (begun < -1 || (begun >= 0 && !revocations.feed.usable(now * 1000))) {
        throw new VerifyError(
          'revocations_unavailable',
          'the revocation feed could not be refreshed within revocationsMaxStaleness',
          503,
        );
      }
    }
    const source = this.#source;
    if (source !== null) {
      if (!source.usable(now)) {
        if (source.plan(now, true) === PLAN_START) this.#refresh(now);
        throw new VerifyError(
          'jwks_unavailable',
          'the signing keys could not be refreshed within maxStaleness',
          503,
        );
      }
      if (source.plan(now, false) === PLAN_START) this.#refresh(now);
    }
    if (this.#cacheSize === 0) return this.#verify(token, now);

    const key = wasm.tokenDigest(token);
    const hit = this.#cache.get(key);
    if (
      hit !== undefined &&
      now >= hit.from &&
      now < hit.until && // the core's reuse window, from #remember
      this.#notRevoked(hit)
    ) {
      return hit.claims;
    }
    const claims = this.#verify(token, now);
    this.#remember(key, claims);
    return claims;
  }

  /**
   * Like verify(), but for a verifier from fromJwksUrl(): when the token
   * names an unknown key, or the keys are past `maxStaleness`, it waits
   * for a JWKS refetch (starting one if the schedule allows, or joining
   * the one under way) and tries once more. A token whose key is held
   * never waits for keys, even while a refetch is under way. With
   * `revocationsUrl`, it first waits for a due refresh of the revocation
   * feed (or the one under way), so a revocation made max-age ago shows.
   */
  async verifyAsync(token, now = this.#clock()) {
    const revocations = this.#revocations;
    if (revocations !== null) {
      // A due refresh of the revocation feed (or one under way): wait for it.
      const begun = revocations.feed.begin(now * 1000);
      await (begun >= 0 ? this.#fetchRevocations(begun, now) : revocations.pending);
    }
    try {
      return this.verify(token, now);
    } catch (error) {
      const needsKeys = error instanceof VerifyError && (error.code === 'unknown_key' || error.code === 'jwks_unavailable');
      const source = this.#source;
      if (!needsKeys || source === null) throw error;
      const plan = source.plan(now, true);
      if (plan === PLAN_START) await this.#refresh(now);
      else if (plan === PLAN_WAIT && source.pending !== null) await source.pending;
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

  /**
   * Whether a remembered token's session is still not revoked: asked of
   * the feed once per feed taken (a feed's list never changes), of the
   * caller's `isRevoked` every time.
   */
  #notRevoked(hit) {
    const revocations = this.#revocations;
    if (revocations !== null && hit.feed !== revocations.taken) {
      if (revocations.feed.revoked(hit.claims.sid)) return false;
      hit.feed = revocations.taken;
    }
    return this.#ownIsRevoked === null || !this.#ownIsRevoked(hit.claims.sid);
  }

  /** Caches a success for the core's reuse window of its claims. */
  #remember(key, claims) {
    if (this.#cache.size >= this.#cacheSize) {
      // Oldest first: a Map iterates in insertion order.
      this.#cache.delete(this.#cache.keys().next().value);
    }
    const [from, until] = this.#inner.reuseWindow(claims.iat, claims.nbf, claims.exp);
    // Verified just now against the feed in force, if any.
    this.#cache.set(key, { claims, from, until, feed: this.#revocations?.taken });
  }

  /**
   * Fetches the revocation feed for the fetch `ticket` that the core's
   * schedule started at `now` (seconds); resolves when it has ended. The
   * feed is taken only if the core accepts it; else the last good one
   * stays, and a feed signed with a key not held prompts a JWKS refetch
   * (on its schedule).
   */
  #fetchRevocations(ticket, now) {
    const revocations = this.#revocations;
    const pending = revocations
      .load()
      .then(
        ({ text, cacheControl }) => {
          try {
            if (this.#inner.acceptRevocations(revocations.feed, ticket, text, now * 1000, cacheControl)) {
              revocations.taken += 1;
            }
          } catch (error) {
            const source = this.#source;
            if (String(error).startsWith('unknown_key:') && source !== null && source.plan(now, true) === PLAN_START) {
              return this.#refresh(now);
            }
          }
          return undefined;
        },
        () => revocations.feed.failed(ticket),
      )
      .finally(() => {
        if (revocations.pending === pending) revocations.pending = null;
      });
    revocations.pending = pending;
    return pending;
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

/** Parsed gate public keys, by the text they were given as (a handful at most). */
const gateKeys = new Map();

function gateKeysFor(publicKey) {
  const list = typeof publicKey === 'string' ? [publicKey] : publicKey;
  if (!Array.isArray(list) || list.length === 0 || !list.every((k) => typeof k === 'string')) {
    throw new TypeError('publicKey must be a string or a non-empty array of strings');
  }
  const id = list.join(',');
  let keys = gateKeys.get(id);
  if (keys === undefined) {
    try {
      keys = new wasm.GateKeys(list);
    } catch (error) {
      rethrow(error);
    }
    if (gateKeys.size >= 16) gateKeys.clear();
    gateKeys.set(id, keys);
  }
  return keys;
}

/**
 * Checks the edge gate's X-Edgeauth-Assertion header at the origin and
 * returns what the gate asserted: `{iat, method, target}` and, on
 * protected routes, `sub`, `sid` and `roles` (a frozen object). `options`:
 * `publicKey` (the gate's public key, base64url, or several during a
 * rollover), `method` and `target` (this request's method and request
 * target, path and query exactly as received, e.g. Node's `req.url`),
 * `maxAge` (seconds, default 60) and `now` (seconds, default the clock).
 * Throws a VerifyError: `assertion_missing`, `assertion_malformed`,
 * `assertion_bad_signature`, `assertion_expired`, `assertion_mismatch`
 * (status 403), or `invalid_assertion_key`.
 */
export function verifyGateAssertion(assertion, options) {
  assertReady();
  const { publicKey, method, target, maxAge = DEFAULT_ASSERTION_MAX_AGE, now = systemClock() } = options ?? {};
  const keys = gateKeysFor(publicKey);
  expectString(method, 'method');
  expectString(target, 'target');
  expectSeconds(maxAge, 'maxAge');
  expectSeconds(now, 'now');
  if (assertion !== undefined && assertion !== null) expectString(assertion, 'assertion');
  try {
    return freezeClaims(JSON.parse(keys.verify(assertion ?? '', method, target, now, maxAge)));
  } catch (error) {
    rethrow(error);
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
