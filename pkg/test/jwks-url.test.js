// Verifier.fromJwksUrl against a local HTTP server: the JWKS is fetched
// once, refetched on an unknown kid at most once a minute, and refetched
// when its Cache-Control max-age has passed. Time comes from `now` and an
// injected clock, never from sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { Verifier, VerifyError } from '@edgeauth/verify';
import { byName, tokens, valid } from './helpers.js';

const k1 = tokens.jwks.keys.find((k) => k.kid === 'k1');
const k2 = tokens.jwks.keys.find((k) => k.kid === 'k2');

/** Serves `state.keys` as a JWKS; counts requests. */
async function jwksServer(state) {
  const server = createServer((req, res) => {
    state.requests += 1;
    if (state.status !== 200) {
      res.writeHead(state.status).end();
      return;
    }
    const headers = { 'content-type': 'application/json' };
    if (state.maxAge !== undefined) headers['cache-control'] = `public, max-age=${state.maxAge}`;
    res.writeHead(200, headers).end(JSON.stringify({ keys: state.keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`, close: () => server.close() };
}

const options = (created) => ({ issuer: tokens.issuer, audience: tokens.audience, clock: () => created });

const codeOf = async (run) => {
  try {
    await run();
    return 'no error';
  } catch (error) {
    return error instanceof VerifyError ? error.code : String(error);
  }
};

test('an unknown kid refetches the JWKS, at most once a minute', async (t) => {
  const state = { keys: [k2], requests: 0, status: 200 };
  const server = await jwksServer(state);
  t.after(server.close);
  const now = valid.now;
  const verifier = await Verifier.fromJwksUrl(server.url, options(now - 120));
  assert.equal(state.requests, 1);
  assert.deepEqual(verifier.kids(), ['k2']);

  // The issuer rotates k1 in; a k1 token triggers one refetch and verifies.
  state.keys = [k1, k2];
  assert.equal((await verifier.verifyAsync(valid.token, now)).sub, valid.expect.claims.sub);
  assert.equal(state.requests, 2);

  // Another unknown kid within the minute: refused without a request.
  const unknown = byName('kid_unknown');
  assert.equal(await codeOf(() => verifier.verifyAsync(unknown.token, now + 59)), 'unknown_key');
  assert.equal(state.requests, 2);
  // A minute later it may refetch again (and the kid is still unknown).
  assert.equal(await codeOf(() => verifier.verifyAsync(unknown.token, now + 60)), 'unknown_key');
  assert.equal(state.requests, 3);
  // Known kids never cause a request.
  verifier.verify(valid.token, now + 120);
  assert.equal(state.requests, 3);
});

test('sync verify starts the refetch in the background; a failed refetch keeps the keys', async (t) => {
  const state = { keys: [k2], requests: 0, status: 200 };
  const server = await jwksServer(state);
  t.after(server.close);
  const now = valid.now;
  const verifier = await Verifier.fromJwksUrl(server.url, options(now - 60));
  state.keys = [k1, k2];
  assert.equal(await codeOf(() => verifier.verify(valid.token, now)), 'unknown_key');
  // The refetch is under way; verifyAsync waits for it instead of starting another.
  assert.equal((await verifier.verifyAsync(valid.token, now)).sub, valid.expect.claims.sub);
  assert.equal(state.requests, 2);

  state.status = 503;
  const unknown = byName('kid_unknown');
  assert.equal(await codeOf(() => verifier.verifyAsync(unknown.token, now + 60)), 'unknown_key');
  assert.equal(state.requests, 3);
  assert.deepEqual(verifier.kids(), ['k1', 'k2']);
});

test("the JWKS is refetched once its Cache-Control max-age has passed", async (t) => {
  const state = { keys: [k1, k2], requests: 0, status: 200, maxAge: 300 };
  const server = await jwksServer(state);
  t.after(server.close);
  const now = valid.now;
  const verifier = await Verifier.fromJwksUrl(server.url, options(now - 299));
  state.keys = [k2]; // k1 retired
  verifier.verify(valid.token, now); // still fresh: no refetch
  verifier.verify(valid.token, now + 1); // stale: starts a refetch, answers from the current keys
  // verifyAsync waits for the refetch under way, which retired k1.
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + 2)), 'unknown_key');
  assert.equal(state.requests, 2);
  assert.deepEqual(verifier.kids(), ['k2']);
});

test('fromJwksUrl rejects on HTTP errors and bad documents', async (t) => {
  const state = { keys: [], requests: 0, status: 404 };
  const server = await jwksServer(state);
  t.after(server.close);
  await assert.rejects(Verifier.fromJwksUrl(server.url, options(0)), /HTTP 404/);
  state.status = 200;
  state.keys = [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'bad' }];
  await assert.rejects(Verifier.fromJwksUrl(server.url, options(0)), (e) => e.code === 'invalid_jwks');
});
