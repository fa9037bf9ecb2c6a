// Verifier.fromJwksUrl with revocationsUrl against a local server that
// serves the vector JWKS and feeds signed with the vector key k1 (node's
// Ed25519): tokens of listed sessions are refused with `revoked`, a feed
// is fetched at most once per max-age, refused feeds keep the last good
// one, and past revocationsMaxStaleness verify() fails closed. Time is
// passed in (`now`), never slept for. (tests/e2e has the same against the
// live server and the gate.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { Verifier } from '@edgeauth/verify';
import { codeOf, tokens, valid } from './helpers.js';

const k1 = tokens.jwks.keys.find((k) => k.kid === 'k1');
// The vector keys' seeds (crates/edgeauth-core/examples/gen-vectors.rs).
const seed = createHash('sha512').update('edgeauth test vector key 1').digest().subarray(0, 32);
const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k1.x, d: seed.toString('base64url') }, format: 'jwk' });
const sid = valid.expect.claims.sid;

function feed({ iat, sids = [], typ = 'revocations+jwt', iss = tokens.issuer }) {
  const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', kid: 'k1', typ })}.${part({ iss, iat, exp: iat + 300, sids })}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

async function issuer(state) {
  const server = createServer((req, res) => {
    if (req.url === '/jwks') {
      res.writeHead(200, { 'cache-control': 'max-age=3600' }).end(JSON.stringify(tokens.jwks));
      return;
    }
    state.feedFetches += 1;
    if (state.status !== 200) {
      res.writeHead(state.status).end();
      return;
    }
    res.writeHead(200, { 'cache-control': 'public, max-age=5' }).end(state.feed);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${server.address().port}`;
  return { jwks: `${url}/jwks`, feed: `${url}/revocations`, close: () => { server.closeAllConnections(); server.close(); } };
}


test('the feed refuses revoked sessions, once per max-age, and keeps the last good one', async (t) => {
  const now = valid.now;
  const state = { feed: feed({ iat: now, sids: [] }), feedFetches: 0, status: 200 };
  const server = await issuer(state);
  t.after(server.close);
  const options = { issuer: tokens.issuer, audience: tokens.audience, clock: () => now, revocationsUrl: server.feed };
  const verifier = await Verifier.fromJwksUrl(server.jwks, options);
  assert.equal(state.feedFetches, 1);
  assert.equal(verifier.verify(valid.token, now).sid, sid);

  // Revoked at the server: seen once the 5 s max-age has passed.
  state.feed = feed({ iat: now + 1, sids: [sid] });
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + 4)), 'no error');
  assert.equal(state.feedFetches, 1, 'no fetch within max-age');
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + 5)), 'revoked');
  assert.equal(await codeOf(() => verifier.verify(valid.token, now + 6)), 'revoked');
  assert.equal(state.feedFetches, 2);

  // Refused feeds (wrong typ, wrong iss, older) and failed fetches: the
  // last good feed stays in force.
  let at = now + 10;
  for (const bad of [feed({ iat: now + 9, typ: 'at+jwt' }), feed({ iat: now + 9, iss: 'https://x.example' }), feed({ iat: now })]) {
    state.feed = bad;
    assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, at)), 'revoked');
    at += 5;
  }
  state.status = 503;
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, at)), 'revoked');
  assert.equal(state.feedFetches, 6);

  // Past the staleness bound (60 s after the last good fetch at now + 5):
  // fail closed until a fetch succeeds.
  const closed = await codeOf(() => verifier.verify(valid.token, now + 65));
  assert.equal(closed, 'revocations_unavailable');
  assert.throws(() => verifier.verify(valid.token, now + 66), (e) => e.status === 503);
  state.status = 200;
  state.feed = feed({ iat: now + 70, sids: [] });
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + 70)), 'no error');
});

test('revocationsUrl follows the JWKS URL rules', async () => {
  const options = { issuer: tokens.issuer, audience: tokens.audience, revocationsUrl: 'http://auth.example/revocations' };
  await assert.rejects(Verifier.fromJwksUrl('http://127.0.0.1:9/jwks', options), /revocations URL must be https/);
  await assert.rejects(
    Verifier.fromJwksUrl('http://127.0.0.1:9/jwks', { ...options, revocationsUrl: 'https://a.example/r', revocationsMaxStaleness: 0 }),
    /revocationsMaxStaleness must be a positive integer/,
  );
});
