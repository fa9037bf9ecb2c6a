// Refused revocation feeds, at the gate in workerd and in the npm package:
// a fake issuer (node:crypto Ed25519) publishes a JWKS, mints tokens and
// signs feeds; a relay serves whatever feed the test sets. A feed with a
// flipped byte, the wrong `typ`, the wrong `iss`, an unknown `kid`, an
// `exp` in the past, or an older `iat` than the last good one is refused,
// and the last good feed stays in force: its revoked session never passes.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { init, Verifier } from '../../pkg/dist/node.js';

import { gateVars, startOrigin, startWrangler } from '../../worker/test/harness.js';
import { gateCode as gateCodeAt, packageCode as packageCodeOf, startRelay, within } from './relay.mjs';

const ISSUER = 'https://fake-issuer.e2e.edgeauth.test';
const AUDIENCE = 'api.fake.e2e.edgeauth.test';
const ROUTES = JSON.stringify([{ path: '/api/**', require: {} }]);

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

/** Ed25519 keys: `kid` names the one in the JWKS; `outsider` is in no key set. */
const issuerKey = generateKeyPairSync('ed25519');
const outsiderKey = generateKeyPairSync('ed25519');

function jws(header, payload, key) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

function token(sid) {
  const iat = nowS();
  return jws(
    { alg: 'EdDSA', kid: 'fk1', typ: 'at+jwt' },
    { iss: ISSUER, aud: [AUDIENCE], sub: `user-${sid}`, sid, jti: `t-${sid}`, iat, nbf: iat, exp: iat + 900, roles: [], perms: [] },
    issuerKey,
  );
}

/** A feed as the server signs it, with any part changed by `change`. */
function feed(sids, change = {}) {
  const iat = change.iat ?? nowS();
  const header = { alg: 'EdDSA', kid: change.kid ?? 'fk1', typ: change.typ ?? 'revocations+jwt' };
  const payload = { iss: change.iss ?? ISSUER, iat, exp: change.exp ?? iat + 300, sids: [...sids].sort() };
  return jws(header, payload, change.key ?? issuerKey);
}

let issuer;
let relay;
let origin;
let gate;
let verifier;
before(async () => {
  await init();
  const jwk = issuerKey.publicKey.export({ format: 'jwk' });
  const jwks = JSON.stringify({ keys: [{ ...jwk, kid: 'fk1', alg: 'EdDSA', use: 'sig' }] });
  issuer = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' }).end(jwks);
  });
  await new Promise((ok) => issuer.listen(0, '127.0.0.1', ok));
  relay = await startRelay(`http://127.0.0.1:${issuer.address().port}`);
  relay.state.feed = feed(['revoked-session']);
  origin = await startOrigin({ echo: false });
  gate = await startWrangler({
    name: 'e2e-feed-tamper',
    vars: {
      ...gateVars({ origin: origin.url, jwksUrl: relay.jwksUrl, routes: ROUTES, issuer: ISSUER, audience: AUDIENCE }),
      EDGEAUTH_REVOCATIONS_URL: relay.revocationsUrl,
    },
  });
  verifier = await Verifier.fromJwksUrl(relay.jwksUrl, { issuer: ISSUER, audience: AUDIENCE, revocationsUrl: relay.revocationsUrl });
});
after(async () => {
  await gate?.stop();
  await origin?.close();
  await relay?.close();
  issuer?.closeAllConnections();
  await new Promise((ok) => (issuer ? issuer.close(ok) : ok()));
});

const gateCode = (t) => gateCodeAt(`${gate.url}/api/x`, t);
const packageCode = (t) => packageCodeOf(verifier, t);

test('refused feeds never replace the last good one', async () => {
  const revoked = token('revoked-session');
  const live = token('live-session');
  assert.equal(await gateCode(revoked), 'revoked');
  assert.equal(await packageCode(revoked), 'revoked');
  assert.equal(await gateCode(live), 'pass');

  const good = feed([]);
  const [head, payload, signature] = good.split('.');
  const flip = (s) => `${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`;
  const refused = {
    'a flipped byte (payload)': `${head}.${flip(payload)}.${signature}`,
    'a flipped byte (signature)': `${head}.${payload}.${flip(signature)}`,
    'the wrong typ': feed([], { typ: 'at+jwt' }),
    'the wrong iss': feed([], { iss: 'https://other.example' }),
    'an unknown kid': feed([], { kid: 'fk9', key: outsiderKey }),
    'exp in the past': feed([], { iat: nowS() - 400, exp: nowS() - 100 }),
    'an older iat than the last good feed': feed([], { iat: nowS() - 60 }),
  };
  for (const [what, text] of Object.entries(refused)) {
    relay.state.feed = text;
    const seen = relay.state.feedFetches;
    // Requests drive the refreshes (at most one per max-age, 1 s here):
    // go on until both the gate and the package have fetched it.
    const fetched = await within(10_000, async () => {
      assert.equal(await gateCode(revoked), 'revoked', `${what}: the gate let a revoked session through`);
      assert.equal(await packageCode(revoked), 'revoked', `${what}: the package let a revoked session through`);
      return relay.state.feedFetches >= seen + 3;
    }, 200);
    assert.ok(fetched, `${what}: the feed was not fetched again`);
    assert.equal(await gateCode(live), 'pass', what);
  }

  // A good, newer feed is taken: the fetches above were real refusals.
  relay.state.feed = feed([]);
  const taken = await within(5_000, async () => (await gateCode(revoked)) === 'pass' && (await packageCode(revoked)) === 'pass');
  assert.ok(taken, 'a good newer feed replaces the last one');
});
