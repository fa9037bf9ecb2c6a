// Every file of tests/vectors/ through the package, expecting exactly the
// core's outcome for each case (the files say how to read them in their
// "description" fields).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { authorize, RoutePolicy, Verifier, VerifyError } from '@edgeauth/verify';

const dir = new URL('../../tests/vectors/', import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));

/** The outcome of `run` as the vectors spell it: its value, or the error code. */
function outcome(run) {
  try {
    return { ok: run() };
  } catch (error) {
    assert.ok(error instanceof VerifyError, `not a VerifyError: ${error}`);
    assert.ok(error instanceof Error);
    assert.equal(typeof error.message, 'string');
    return { error: error.code };
  }
}

const handlers = {
  'tokens.json'(file) {
    assert.ok(file.cases.length > 0);
    for (const c of file.cases) {
      const revoked = new Set(c.revoked ?? []);
      const options = {
        jwks: file.jwks,
        issuer: file.issuer,
        audience: file.audience,
        leeway: c.leeway ?? file.leeway,
        requireType: c.require_type ?? true,
        isRevoked: c.revoked ? (sid) => revoked.has(sid) : null,
      };
      // Uncached, and twice through the cache: the cache changes no outcome.
      for (const cacheSize of [0, 16]) {
        const verifier = new Verifier({ ...options, cacheSize });
        for (let round = 0; round < (cacheSize ? 2 : 1); round++) {
          const got = outcome(() => verifier.verify(c.token, c.now));
          const want = c.expect.claims ? { ok: c.expect.claims } : { error: c.expect.error };
          assert.deepEqual(got, want, `${c.name}: ${c.description} (cacheSize ${cacheSize})`);
        }
      }
    }
  },

  'keysets.json'(file) {
    assert.ok(file.cases.length > 0);
    for (const c of file.cases) {
      const got = outcome(() => new Verifier({ jwks: c.jwks, issuer: 'i', audience: 'a' }).kids());
      const want = c.expect.kids ? { ok: c.expect.kids } : { error: c.expect.error };
      assert.deepEqual(got, want, c.name);
    }
  },

  'policy.json'(file) {
    const allowed = (run) => {
      const got = outcome(run);
      return 'error' in got ? got.error : 'allow';
    };
    for (const set of file.rule_sets) {
      const policy = new RoutePolicy(set.rules);
      for (const c of set.cases) {
        const about = `${set.name}: ${c.method} ${c.path}: ${c.description}`;
        const got = outcome(() => policy.route(c.method, c.path, c.token));
        assert.equal('error' in got ? got.error : 'allow', c.expect, about);
        // Every allowed case names the canonical path the rules matched.
        if ('ok' in got) assert.deepEqual(got.ok, { path: c.canonical }, about);
        assert.equal(allowed(() => policy.check(c.method, c.path, c.token)), c.expect, about);
      }
    }
    assert.ok(file.invalid_rule_sets.length > 0);
    for (const c of file.invalid_rule_sets) {
      assert.equal(allowed(() => new RoutePolicy(c.rules)), c.expect, c.name);
    }
    assert.ok(file.requirements.length > 0);
    for (const c of file.requirements) {
      const requirement = {
        anyRoles: c.require.any_roles,
        allRoles: c.require.all_roles,
        perms: c.require.perms,
      };
      const got = allowed(() => authorize(c.token, requirement));
      assert.equal(got, c.expect, JSON.stringify(c));
    }
  },

  'rfc8037.json'(file) {
    // The RFC's public key is a valid, strong Ed25519 key for a key set...
    const jwk = { kty: file.jwk.kty, crv: file.jwk.crv, x: file.jwk.x, kid: 'k' };
    assert.deepEqual(new Verifier({ jwks: { keys: [jwk] }, issuer: 'i', audience: 'a' }).kids(), ['k']);
    // ...the JWK as printed (with its private part d, and no kid) is not a public key set...
    assert.deepEqual(
      outcome(() => new Verifier({ jwks: { keys: [file.jwk] }, issuer: 'i', audience: 'a' })),
      { error: 'invalid_jwks' },
    );
    // ...and its JWS, which names no kid (nor typ), is refused at those steps.
    const verifier = (requireType) =>
      new Verifier({ jwks: { keys: [jwk] }, issuer: 'i', audience: 'a', requireType });
    assert.deepEqual(outcome(() => verifier(true).verify(file.jws, 0)), { error: 'wrong_type' });
    assert.deepEqual(outcome(() => verifier(false).verify(file.jws, 0)), { error: 'unknown_key' });
  },
};

test('every vector file has a handler', () => {
  const files = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  assert.deepEqual(files, Object.keys(handlers).sort());
});

for (const [name, run] of Object.entries(handlers)) {
  test(`vectors: ${name}`, () => run(load(name)));
}
