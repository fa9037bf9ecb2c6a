// End to end: a token issued by the live server passes the edge gate (the
// built Worker in workerd), which fetches the server's JWKS by URL and
// forwards to a local echo origin with the identity headers.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { gateVars, startOrigin, startWrangler } from '../../worker/test/harness.js';
import { startServer } from './server.mjs';

const ROUTES = JSON.stringify([
  { path: '/public/**', public: true },
  { methods: ['GET'], path: '/api/articles/*', require: { perms: ['articles.read'] } },
  { methods: ['POST'], path: '/api/articles/*', require: { any_roles: ['editor'] } },
]);

let server;
let origin;
let gate;
before(async () => {
  server = await startServer();
  origin = await startOrigin();
  gate = await startWrangler({
    name: 'e2e',
    vars: gateVars({
      origin: origin.url,
      jwksUrl: server.jwksUrl,
      routes: ROUTES,
      issuer: server.issuer,
      audience: server.audience,
    }),
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
