// The JavaScript API around the core: errors, argument checks, the cache,
// authorization and the entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { authorize, init, RoutePolicy, Verifier, VerifyError } from '@edgeauth/verify';
import { byName, tokens, valid, validCases, verifierFor } from './helpers.js';

const codeOf = (run) => {
  try {
    run();
  } catch (error) {
    return error instanceof VerifyError ? error.code : `not a VerifyError: ${error}`;
  }
  return 'no error';
};

test('init() resolves at once in Node', async () => {
  assert.equal(await init(), undefined);
});

test('verify returns the claims as a frozen plain object', () => {
  const claims = verifierFor().verify(valid.token, valid.now);
  assert.deepEqual(claims, valid.expect.claims);
  assert.equal(Object.getPrototypeOf(claims), Object.prototype);
  assert.ok(Object.isFrozen(claims) && Object.isFrozen(claims.roles));
});

test('now defaults to the clock, in seconds', () => {
  const at = (now) => verifierFor({ clock: () => now });
  assert.equal(at(valid.now).verify(valid.token).sub, valid.expect.claims.sub);
  assert.equal(codeOf(() => at(valid.expect.claims.exp + 30).verify(valid.token)), 'expired');
});

test('VerifyError is an Error with the core code, a message and an HTTP status', () => {
  try {
    verifierFor().verify(valid.token, valid.expect.claims.exp + 3600);
    assert.fail('no error');
  } catch (error) {
    assert.ok(error instanceof Error && error instanceof VerifyError);
    assert.equal(error.name, 'VerifyError');
    assert.equal(error.code, 'expired');
    assert.equal(error.message, 'token expired');
    assert.equal(error.status, 401);
  }
});

test('a bad key set fails the constructor with a clear invalid_jwks error', () => {
  for (const jwks of ['{"keys": 1}', { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k', x: 'AAAA' }] }]) {
    assert.throws(
      () => verifierFor({ jwks }),
      (error) => error instanceof VerifyError && error.code === 'invalid_jwks' && /invalid JWKS: /.test(error.message),
    );
  }
});

test('arguments of the wrong type are TypeErrors', () => {
  const v = verifierFor();
  assert.throws(() => v.verify(undefined, valid.now), TypeError);
  for (const now of [-1, 1.5, NaN, '1767225660', 2 ** 53]) {
    assert.throws(() => v.verify(valid.token, now), TypeError, String(now));
  }
  assert.throws(() => verifierFor({ issuer: 1 }), TypeError);
  assert.throws(() => verifierFor({ leeway: -1 }), TypeError);
  assert.throws(() => verifierFor({ requireType: 'no' }), TypeError);
  assert.throws(() => verifierFor({ jwks: undefined }), TypeError);
  assert.throws(() => new Verifier(), TypeError);
  assert.throws(() => v.authorize({ roles: 'admin', perms: [] }), TypeError);
  assert.throws(() => v.authorize(valid.expect.claims, { anyRoles: 'admin' }), TypeError);
});

test('authorize: roles and permissions, as method and as function', () => {
  const v = verifierFor();
  const claims = v.verify(valid.token, valid.now); // roles editor, viewer; perms articles.*, comments.read
  v.authorize(claims);
  v.authorize(claims, { anyRoles: ['admin', 'editor'], allRoles: ['viewer'], perms: ['articles.write'] });
  authorize(claims, { perms: ['comments.read'] });
  assert.equal(codeOf(() => v.authorize(claims, { anyRoles: ['admin'] })), 'insufficient_role');
  assert.equal(codeOf(() => v.authorize(claims, { allRoles: ['editor', 'admin'] })), 'insufficient_role');
  assert.equal(codeOf(() => authorize(claims, { perms: ['comments.write'] })), 'insufficient_permission');
  assert.equal(codeOf(() => authorize(claims, { perms: ['articles'] })), 'insufficient_permission');
  assert.equal(codeOf(() => authorize(claims, { anyRoles: [''] })), 'invalid_policy');
});

test('RoutePolicy accepts JSON text or objects and reports the core codes with statuses', () => {
  const rules = [
    { path: '/public/**', public: true },
    { methods: ['POST'], path: '/api/articles/*', require: { perms: ['articles.write'] } },
  ];
  const claims = verifierFor().verify(valid.token, valid.now);
  for (const policy of [new RoutePolicy(rules), new RoutePolicy(JSON.stringify(rules))]) {
    policy.check('GET', '/public/a.css');
    policy.check('post', '/api/articles/1?draft=1', claims);
    assert.equal(codeOf(() => policy.check('POST', '/api/articles/1')), 'missing_token');
    assert.equal(codeOf(() => policy.check('GET', '/api/articles/1', claims)), 'route_denied');
    assert.equal(codeOf(() => policy.check('GET', '/public/../admin')), 'route_denied');
  }
  try {
    new RoutePolicy(rules).check('GET', '/nowhere');
  } catch (error) {
    assert.equal(error.status, 403);
  }
  assert.equal(codeOf(() => new RoutePolicy([{ path: '/a*' }])), 'invalid_policy');
});

test('RoutePolicy.route gives middleware the canonical path to pass on', () => {
  const rules = {
    case_insensitive: true,
    rules: [
      { path: '/admin/**', require: { any_roles: ['admin'] } },
      { path: '/**', public: true },
    ],
  };
  const policy = new RoutePolicy(rules);
  const admin = { roles: ['admin'], perms: [] };
  assert.deepEqual(policy.route('GET', '/%41dmin/caf%c3%a9/?x=1', admin), { path: '/Admin/caf%C3%A9/' });
  assert.equal(codeOf(() => policy.route('GET', '/ADMIN/users')), 'missing_token');
  assert.equal(codeOf(() => policy.route('GET', '/public/..;/admin/users')), 'route_denied');
  assert.deepEqual(new RoutePolicy({ ...rules, allow_params: true }).route('GET', '/a;v=1/b'), { path: '/a;v=1/b' });
});

test('revocation: isRevoked refuses sessions, cached or not', () => {
  const revoked = new Set();
  const v = verifierFor({ isRevoked: (sid) => revoked.has(sid) });
  assert.equal(v.verify(valid.token, valid.now).sid, valid.expect.claims.sid);
  revoked.add(valid.expect.claims.sid);
  assert.equal(codeOf(() => v.verify(valid.token, valid.now)), 'revoked');
  const failing = verifierFor({
    isRevoked: () => {
      throw new RangeError('store down');
    },
  });
  assert.throws(() => failing.verify(valid.token, valid.now), RangeError);
});

test('cache: a repeated token is served from the cache, within its validity only', () => {
  const v = verifierFor();
  const { exp, nbf } = valid.expect.claims;
  const first = v.verify(valid.token, valid.now);
  assert.equal(v.verify(valid.token, valid.now + 1), first, 'the cached object');
  // The core's time rules still hold for a cached token.
  assert.equal(codeOf(() => v.verify(valid.token, exp + 30)), 'expired');
  assert.equal(codeOf(() => v.verify(valid.token, nbf - 31)), 'not_yet_valid');
  assert.equal(v.verify(valid.token, exp + 29).sub, first.sub);
  assert.equal(v.verify(valid.token, nbf - 30).sub, first.sub);
});

test('cache: failures are never cached, and a near-miss token is not a hit', () => {
  const v = verifierFor();
  v.verify(valid.token, valid.now);
  const bad = byName('signature_bit_flipped_last');
  for (let i = 0; i < 2; i++) assert.equal(codeOf(() => v.verify(bad.token, bad.now)), 'bad_signature');
  const tampered = valid.token.slice(0, -1) + (valid.token.endsWith('A') ? 'B' : 'A');
  assert.notEqual(codeOf(() => v.verify(tampered, valid.now)), 'no error');
});

test('cache: bounded, oldest out first, emptied by setJwks', () => {
  assert.ok(validCases.length >= 3);
  const v = verifierFor({ cacheSize: 2 });
  const [a, b, c] = validCases.map((vc) => [vc.token, vc.now]);
  const first = v.verify(...a);
  v.verify(...b);
  v.verify(...c); // evicts a
  assert.notEqual(v.verify(...a), first, 'a was evicted and verified again');
  v.setJwks({ keys: tokens.jwks.keys.filter((k) => k.kid !== 'k1') });
  assert.deepEqual(v.kids(), ['k2']);
  assert.equal(codeOf(() => v.verify(...a)), 'unknown_key');
});

test('the package works from CommonJS and refuses use before init() in browsers', () => {
  const cjs = execFileSync(
    process.execPath,
    ['-e', "const m = require('@edgeauth/verify'); console.log(typeof m.Verifier, typeof m.init)"],
    { cwd: new URL('..', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  assert.equal(cjs.trim(), 'function function');
  const web = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { readFile } from 'node:fs/promises';
       import { init, Verifier } from '@edgeauth/verify/web';
       const options = ${JSON.stringify({ jwks: tokens.jwks, issuer: tokens.issuer, audience: tokens.audience })};
       let before;
       try { new Verifier(options); before = 'constructed'; } catch (e) { before = e.message; }
       await init(await readFile(new URL('./dist/edgeauth_wasm_bg.wasm', 'file://${new URL('..', import.meta.url).pathname}')));
       const claims = new Verifier(options).verify(${JSON.stringify(valid.token)}, ${valid.now});
       console.log(JSON.stringify([before, claims.sub]));`,
    ],
    { cwd: new URL('..', import.meta.url), encoding: 'utf8' },
  );
  const [before, sub] = JSON.parse(web);
  assert.match(before, /init\(\)/);
  assert.equal(sub, valid.expect.claims.sub);
});
