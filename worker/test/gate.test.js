// The built edge gate in the real Workers runtime (workerd through
// `wrangler dev`, offline), in front of a local echo origin that also serves
// the JWKS. Run by scripts/test-worker.sh after worker/build.sh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomUUID, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { mint, startOrigin, startWrangler, gateVars, withKid, ISSUER, REPO_DIR, WORKER_DIR } from './harness.js';

const ROUTES = JSON.stringify([
  { path: '/public/**', public: true },
  { path: '/admin/**', require: { any_roles: ['admin'] } },
  { path: '/api/**', require: { perms: ['articles.read'] } },
  { methods: ['GET'], path: '/docs/**', public: true },
  { methods: ['GET'], path: '/reports/**', require: { any_roles: ['admin'] } },
  { path: '/account', require: { any_roles: ['admin'] } },
  // A catch-all for one method: any valid token. Spellings of /admin that
  // missed the rule above would land here (and an origin would still
  // resolve them to /admin/...).
  { methods: ['PATCH'], path: '/**', require: {} },
]);
// Header spellings and whether the gate forwards them (shared with the
// core's, the npm package's and the gate's native tests).
const HEADER_CASES = JSON.parse(
  readFileSync(join(REPO_DIR, 'tests', 'vectors', 'policy.json'), 'utf8'),
).forwarded_headers.cases;
/** A header name as origins may read it: lowercase, `_` and `.` as `-`. */
const canonical = (name) => name.toLowerCase().replace(/[_.]/g, '-');
const SUB = '5f0c6b8e-1d2a-4c3b-9e4f-a1b2c3d4e5f6';
const SID = '0b7d3c2a-9f8e-4d1c-8b7a-6e5f4d3c2b1a';
const REFETCH_INTERVAL_MS = 60_000;
const APP_ORIGIN = 'https://app.edgeauth.test';
/** The staleness bound of the `stale` gate, in seconds. */
const STALENESS = 3;

let fixtures;
let origin;
let gate;
let misconfigured;
let emptyList;
let keyless;
let probed;
let insecure;
let staleOrigin;
let stale;

before(async () => {
  fixtures = await mint();
  origin = await startOrigin({ jwks: fixtures.jwks_k1 });
  // A second origin with its own JWKS for the gate whose keys go stale, so
  // that the first one's JWKS fetches stay countable.
  staleOrigin = await startOrigin({ jwks: fixtures.jwks_k1 });
  const vars = gateVars({ origin: origin.url, jwksUrl: `${origin.url}/jwks.json`, routes: ROUTES });
  [gate, misconfigured, emptyList, keyless, probed, insecure, stale] = await Promise.all([
    // The gate signs an assertion, takes cookie-authenticated changes from
    // APP_ORIGIN only and (by default) keeps the client's credentials.
    startWrangler({
      name: 'gate',
      vars: { ...vars, EDGEAUTH_ASSERTION_KEY: fixtures.assertion_key, EDGEAUTH_ALLOWED_ORIGINS: `${APP_ORIGIN}/` },
    }),
    // A typo in the rules: the gate must say which setting, not crash.
    startWrangler({ name: 'misconfigured', vars: { ...vars, EDGEAUTH_ROUTES: '[{"path":"/**","requir":{}}]' } }),
    // An empty role list once admitted any token; now it is a bad setting.
    // Keys inline: it fetches nothing from the origin's JWKS, whose fetches are counted.
    startWrangler({
      name: 'empty-list',
      vars: gateVars({ origin: origin.url, jwks: fixtures.jwks_k1, routes: '[{"path":"/**","require":{"any_roles":[]}}]' }),
    }),
    // A JWKS URL that answers no key set.
    startWrangler({ name: 'keyless', vars: { ...vars, EDGEAUTH_JWKS_URL: `${origin.url}/not-a-jwks` } }),
    // The gate seen from inside its isolate (test/probe.js), keys inline,
    // with the access cookie renamed as a server operator may.
    startWrangler({
      name: 'probed',
      main: join(WORKER_DIR, 'test', 'probe.js'),
      vars: {
        ...gateVars({ origin: origin.url, jwks: fixtures.jwks_k1, routes: ROUTES }),
        EDGEAUTH_ACCESS_COOKIE: 'edgeauth_at',
        EDGEAUTH_FORWARD_CREDENTIALS: 'true',
      },
    }),
    // Keys over plain HTTP from a host that is not loopback.
    startWrangler({ name: 'insecure', vars: { ...vars, EDGEAUTH_JWKS_URL: 'http://jwks.edgeauth.test/jwks.json' } }),
    // Keys trusted for STALENESS seconds after the last successful fetch.
    startWrangler({
      name: 'stale',
      vars: {
        ...gateVars({ origin: staleOrigin.url, jwksUrl: `${staleOrigin.url}/jwks.json`, routes: ROUTES }),
        EDGEAUTH_JWKS_MAX_STALENESS: `${STALENESS}s`,
      },
    }),
  ]);
});

after(async () => {
  await Promise.all(
    [gate, misconfigured, emptyList, keyless, probed, insecure, stale].filter(Boolean).map((w) => w.stop()),
  );
  await origin?.close();
  await staleOrigin?.close();
});

const bearer = (token) => ({ authorization: `Bearer ${token}` });
const sessionCookie = (token) => ({ cookie: `theme=dark; edgeauth_session=${token}` });

/**
 * Checks an X-Edgeauth-Assertion as an origin would without the npm
 * package (tests/e2e checks it with the package): the fixed header, an
 * Ed25519 signature under the gate's public key, and the payload.
 */
function assertion(echo) {
  const value = echo.headers['x-edgeauth-assertion'];
  assert.ok(value, 'no assertion');
  const [header, payload, signature] = value.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url')), { alg: 'EdDSA', typ: 'edgeauth-assertion+jwt' });
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: fixtures.assertion_public_key }, format: 'jwk' });
  const signed = verifySignature(null, Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
  assert.ok(signed, 'the assertion does not verify');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  assert.equal(claims.method, echo.method);
  assert.equal(claims.target, echo.url);
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 60, `iat ${claims.iat}`);
  return claims;
}

async function problem(response, status, code) {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('content-type'), 'application/problem+json');
  const body = await response.json();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  return body;
}

let firstFetchAt;

test('an allowed request reaches the origin intact, with the identity headers', async () => {
  assert.equal(origin.state.jwksFetches, 0, 'nothing fetched before a protected request');
  firstFetchAt = Date.now();
  const response = await fetch(`${gate.url}/api/articles/7?b=2&a=%20x&a=1`, {
    method: 'POST',
    headers: { ...bearer(fixtures.tokens.valid), 'content-type': 'text/plain', 'x-custom': 'kept' },
    body: 'hello, origin',
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-origin'), 'echo');
  const echo = await response.json();
  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/api/articles/7?b=2&a=%20x&a=1');
  assert.equal(echo.body, 'hello, origin');
  assert.equal(echo.headers['x-custom'], 'kept');
  assert.equal(echo.headers['content-type'], 'text/plain');
  assert.equal(echo.headers.authorization, undefined, 'credentials are not forwarded by default');
  assert.equal(echo.headers['x-edgeauth-sub'], SUB);
  assert.equal(echo.headers['x-edgeauth-sid'], SID);
  assert.equal(echo.headers['x-edgeauth-roles'], 'editor,viewer');
  assert.deepEqual(assertion(echo), {
    iat: assertion(echo).iat,
    method: 'POST',
    target: '/api/articles/7?b=2&a=%20x&a=1',
    sub: SUB,
    sid: SID,
    roles: ['editor', 'viewer'],
  });
  assert.equal(origin.state.jwksFetches, 1, 'the key set is fetched once');
});

let staleFetchAt;

test('keys not refreshed within EDGEAUTH_JWKS_MAX_STALENESS: 503 jwks_unavailable, public routes pass', async () => {
  staleFetchAt = Date.now();
  let response = await fetch(`${stale.url}/api/x`, { headers: bearer(fixtures.tokens.valid) });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(staleOrigin.state.jwksFetches, 1);
  // The issuer goes down; the bound passes with no successful refetch.
  staleOrigin.state.jwksStatus = 500;
  const wait = staleFetchAt + STALENESS * 1000 + 500 - Date.now();
  if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  response = await fetch(`${stale.url}/api/x`, { headers: bearer(fixtures.tokens.valid) });
  const body = await problem(response, 503, 'jwks_unavailable');
  assert.equal(body.detail, 'the signing keys could not be fetched');
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // No token needs no key; a public route passes.
  await problem(await fetch(`${stale.url}/api/x`), 401, 'missing_token');
  const pub = await fetch(`${stale.url}/public/x`);
  assert.equal(pub.status, 200);
  await pub.body?.cancel();
});

test('cookie-authenticated unsafe methods need an allowed Origin or Referer; bearer tokens do not', async () => {
  const post = (headers) =>
    fetch(`${gate.url}/api/articles/1`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' });
  const cookie = sessionCookie(fixtures.tokens.valid);
  const refused = async (headers, why) => {
    const body = await problem(await post(headers), 403, 'csrf_rejected');
    assert.equal(body.type, 'urn:edgeauth:error:csrf_rejected', why);
  };
  const passed = async (headers, why) => {
    const response = await post(headers);
    assert.equal(response.status, 200, why);
    return response.json();
  };
  await refused(cookie, 'no Origin, no Referer');
  await refused({ ...cookie, origin: 'https://evil.edgeauth.test' }, 'another origin');
  await refused({ ...cookie, origin: 'null' }, 'an opaque origin');
  await refused({ ...cookie, origin: 'https://evil.edgeauth.test', referer: `${APP_ORIGIN}/page` }, 'Origin decides');
  await refused({ ...cookie, referer: 'https://app.edgeauth.test.evil.test/page' }, 'a look-alike Referer');
  await passed({ ...cookie, origin: APP_ORIGIN }, 'the allowed origin');
  await passed({ ...cookie, origin: 'HTTPS://APP.edgeauth.test' }, 'origins compare without case');
  const echo = await passed({ ...cookie, referer: `${APP_ORIGIN}/forms/edit?id=1` }, 'Referer fallback');
  assert.equal(echo.headers['x-edgeauth-sub'], SUB);
  // Bearer tokens are not sent by browsers on their own: no Origin needed.
  await passed({ ...bearer(fixtures.tokens.valid), origin: 'https://evil.edgeauth.test' }, 'bearer');
  // Safe methods pass with the cookie alone.
  const response = await fetch(`${gate.url}/api/articles/1`, { headers: cookie });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    const r = await fetch(`${gate.url}/api/articles/1`, { method, headers: cookie, body: 'x' });
    await problem(r, 403, 'csrf_rejected');
  }
});

test('credentials stay at the gate by default; EDGEAUTH_FORWARD_CREDENTIALS=true forwards them', async () => {
  let response = await fetch(`${gate.url}/api/me`, { headers: sessionCookie(fixtures.tokens.valid) });
  assert.equal(response.status, 200);
  let echo = await response.json();
  assert.equal(echo.headers.cookie, 'theme=dark', 'other cookies stay');
  response = await fetch(`${gate.url}/public/page`, {
    headers: { ...bearer(fixtures.tokens.valid), cookie: `edgeauth_session=${fixtures.tokens.valid}` },
  });
  echo = await response.json();
  assert.equal(echo.headers.authorization, undefined, 'not on public routes either');
  assert.equal(echo.headers.cookie, undefined);
  // Another scheme is not the gate's credential: it goes on.
  response = await fetch(`${gate.url}/public/page`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
  assert.equal((await response.json()).headers.authorization, 'Basic Zm9vOmJhcg==');

  response = await fetch(`${probed.url}/api/me`, {
    headers: { ...bearer(fixtures.tokens.valid), cookie: `a=1; edgeauth_at=${fixtures.tokens.admin}` },
  });
  echo = await response.json();
  assert.equal(echo.headers.authorization, `Bearer ${fixtures.tokens.valid}`);
  assert.equal(echo.headers.cookie, `a=1; edgeauth_at=${fixtures.tokens.admin}`);
  assert.equal(echo.headers['x-edgeauth-assertion'], undefined, 'no key, no assertion');
});

test('every forwarded request carries an assertion; a client-sent one never reaches the origin', async () => {
  const forged = 'eyJhbGciOiJFZERTQSIsInR5cCI6ImVkZ2VhdXRoLWFzc2VydGlvbitqd3QifQ.e30.AAAA';
  for (const name of ['X-Edgeauth-Assertion', 'x_edgeauth_assertion', 'X.Edgeauth.Assertion']) {
    let response = await fetch(`${gate.url}/public/a%20b?x=1`, { headers: { [name]: forged } });
    let echo = await response.json();
    assert.notEqual(echo.headers['x-edgeauth-assertion'], forged, name);
    assert.deepEqual(assertion(echo), { iat: assertion(echo).iat, method: 'GET', target: '/public/a%20b?x=1' });
    const spelled = Object.keys(echo.headers).filter((h) => canonical(h) === 'x-edgeauth-assertion');
    assert.deepEqual(spelled, ['x-edgeauth-assertion'], name);

    response = await fetch(`${gate.url}/admin/users?page=2`, {
      method: 'DELETE',
      headers: { ...bearer(fixtures.tokens.admin), [name]: forged },
    });
    echo = await response.json();
    const claims = assertion(echo);
    assert.equal(claims.method, 'DELETE');
    assert.equal(claims.target, '/admin/users?page=2');
    assert.deepEqual(claims.roles, ['admin']);
  }
});


test("the origin's redirects come back to the client, not followed", async () => {
  const response = await fetch(`${gate.url}/api/redirect-me`, { headers: bearer(fixtures.tokens.valid), redirect: 'manual' });
  assert.equal(response.status, 302);
  assert.equal(response.headers.get('location'), '/somewhere-else');
});

test('the session cookie carries a token too', async () => {
  const response = await fetch(`${gate.url}/api/me`, {
    headers: { cookie: `theme=dark; edgeauth_session=${fixtures.tokens.admin}` },
  });
  assert.equal(response.status, 200);
  const echo = await response.json();
  assert.equal(echo.method, 'GET');
  assert.equal(echo.headers['x-edgeauth-roles'], 'admin');
});

test('EDGEAUTH_ACCESS_COOKIE renames the cookie the gate reads', async () => {
  let response = await fetch(`${probed.url}/api/me`, {
    headers: { cookie: `theme=dark; edgeauth_at=${fixtures.tokens.admin}` },
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).headers['x-edgeauth-roles'], 'admin');
  response = await fetch(`${probed.url}/api/me`, {
    headers: { cookie: `edgeauth_session=${fixtures.tokens.admin}` },
  });
  await problem(response, 401, 'missing_token');
});

test('spoofed X-Edgeauth-* headers never reach the origin', async () => {
  const spoofed = {
    'x-edgeauth-sub': 'attacker',
    'X-Edgeauth-Roles': 'admin',
    'x-edgeauth-anything': 'x',
  };
  let response = await fetch(`${gate.url}/api/articles`, { headers: { ...bearer(fixtures.tokens.valid), ...spoofed } });
  assert.equal(response.status, 200);
  let echo = await response.json();
  assert.equal(echo.headers['x-edgeauth-sub'], SUB);
  assert.equal(echo.headers['x-edgeauth-roles'], 'editor,viewer');
  assert.equal(echo.headers['x-edgeauth-anything'], undefined);

  // On a public route too, where the gate adds only its assertion.
  response = await fetch(`${gate.url}/public/page`, { headers: spoofed });
  assert.equal(response.status, 200);
  echo = await response.json();
  const leaked = Object.keys(echo.headers).filter((h) => h.startsWith('x-edgeauth-'));
  assert.deepEqual(leaked, ['x-edgeauth-assertion']);
  assert.equal(assertion(echo).sub, undefined, 'no identity on a public route');
});

test('no spelling of an X-Edgeauth-* or method-override header reaches the origin', async () => {
  const sent = Object.fromEntries(HEADER_CASES.map((c, i) => [c.name, `spoof-${i}`]));
  const check = (echo, route) => {
    const got = new Map(Object.entries(echo.headers));
    for (const [i, c] of HEADER_CASES.entries()) {
      const value = got.get(c.name.toLowerCase());
      if (c.forwarded) assert.equal(value, `spoof-${i}`, `${route}: ${c.name} (${c.description})`);
      else assert.notEqual(value, `spoof-${i}`, `${route}: ${c.name} (${c.description})`);
    }
    // Whatever spells a gate or override header is the gate's own, exactly.
    const owned = [...got.keys()].filter((name) => {
      const n = canonical(name);
      return n === 'x-edgeauth' || n.startsWith('x-edgeauth-') || /^x-(http-)?method(-override)?$/.test(n);
    });
    return Object.fromEntries(owned.map((name) => [name, got.get(name)]));
  };

  // A public route: the gate adds nothing, so nothing of the kind arrives.
  let response = await fetch(`${gate.url}/public/page`, { method: 'POST', headers: sent, body: 'x' });
  assert.equal(response.status, 200);
  let echo = await response.json();
  assert.equal(echo.method, 'POST');
  assertion(echo);
  delete echo.headers['x-edgeauth-assertion'];
  assert.deepEqual(check(echo, 'public'), {});

  // A protected route: only the gate's three identity headers.
  response = await fetch(`${gate.url}/api/articles`, {
    method: 'POST',
    headers: { ...sent, ...bearer(fixtures.tokens.valid) },
    body: 'x',
  });
  assert.equal(response.status, 200);
  echo = await response.json();
  assert.equal(echo.method, 'POST');
  assert.equal(assertion(echo).sub, SUB);
  delete echo.headers['x-edgeauth-assertion'];
  assert.deepEqual(check(echo, 'protected'), {
    'x-edgeauth-sub': SUB,
    'x-edgeauth-sid': SID,
    'x-edgeauth-roles': 'editor,viewer',
  });
});

test('a method override never reaches the origin', async () => {
  for (const name of ['X-HTTP-Method-Override', 'x_http_method', 'X.Method.Override']) {
    const response = await fetch(`${gate.url}/api/articles/1`, {
      method: 'POST',
      headers: { ...bearer(fixtures.tokens.valid), [name]: 'DELETE' },
      body: 'x',
    });
    assert.equal(response.status, 200, name);
    const echo = await response.json();
    assert.equal(echo.method, 'POST', name);
    const overrides = Object.keys(echo.headers).filter((h) => canonical(h).includes('method'));
    assert.deepEqual(overrides, [], name);
  }
});

test('a rule naming GET covers HEAD, with the same requirement', async () => {
  let response = await fetch(`${gate.url}/docs/page`, { method: 'HEAD' });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-origin'), 'echo');
  response = await fetch(`${gate.url}/reports/q3`, { method: 'HEAD' });
  assert.equal(response.status, 401);
  response = await fetch(`${gate.url}/reports/q3`, { method: 'HEAD', headers: bearer(fixtures.tokens.valid) });
  assert.equal(response.status, 403);
  response = await fetch(`${gate.url}/reports/q3`, { method: 'HEAD', headers: bearer(fixtures.tokens.admin) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-origin'), 'echo');
  // GET covers HEAD only.
  await problem(await fetch(`${gate.url}/docs/page`, { method: 'POST', body: 'x' }), 403, 'route_denied');
});

test('an empty role list is a bad setting, not "any token"', async () => {
  const response = await fetch(`${emptyList.url}/anything`, { headers: bearer(fixtures.tokens.valid) });
  const body = await problem(response, 500, 'config_error');
  assert.match(body.detail, /EDGEAUTH_ROUTES/);
});

test('an origin that hangs up: 502 bad_gateway', async () => {
  const response = await fetch(`${gate.url}/public/hang-up`);
  await problem(response, 502, 'bad_gateway');
  // The gate goes on serving.
  const after = await fetch(`${gate.url}/public/page`);
  assert.equal(after.status, 200);
  await after.body?.cancel();
});

test('forwarding holds on to nothing: no JS handle, wasm memory or closure grows per request', async () => {
  const probe = async () => (await fetch(`${probed.url}/__probe`)).json();
  const forwardSome = async (n) => {
    for (let i = 0; i < n; i += 1) {
      const headers = { ...bearer(fixtures.tokens.valid), 'x-edgeauth-sub': 'spoof', 'x-other': String(i) };
      const response = await fetch(`${probed.url}/api/articles/${i}?q=${i}`, { method: 'POST', headers, body: `b${i}` });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      const denied = await fetch(`${probed.url}/api/x`, { headers: bearer(fixtures.tokens.tampered) });
      assert.equal(denied.status, 401);
      await denied.arrayBuffer();
    }
  };
  await forwardSome(20); // first use: the state, the remembered token, caches
  const before = await probe();
  await forwardSome(200);
  const after = await probe();
  assert.equal(after.tableLength, before.tableLength, 'externref table grew');
  assert.equal(after.tableHeld, before.tableHeld, 'JS values left held by Rust');
  assert.equal(after.memoryBytes, before.memoryBytes, 'wasm memory grew');
  assert.equal(after.closures, before.closures, 'closures left alive');
});

test('a public route passes without a token', async () => {
  const response = await fetch(`${gate.url}/public/css/site.css?v=3`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).url, '/public/css/site.css?v=3');
});

test('no token: 401 missing_token with a Bearer challenge', async () => {
  const response = await fetch(`${gate.url}/api/articles`);
  await problem(response, 401, 'missing_token');
  assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="edgeauth"');
});

for (const [name, code] of [
  ['expired', 'expired'],
  ['tampered', 'bad_signature'],
  ['wrong_audience', 'wrong_audience'],
]) {
  test(`${name} token: 401 ${code}`, async () => {
    const response = await fetch(`${gate.url}/api/articles`, { headers: bearer(fixtures.tokens[name]) });
    const body = await problem(response, 401, code);
    assert.equal(body.type, `urn:edgeauth:error:${code}`);
    assert.match(response.headers.get('www-authenticate'), /^Bearer realm="edgeauth", error="invalid_token"/);
  });
}

test('a token without the role: 403 insufficient_role; with it: allowed', async () => {
  let response = await fetch(`${gate.url}/admin/users`, { headers: bearer(fixtures.tokens.valid) });
  await problem(response, 403, 'insufficient_role');
  response = await fetch(`${gate.url}/admin/users`, { headers: bearer(fixtures.tokens.admin) });
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

test('no matching rule, or an encoded separator: 403 route_denied', async () => {
  await problem(await fetch(`${gate.url}/elsewhere`, { headers: bearer(fixtures.tokens.admin) }), 403, 'route_denied');
  await problem(await fetch(`${gate.url}/public/..%2fadmin/x`), 403, 'route_denied');
});

test('the origin gets the canonical path, and the query as sent', async () => {
  let response = await fetch(`${gate.url}/api/%7Earticles/caf%c3%a9/?q=%2e%2E&r=%7e#frag`, {
    headers: bearer(fixtures.tokens.valid),
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).url, '/api/~articles/caf%C3%A9/?q=%2e%2E&r=%7e');
  response = await fetch(`${gate.url}/public/%61/caf\u00e9/b%20c^`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).url, '/public/a/caf%C3%A9/b%20c%5E');
});

test('one trailing slash meets the rule of the path without it, and is forwarded', async () => {
  await problem(await fetch(`${gate.url}/account/`, { headers: bearer(fixtures.tokens.valid) }), 403, 'insufficient_role');
  const response = await fetch(`${gate.url}/account/`, { headers: bearer(fixtures.tokens.admin) });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).url, '/account/');
});

test('paths with no canonical form, and case variants of a rule, are refused at the edge', async () => {
  // Each of these once passed: public by /public/**, or any token by the
  // PATCH catch-all, and an origin (Tomcat, Jetty, Spring, nginx with
  // merge_slashes, Express) would resolve it to /admin/users.
  const cases = [
    ['GET', '/public/..;/admin/users'],
    ['GET', '/public/%2e%2e;/admin/users'],
    ['GET', '/public/..%3b/admin/users'],
    ['GET', '/public/..%2Fadmin/users'],
    ['GET', '/public/..%5Cadmin/users'],
    ['GET', '/public/a%00'],
    ['GET', '/public/a%0d%0aX-Edgeauth-Sub:%20x'],
    ['PATCH', '//admin/users'],
    ['PATCH', '/admin;x=1/users'],
    ['PATCH', '/ADMIN/users'],
    ['PATCH', '/%41DMIN/users'],
    ['PATCH', '/admin//users'],
  ];
  for (const [method, path] of cases) {
    const response = await fetch(`${gate.url}${path}`, { method, headers: bearer(fixtures.tokens.valid), body: method === 'PATCH' ? 'x' : undefined });
    await problem(response, 403, 'route_denied');
  }
  // A spelling that changes no rule's answer passes, as sent.
  const response = await fetch(`${gate.url}/Elsewhere/Page`, { method: 'PATCH', headers: bearer(fixtures.tokens.valid), body: 'x' });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).url, '/Elsewhere/Page');
});

test('an encoded dot segment cannot turn a protected path public', async () => {
  // The URL is resolved to /admin/x before the gate (and the origin) see it.
  await problem(await fetch(`${gate.url}/public/%2e%2e/admin/x`), 401, 'missing_token');
});

test('a bad setting: 500 config_error naming it, and only it', async () => {
  const response = await fetch(`${misconfigured.url}/public/x`);
  const body = await problem(response, 500, 'config_error');
  assert.equal(body.detail, 'setting EDGEAUTH_ROUTES is invalid');
});

test('a JWKS URL over plain HTTP to a host that is not loopback is refused', async () => {
  const response = await fetch(`${insecure.url}/public/x`);
  const body = await problem(response, 500, 'config_error');
  assert.equal(body.detail, 'setting EDGEAUTH_JWKS_URL is invalid');
  assert.doesNotMatch(JSON.stringify(body), /jwks\.edgeauth\.test/);
});

test('no key set to be had: 503 jwks_unavailable, public routes still pass', async () => {
  const response = await fetch(`${keyless.url}/api/x`, { headers: bearer(fixtures.tokens.valid) });
  await problem(response, 503, 'jwks_unavailable');
  assert.ok(Number(response.headers.get('retry-after')) >= 1);
  const pub = await fetch(`${keyless.url}/public/x`);
  assert.equal(pub.status, 200);
  await pub.body?.cancel();
});

test('unknown kids cost at most one fetch a minute; a rotated key is picked up by one refetch', async () => {
  const flood = async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(`${gate.url}/api/x`, { headers: bearer(withKid(fixtures.tokens.valid, randomUUID())) }).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        })),
    );
    assert.deepEqual(new Set(answers), new Set([401]));
  };
  assert.equal(origin.state.jwksFetches, 1);
  await flood();
  assert.equal(origin.state.jwksFetches, 1, 'random kids within the minute: no fetch');

  // The issuer rotates: a token signed by the new key k2.
  origin.state.jwks = fixtures.jwks_k1_k2;
  let response = await fetch(`${gate.url}/api/x`, { headers: bearer(fixtures.tokens.rotated) });
  await problem(response, 401, 'unknown_key');
  assert.equal(origin.state.jwksFetches, 1, 'still within the minute of the last fetch');

  // Once the minute since the last fetch is over, one refetch finds k2.
  const wait = firstFetchAt + REFETCH_INTERVAL_MS + 1_500 - Date.now();
  if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  response = await fetch(`${gate.url}/api/x`, { headers: bearer(fixtures.tokens.rotated) });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).headers['x-edgeauth-sub'], SUB);
  assert.equal(origin.state.jwksFetches, 2, 'exactly one refetch');

  // Old tokens still pass, and another flood costs nothing.
  response = await fetch(`${gate.url}/api/x`, { headers: bearer(fixtures.tokens.valid) });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  await flood();
  assert.equal(origin.state.jwksFetches, 2);
});

test('stale keys are trusted again after a successful refetch', async () => {
  staleOrigin.state.jwksStatus = 200;
  // The next fetch the schedule allows: a minute after the last one.
  const wait = staleFetchAt + REFETCH_INTERVAL_MS + 1_500 - Date.now();
  if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  const response = await fetch(`${stale.url}/api/x`, { headers: bearer(fixtures.tokens.valid) });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).headers['x-edgeauth-sub'], SUB);
  assert.equal(staleOrigin.state.jwksFetches, 2, 'one refetch');
});

test('the fixtures are for this issuer', () => {
  const payload = JSON.parse(Buffer.from(fixtures.tokens.valid.split('.')[1], 'base64url'));
  assert.equal(payload.iss, ISSUER);
});
