// End to end: a token issued by the live server verifies with the npm
// package, against the server's own JWKS (inline and by URL).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Verifier, VerifyError, authorize } from '../../pkg/dist/node.js'; // what the package ships to Node
import { startServer } from './server.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('a token from the live server verifies with the package', async () => {
  server.run(['roles', 'define', 'viewer', '--perm', 'articles.read']);
  server.run(['roles', 'define', 'editor', '--inherits', 'viewer', '--perm', 'articles.write']);
  const user = await server.register('ada@e2e.test', 'correct horse battery staple');
  server.run(['roles', 'grant', 'ada@e2e.test', 'editor']);
  const pair = await server.login('ada@e2e.test', 'correct horse battery staple');
  assert.equal(pair.token_type, 'Bearer');

  const jwks = await (await fetch(server.jwksUrl)).json();
  const verifier = new Verifier({ jwks, issuer: server.issuer, audience: server.audience });
  const claims = verifier.verify(pair.access_token);
  assert.equal(claims.sub, user.id);
  assert.equal(claims.sid, pair.session_id);
  assert.equal(claims.iss, server.issuer);
  assert.deepEqual(claims.aud, [server.audience]);
  assert.deepEqual([...claims.roles].sort(), ['editor', 'viewer']);
  assert.ok(claims.perms.includes('articles.write') && claims.perms.includes('articles.read'));
  assert.equal(claims.exp - claims.iat, pair.expires_in);
  authorize(claims, { anyRoles: ['editor'], perms: ['articles.write'] });
  assert.throws(() => authorize(claims, { allRoles: ['admin'] }), (e) => e instanceof VerifyError && e.code === 'insufficient_role');

  // The server agrees about who this is.
  const me = await server.json('/auth/me', { headers: { authorization: `Bearer ${pair.access_token}` } });
  assert.equal(me.status, 200);
  assert.equal(me.body.id, claims.sub);

  // By URL, as a JavaScript server would use it.
  const remote = await Verifier.fromJwksUrl(server.jwksUrl, { issuer: server.issuer, audience: server.audience });
  assert.equal(remote.verify(pair.access_token).sub, user.id);

  // A wrong audience or a tampered token is refused with the core's codes.
  const other = new Verifier({ jwks, issuer: server.issuer, audience: 'someone-else' });
  assert.throws(() => other.verify(pair.access_token), (e) => e.code === 'wrong_audience');
  const [h, p, s] = pair.access_token.split('.');
  const flipped = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
  assert.throws(() => verifier.verify(flipped), (e) => e.code === 'bad_signature');
});

test('a refreshed token verifies; a retry inside the grace window gets the same successor', async () => {
  await server.register('bob@e2e.test', 'another long passphrase here');
  const first = await server.login('bob@e2e.test', 'another long passphrase here');
  const refreshed = await server.json('/auth/refresh', { method: 'POST', body: JSON.stringify({ refresh_token: first.refresh_token }) });
  assert.equal(refreshed.status, 200);
  assert.notEqual(refreshed.body.refresh_token, first.refresh_token);
  assert.equal(refreshed.body.session_id, first.session_id);
  // A lost response retried inside the reuse grace window: the same successor, no second branch.
  const retried = await server.json('/auth/refresh', { method: 'POST', body: JSON.stringify({ refresh_token: first.refresh_token }) });
  assert.equal(retried.status, 200);
  assert.equal(retried.body.refresh_token, refreshed.body.refresh_token);
  const jwks = await (await fetch(server.jwksUrl)).json();
  const verifier = new Verifier({ jwks, issuer: server.issuer, audience: server.audience });
  assert.equal(verifier.verify(refreshed.body.access_token).sid, first.session_id);
});
