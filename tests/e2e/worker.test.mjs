// End to end: a token issued by the live server passes the edge gate (the
// built Worker in workerd), which fetches the server's JWKS by URL and
// forwards to a local echo origin with the identity headers and a signed
// assertion that the npm package checks as an origin would.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';

import { init, verifyGateAssertion, VerifyError } from '../../pkg/dist/node.js'; // what the package ships to Node

import { gateVars, startOrigin, startWrangler } from '../../worker/test/harness.js';
import { startServer } from './server.mjs';

const ROUTES = JSON.stringify([
  { path: '/public/**', public: true },
  { methods: ['GET'], path: '/api/articles/*', require: { perms: ['articles.read'] } },
  { methods: ['POST'], path: '/api/articles/*', require: { any_roles: ['editor'] } },
]);

// The gate's assertion key, made as docs/gate.md tells operators to.
const assertionKey = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });

let server;
let origin;
let gate;
before(async () => {
  await init();
  server = await startServer();
  origin = await startOrigin();
  gate = await startWrangler({
    name: 'e2e',
    vars: {
      ...gateVars({
        origin: origin.url,
        jwksUrl: server.jwksUrl,
        routes: ROUTES,
        issuer: server.issuer,
        audience: server.audience,
      }),
      EDGEAUTH_ASSERTION_KEY: assertionKey.d,
    },
  });
});
after(async () => {
  await gate?.stop();
  await origin?.close();
  await server?.stop();
});

test('a token from the live server passes the gate, with the identity headers', async () => {
  server.run(['roles', 'define', 'reader', '--perm', 'articles.read']);
  server.run(['roles', 'define', 'editor', '--inherits', 'reader', '--perm', 'articles.write']);
  const ada = await server.register('ada@gate.e2e.test', 'correct horse battery staple');
  server.run(['roles', 'grant', 'ada@gate.e2e.test', 'editor']);
  const pair = await server.login('ada@gate.e2e.test', 'correct horse battery staple');

  const res = await fetch(`${gate.url}/api/articles/42?x=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pair.access_token}`, 'x-edgeauth-sub': 'spoofed' },
    body: 'hello',
  });
  assert.equal(res.status, 200, await res.clone().text());
  const echo = await res.json();
  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/api/articles/42?x=1');
  assert.equal(echo.body, 'hello');
  assert.equal(echo.headers['x-edgeauth-sub'], ada.id);
  assert.equal(echo.headers['x-edgeauth-sid'], pair.session_id);
  assert.deepEqual(echo.headers['x-edgeauth-roles'].split(',').sort(), ['editor', 'reader']);

  // The origin's one call: the assertion names this request and this user.
  const asserted = verifyGateAssertion(echo.headers['x-edgeauth-assertion'], {
    publicKey: assertionKey.x,
    method: echo.method,
    target: echo.url,
  });
  assert.equal(asserted.sub, ada.id);
  assert.equal(asserted.sid, pair.session_id);
  assert.deepEqual([...asserted.roles].sort(), ['editor', 'reader']);
  assert.equal(asserted.target, '/api/articles/42?x=1');
  // Replayed on another path, or reaching the origin without the gate: refused.
  const refused = (run) => assert.throws(run, (e) => e instanceof VerifyError && e.status === 403);
  refused(() =>
    verifyGateAssertion(echo.headers['x-edgeauth-assertion'], { publicKey: assertionKey.x, method: 'POST', target: '/api/admin' }));
  refused(() => verifyGateAssertion(undefined, { publicKey: assertionKey.x, method: 'POST', target: echo.url }));
});

test('the gate refuses what the token does not allow, with the core codes', async () => {
  await server.register('bob@gate.e2e.test', 'another long passphrase here');
  server.run(['roles', 'grant', 'bob@gate.e2e.test', 'reader']);
  const pair = await server.login('bob@gate.e2e.test', 'another long passphrase here');
  const auth = { authorization: `Bearer ${pair.access_token}` };

  assert.equal((await fetch(`${gate.url}/api/articles/1`, { headers: auth })).status, 200);
  const denied = await fetch(`${gate.url}/api/articles/1`, { method: 'POST', headers: auth });
  assert.equal(denied.status, 403);
  assert.equal((await denied.json()).code, 'insufficient_role');

  const missing = await fetch(`${gate.url}/api/articles/1`);
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).code, 'missing_token');

  const [h, p, s] = pair.access_token.split('.');
  const tampered = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
  const bad = await fetch(`${gate.url}/api/articles/1`, { headers: { authorization: `Bearer ${tampered}` } });
  assert.equal(bad.status, 401);
  assert.equal((await bad.json()).code, 'bad_signature');
  assert.match(bad.headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/);

  assert.equal((await fetch(`${gate.url}/public/a`)).status, 200);
});

test('without EDGEAUTH_REVOCATIONS_URL the gate says at start that it checks no revocation', () => {
  assert.match(gate.output(), /EDGEAUTH_REVOCATIONS_URL is not set: no revocation is checked/);
});
