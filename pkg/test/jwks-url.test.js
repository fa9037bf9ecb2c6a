// Verifier.fromJwksUrl against a local HTTP server: the JWKS is fetched
// once, refetched on an unknown kid at most once a minute, and refetched
// when its Cache-Control max-age has passed (no-store or no max-age too, on
// the core's schedule); fetches that hang are aborted and block neither
// known kids nor later refetches; redirects and oversized documents are
// refused; keys past maxStaleness are not trusted. Token time comes from
// `now` and an injected clock, never from sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { Verifier, VerifyError } from '@edgeauth/verify';
import { byName, codeOf, tokens, valid } from './helpers.js';

const k1 = tokens.jwks.keys.find((k) => k.kid === 'k1');
const k2 = tokens.jwks.keys.find((k) => k.kid === 'k2');

/**
 * Serves `state.keys` as a JWKS; counts requests. `state.mode`: `hang`
 * never answers, `redirect` answers 302 to a path that serves the JWKS,
 * `chunked` sends the document without a Content-Length. `state.padding`
 * adds that many bytes to the document.
 */
async function jwksServer(state) {
  const server = createServer((req, res) => {
    if (req.url === '/elsewhere') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
      return;
    }
    state.requests += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'redirect') {
      res.writeHead(302, { location: '/elsewhere' }).end();
      return;
    }
    if (state.status !== 200) {
      res.writeHead(state.status).end();
      return;
    }
    const headers = { 'content-type': 'application/json' };
    if (state.maxAge !== undefined) headers['cache-control'] = `public, max-age=${state.maxAge}`;
    if (state.cacheControl !== undefined) headers['cache-control'] = state.cacheControl;
    const body = JSON.stringify({ keys: state.keys, padding: 'x'.repeat(state.padding ?? 0) });
    if (state.mode === 'chunked') {
      res.writeHead(200, headers);
      res.write(body.slice(0, 10));
      res.end(body.slice(10));
      return;
    }
    res.writeHead(200, headers).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Whether `promise` settles within `ms` of real time. */
const settlesWithin = (promise, ms) => {
  let timer;
  const late = new Promise((ok) => {
    timer = setTimeout(() => ok('late'), ms);
  });
  return Promise.race([promise.then(() => 'settled', () => 'settled'), late]).finally(() => clearTimeout(timer));
};

const options = (created) => ({ issuer: tokens.issuer, audience: tokens.audience, clock: () => created });


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
  // A known kid does not wait for the refetch; an unknown one does.
  verifier.verify(valid.token, now + 2);
  assert.equal(await codeOf(() => verifier.verifyAsync(byName('kid_unknown').token, now + 2)), 'unknown_key');
  assert.equal(state.requests, 2);
  assert.deepEqual(verifier.kids(), ['k2']);
  assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + 2)), 'unknown_key');
});

for (const [name, cacheControl] of [
  ['no-store', 'no-store'],
  ['no-cache', 'no-cache, max-age=86400'],
  ['no max-age', 'public'],
]) {
  test(`a JWKS answered ${name} is still refetched on the core's schedule`, async (t) => {
    const state = { keys: [k1, k2], requests: 0, status: 200, cacheControl };
    const server = await jwksServer(state);
    t.after(server.close);
    const now = valid.now;
    const verifier = await Verifier.fromJwksUrl(server.url, options(now));
    state.keys = [k2]; // k1 removed after a compromise
    // no-store and no-cache mean the floor (1 min); no max-age the default (5 min).
    const lifetime = name === 'no max-age' ? 300 : 60;
    verifier.verify(valid.token, now + lifetime - 1);
    assert.equal(state.requests, 1);
    verifier.verify(valid.token, now + lifetime); // due: the refetch starts
    assert.equal(await codeOf(() => verifier.verifyAsync(byName('kid_unknown').token, now + lifetime)), 'unknown_key');
    assert.equal(state.requests, 2);
    assert.equal(await codeOf(() => verifier.verifyAsync(valid.token, now + lifetime)), 'unknown_key');
  });
}

test('a JWKS fetch that never answers is aborted after fetchTimeout', async (t) => {
  const state = { keys: [k1, k2], requests: 0, status: 200, mode: 'hang' };
  const server = await jwksServer(state);
  t.after(server.close);
  await assert.rejects(
    Verifier.fromJwksUrl(server.url, { ...options(valid.now), fetchTimeout: 200 }),
    /no answer within 200 ms/,
  );
});

test('a hanging refetch blocks neither known kids nor later refetches', async (t) => {
  const state = { keys: [k2], requests: 0, status: 200 };
  const server = await jwksServer(state);
  t.after(server.close);
  const now = valid.now;
  const verifier = await Verifier.fromJwksUrl(server.url, { ...options(now - 60), fetchTimeout: 1_000 });
  const k2Token = byName('valid_second_key');
  state.mode = 'hang';
  state.keys = [k1, k2];
  // An unknown kid starts a refetch, which hangs.
  const waiting = verifier.verifyAsync(valid.token, now);
  // Meanwhile a token whose key is held does not wait for it.
  assert.equal(await settlesWithin(verifier.verifyAsync(k2Token.token, now), 500), 'settled');
  assert.equal((await verifier.verifyAsync(k2Token.token, now)).sub, k2Token.expect.claims.sub);
  // The hung fetch is aborted: the waiting request gets its answer.
  assert.equal(await codeOf(() => waiting), 'unknown_key');
  assert.equal(state.requests, 2);
  // And a minute later a new refetch is not held up by it.
  state.mode = undefined;
  assert.equal((await verifier.verifyAsync(valid.token, now + 60)).sub, valid.expect.claims.sub);
  assert.equal(state.requests, 3);
});

test('a redirected JWKS is refused', async (t) => {
  const state = { keys: [k1], requests: 0, status: 200, mode: 'redirect' };
  const server = await jwksServer(state);
  t.after(server.close);
  await assert.rejects(Verifier.fromJwksUrl(server.url, options(valid.now)), /redirects are not followed/);
  // A refetch that is redirected keeps the current keys.
  state.mode = undefined;
  const verifier = await Verifier.fromJwksUrl(server.url, options(valid.now - 60));
  state.mode = 'redirect';
  state.keys = [k1, k2];
  assert.equal(await codeOf(() => verifier.verifyAsync(byName('valid_second_key').token, valid.now)), 'unknown_key');
  assert.deepEqual(verifier.kids(), ['k1']);
});

test('a JWKS larger than maxJwksBytes (default 64 KiB) is refused, declared or streamed', async (t) => {
  const state = { keys: [k1], requests: 0, status: 200, padding: 70 * 1024 };
  const server = await jwksServer(state);
  t.after(server.close);
  await assert.rejects(Verifier.fromJwksUrl(server.url, options(valid.now)), /larger than 65536 bytes/);
  state.mode = 'chunked';
  await assert.rejects(Verifier.fromJwksUrl(server.url, options(valid.now)), /larger than 65536 bytes/);
  state.padding = 2_000;
  await assert.rejects(
    Verifier.fromJwksUrl(server.url, { ...options(valid.now), maxJwksBytes: 1_000 }),
    /larger than 1000 bytes/,
  );
  assert.deepEqual((await Verifier.fromJwksUrl(server.url, options(valid.now))).kids(), ['k1']);
});

test('JWKS URLs are https, or http to a loopback host', async () => {
  for (const url of ['http://jwks.example/keys', 'http://10.0.0.1/keys', 'ftp://127.0.0.1/keys', 'http://u@127.0.0.1/keys', 'not a url']) {
    await assert.rejects(Verifier.fromJwksUrl(url, options(0)), TypeError, url);
  }
  const refused = async () => {
    throw new Error('refused');
  };
  for (const url of ['https://jwks.example/keys', 'http://localhost:1/keys', 'http://[::1]:1/keys']) {
    await assert.rejects(Verifier.fromJwksUrl(url, { ...options(0), fetch: refused }), /refused/, url);
  }
});

test('keys not refreshed within maxStaleness are not trusted until a refetch succeeds', async (t) => {
  const state = { keys: [k1], requests: 0, status: 200, maxAge: 60 };
  const server = await jwksServer(state);
  t.after(server.close);
  const t0 = valid.now;
  const verifier = await Verifier.fromJwksUrl(server.url, { ...options(t0), maxStaleness: 120 });
  state.status = 503;
  assert.equal((await verifier.verifyAsync(valid.token, t0 + 119)).sub, valid.expect.claims.sub);
  const err = await (async () => {
    try {
      await verifier.verifyAsync(valid.token, t0 + 120);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof VerifyError);
  assert.equal(err.code, 'jwks_unavailable');
  assert.equal(err.status, 503);
  assert.equal(await codeOf(() => verifier.verify(valid.token, t0 + 150)), 'jwks_unavailable');
  state.status = 200;
  assert.equal((await verifier.verifyAsync(valid.token, t0 + 181)).sub, valid.expect.claims.sub);
  verifier.verify(valid.token, t0 + 182);
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
