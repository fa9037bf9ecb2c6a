// Key rotation without a gap, end to end: `edgeauth keys rotate` publishes
// the next key ahead of its first token (EDGEAUTH_KEY_PUBLISH_AHEAD 70 s,
// just over the gate's 60 s JWKS lifetime, instead of the default 10 min),
// so the gate under steady load holds it before any token names it: no
// request sees `unknown_key`, and the JWKS is fetched a handful of times,
// not once per request. `keys rotate --now` then removes the old key from
// the JWKS at once. This test takes a little over a minute: the gate
// trusts a JWKS for at least 60 s (the core's schedule).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { init, Verifier, VerifyError } from '../../pkg/dist/node.js';

import { gateVars, startOrigin, startWrangler } from '../../worker/test/harness.js';
import { startRelay, within } from './relay.mjs';
import { startServer } from './server.mjs';

const PUBLISH_AHEAD = 70;
const ROUTES = JSON.stringify([{ path: '/api/**', require: {} }]);

let server;
let relay;
let origin;
let gate;
before(async () => {
  await init();
  server = await startServer({
    EDGEAUTH_KEY_RELOAD: '1',
    EDGEAUTH_JWKS_MAX_AGE: '60',
    EDGEAUTH_KEY_PUBLISH_AHEAD: String(PUBLISH_AHEAD),
  });
  relay = await startRelay(server.url);
  origin = await startOrigin({ echo: false });
  gate = await startWrangler({
    name: 'e2e-rotation',
    vars: gateVars({ origin: origin.url, jwksUrl: relay.jwksUrl, routes: ROUTES, issuer: server.issuer, audience: server.audience }),
  });
});
after(async () => {
  await gate?.stop();
  await origin?.close();
  await relay?.close();
  await server?.stop();
});

const kidOf = (token) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;
const jwksKids = async () => (await (await fetch(server.jwksUrl)).json()).keys.map((k) => k.kid);

test('a scheduled rotation under load: no unknown_key, no JWKS refetch storm; --now removes the old key', async () => {
  await server.register('rotate@e2e.test', 'correct horse battery staple');
  let pair = await server.login('rotate@e2e.test', 'correct horse battery staple');
  const oldKid = kidOf(pair.access_token);
  const codes = new Map();
  const count = (code) => codes.set(code, (codes.get(code) ?? 0) + 1);
  const hit = async () => {
    const res = await fetch(`${gate.url}/api/x`, { headers: { authorization: `Bearer ${pair.access_token}` } });
    count(res.status === 200 ? 'pass' : (await res.json()).code);
    if (res.status === 200) await res.arrayBuffer();
  };
  await hit();
  const jwksBefore = relay.state.jwksFetches;

  const rotated = server.run(['keys', 'rotate']);
  assert.match(rotated, /published now/);
  // The running server rereads its keys every KEY_RELOAD (1 s here).
  let newKid;
  const published = await within(5_000, async () => {
    newKid = (await jwksKids()).find((kid) => kid !== oldKid);
    return newKid !== undefined;
  });
  assert.ok(published, 'the next key is in the JWKS within KEY_RELOAD');

  // Steady load (8 requests at a time) with a token refreshed every
  // second, until tokens signed by the new key have been passing for a
  // few seconds.
  let signedByNew = 0;
  const deadline = Date.now() + (PUBLISH_AHEAD + 30) * 1000;
  let lastRefresh = 0;
  while (signedByNew < 20 && Date.now() < deadline) {
    if (Date.now() - lastRefresh >= 1000) {
      const next = await server.json('/auth/token', {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
      });
      assert.equal(next.status, 200, JSON.stringify(next.body));
      pair = next.body;
      lastRefresh = Date.now();
    }
    await Promise.all(Array.from({ length: 8 }, hit));
    if (kidOf(pair.access_token) === newKid) signedByNew += 1;
  }
  assert.ok(signedByNew >= 20, 'the new key signs after the publish-ahead time');
  assert.deepEqual([...codes.keys()], ['pass'], `answers: ${JSON.stringify([...codes])}`);
  const jwksFetches = relay.state.jwksFetches - jwksBefore;
  assert.ok(jwksFetches <= 3, `${jwksFetches} JWKS fetches in ${PUBLISH_AHEAD}+ s of load`);

  // A compromised key: --now makes a new key sign at once and removes the
  // current one from the JWKS at once (within KEY_RELOAD at the server).
  const current = kidOf(pair.access_token);
  server.run(['keys', 'rotate', '--now']);
  const gone = await within(5_000, async () => !(await jwksKids()).includes(current));
  assert.ok(gone, 'the replaced key leaves the JWKS');
  const fresh = await Verifier.fromJwksUrl(server.jwksUrl, { issuer: server.issuer, audience: server.audience });
  assert.throws(() => fresh.verify(pair.access_token), (e) => e instanceof VerifyError && e.code === 'unknown_key');
  const after = await server.login('rotate@e2e.test', 'correct horse battery staple');
  assert.notEqual(kidOf(after.access_token), current);
  assert.equal(fresh.verify(after.access_token).sid, after.session_id);
});
