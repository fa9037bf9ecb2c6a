// Revocation at the edge, end to end: the live server publishes its signed
// revocation feed (max-age 2 s here); the gate in workerd and the npm
// package poll it through a counting relay. After each way a session ends
// (logout, DELETE /auth/sessions/{id}, refresh-token reuse, eviction by the
// session limit) its still-unexpired access token is refused with `revoked`
// within max-age + 1 s, at the gate and in the package; other sessions pass.
// Then: one feed fetch per max-age under 64 concurrent requests, and the
// feed server down past the staleness bound (protected routes 503, public
// routes pass, recovery when it returns).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { init, Verifier } from '../../pkg/dist/node.js'; // what the package ships to Node

import { gateVars, startOrigin, startWrangler } from '../../worker/test/harness.js';
import { gateCode as gateCodeAt, packageCode as packageCodeOf, startRelay, within } from './relay.mjs';
import { startServer } from './server.mjs';

const MAX_AGE = 2;
const STALENESS = 3;
// The contract: visible within max-age + 1 s. The machines that run this
// are shared and loaded, so a request's own latency is allowed on top.
const VISIBLE_MS = (MAX_AGE + 1) * 1000 + 1500;
const ROUTES = JSON.stringify([
  { path: '/public/**', public: true },
  { path: '/api/**', require: {} },
]);

let server;
let relay;
let origin;
let gate;
let verifier;
before(async () => {
  await init();
  server = await startServer({
    EDGEAUTH_REVOCATIONS_MAX_AGE: String(MAX_AGE),
    EDGEAUTH_MAX_SESSIONS: '2',
    EDGEAUTH_REFRESH_REUSE_GRACE: '0',
  });
  relay = await startRelay(server.url);
  origin = await startOrigin({ echo: false });
  gate = await startWrangler({
    name: 'e2e-revocation',
    vars: {
      ...gateVars({ origin: origin.url, jwksUrl: relay.jwksUrl, routes: ROUTES, issuer: server.issuer, audience: server.audience }),
      EDGEAUTH_REVOCATIONS_URL: relay.revocationsUrl,
      EDGEAUTH_REVOCATIONS_MAX_STALENESS: String(STALENESS),
    },
  });
  verifier = await Verifier.fromJwksUrl(relay.jwksUrl, {
    issuer: server.issuer,
    audience: server.audience,
    revocationsUrl: relay.revocationsUrl,
    revocationsMaxStaleness: STALENESS,
  });
});
after(async () => {
  await gate?.stop();
  await origin?.close();
  await relay?.close();
  await server?.stop();
});

const bearer = (token) => ({ authorization: `Bearer ${token}` });
const atGate = (token) => fetch(`${gate.url}/api/me`, { headers: bearer(token) });

const gateCode = (token) => gateCodeAt(`${gate.url}/api/me`, token);
const packageCode = (token) => packageCodeOf(verifier, token);

/** Both the gate and the package refuse `token` with `revoked` within VISIBLE_MS of now. */
async function refusedEverywhere(token, what) {
  const start = Date.now();
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.ok(exp > start / 1000 + 60, 'the token is far from expiring');
  const [atEdge, inPackage] = await Promise.all([
    within(VISIBLE_MS, async () => (await gateCode(token)) === 'revoked'),
    within(VISIBLE_MS, async () => (await packageCode(token)) === 'revoked'),
  ]);
  assert.ok(atEdge, `${what}: the gate still lets the token through after ${Date.now() - start} ms`);
  assert.ok(inPackage, `${what}: the package still accepts the token after ${Date.now() - start} ms`);
  // And it stays refused (the sync verify uses the last good feed too).
  assert.equal(await gateCode(token), 'revoked');
  assert.throws(() => verifier.verify(token), (e) => e.code === 'revoked');
}

async function passesEverywhere(token) {
  assert.equal(await gateCode(token), 'pass');
  assert.equal(await packageCode(token), 'pass');
}

const password = 'correct horse battery staple';

test('every way a session ends shows at the gate and in the package within max-age + 1 s', async () => {
  // Logout.
  await server.register('logout@rev.e2e.test', password);
  const kept = await server.login('logout@rev.e2e.test', password);
  const out = await server.login('logout@rev.e2e.test', password);
  await passesEverywhere(out.access_token);
  const logout = await server.json('/auth/logout', { method: 'POST', headers: bearer(out.access_token) });
  assert.equal(logout.status, 204);
  await refusedEverywhere(out.access_token, 'logout');
  await passesEverywhere(kept.access_token);

  // DELETE /auth/sessions/{id}, from another session of the same user.
  const other = await server.login('logout@rev.e2e.test', password);
  const deleted = await server.json(`/auth/sessions/${kept.session_id}`, { method: 'DELETE', headers: bearer(other.access_token) });
  assert.equal(deleted.status, 204);
  await refusedEverywhere(kept.access_token, 'DELETE /auth/sessions/{id}');
  await passesEverywhere(other.access_token);

  // A refresh token presented again after its rotation (no grace): the
  // whole session is revoked.
  await server.register('reuse@rev.e2e.test', password);
  const reused = await server.login('reuse@rev.e2e.test', password);
  const refresh = (token) =>
    server.json('/auth/token', { method: 'POST', body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: token }) });
  assert.equal((await refresh(reused.refresh_token)).status, 200);
  const replay = await refresh(reused.refresh_token);
  assert.equal(replay.status, 400, JSON.stringify(replay.body)); // /auth/token answers as OAuth: invalid_grant
  assert.equal(replay.body.code, 'refresh_token_reused');
  await refusedEverywhere(reused.access_token, 'refresh-token reuse');

  // Eviction by the session limit (EDGEAUTH_MAX_SESSIONS=2): a third
  // sign-in ends the least recently used session.
  await server.register('evict@rev.e2e.test', password);
  const first = await server.login('evict@rev.e2e.test', password);
  await server.login('evict@rev.e2e.test', password);
  const third = await server.login('evict@rev.e2e.test', password);
  await refusedEverywhere(first.access_token, 'eviction by the session limit');
  await passesEverywhere(third.access_token);
});

test('with a feed the gate does not warn that it checks no revocation', () => {
  assert.doesNotMatch(gate.output(), /EDGEAUTH_REVOCATIONS_URL is not set/);
});

test('64 concurrent requests: at most one feed fetch per max-age, shared', async () => {
  await server.register('load@rev.e2e.test', password);
  const { access_token: token } = await server.login('load@rev.e2e.test', password);
  assert.equal(await gateCode(token), 'pass');
  const before = relay.state.feedFetches;
  const start = Date.now();
  for (let burst = 0; burst < 3; burst++) {
    const codes = await Promise.all(Array.from({ length: 64 }, () => gateCode(token)));
    assert.deepEqual(new Set(codes), new Set(['pass']));
  }
  const elapsed = (Date.now() - start) / 1000;
  const fetches = relay.state.feedFetches - before;
  // The package's own fetches go through the relay too: none here.
  assert.ok(fetches <= Math.ceil(elapsed / MAX_AGE) + 1, `${fetches} feed fetches in ${elapsed} s`);
});

test('feed server down past the staleness bound: protected routes 503, public pass, then recovery', async () => {
  await server.register('down@rev.e2e.test', password);
  const { access_token: token } = await server.login('down@rev.e2e.test', password);
  await passesEverywhere(token);
  relay.state.down = true;
  try {
    const closed = await within((STALENESS + MAX_AGE + 2) * 1000, async () => (await gateCode(token)) === 'revocations_unavailable', 250);
    assert.ok(closed, 'the gate fails closed once the feed is older than the bound');
    const res = await atGate(token);
    assert.equal(res.status, 503);
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    assert.equal((await res.json()).code, 'revocations_unavailable');
    const pub = await fetch(`${gate.url}/public/x`);
    assert.equal(pub.status, 200);
    await pub.arrayBuffer();
    // The package counts staleness from its own last fetch, which may be
    // later than the gate's: wait for it within the same bound.
    const packageClosed = await within((STALENESS + MAX_AGE + 2) * 1000, async () => {
      try {
        verifier.verify(token);
        return false;
      } catch (e) {
        return e.code === 'revocations_unavailable' && e.status === 503;
      }
    }, 250);
    assert.ok(packageClosed, 'the package fails closed once its feed is older than the bound');
  } finally {
    relay.state.down = false;
  }
  const back = await within(5_000, async () => (await gateCode(token)) === 'pass');
  assert.ok(back, 'the gate recovers when the feed returns');
  assert.equal(await packageCode(token), 'pass');
});
