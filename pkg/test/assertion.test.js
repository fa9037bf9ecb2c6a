// verifyGateAssertion: the origin's one-call check of the edge gate's
// X-Edgeauth-Assertion header. Assertions are signed here with node's own
// Ed25519 (not the package's code), as the gate documents them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { verifyGateAssertion, VerifyError } from '@edgeauth/verify';

const NOW = 1_767_225_660;
const HEADER = Buffer.from('{"alg":"EdDSA","typ":"edgeauth-assertion+jwt"}').toString('base64url');

function gateKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKey.export({ format: 'jwk' }).x };
}

function assertion(privateKey, payload, header = HEADER) {
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

const codeOf = (run) => {
  try {
    run();
    return 'no error';
  } catch (error) {
    return error instanceof VerifyError ? `${error.code}:${error.status}` : String(error);
  }
};

test('an assertion verifies for its request and returns what the gate asserted', () => {
  const gate = gateKey();
  const payload = { iat: NOW, method: 'POST', target: '/api/x?a=1', sub: 'u1', sid: 's1', roles: ['admin', 'a,b'] };
  const header = assertion(gate.privateKey, payload);
  const got = verifyGateAssertion(header, { publicKey: gate.publicKey, method: 'POST', target: '/api/x?a=1', now: NOW + 30 });
  assert.deepEqual({ ...got, roles: [...got.roles] }, payload);
  assert.ok(Object.isFrozen(got) && Object.isFrozen(got.roles));

  // A public route: no identity.
  const pub = assertion(gate.privateKey, { iat: NOW, method: 'GET', target: '/' });
  assert.deepEqual(
    { ...verifyGateAssertion(pub, { publicKey: gate.publicKey, method: 'GET', target: '/', now: NOW }) },
    { iat: NOW, method: 'GET', target: '/' },
  );
  // Several keys during a rollover.
  const next = gateKey();
  const rollover = { publicKey: [next.publicKey, gate.publicKey], method: 'GET', target: '/', now: NOW };
  assert.equal(verifyGateAssertion(pub, rollover).target, '/');
});

test('each refusal has its code', () => {
  const gate = gateKey();
  const other = gateKey();
  const good = assertion(gate.privateKey, { iat: NOW, method: 'GET', target: '/a' });
  const check = (value, options = {}) =>
    codeOf(() => verifyGateAssertion(value, { publicKey: gate.publicKey, method: 'GET', target: '/a', now: NOW, ...options }));
  assert.equal(check(good), 'no error');
  assert.equal(check(undefined), 'assertion_missing:403');
  assert.equal(check(''), 'assertion_missing:403');
  assert.equal(check('a.b.c'), 'assertion_malformed:403');
  assert.equal(check(assertion(gate.privateKey, { iat: NOW, method: 'GET', target: '/a' }, 'eyJhbGciOiJFZERTQSJ9')), 'assertion_malformed:403');
  assert.equal(check(assertion(gate.privateKey, { method: 'GET', target: '/a' })), 'assertion_malformed:403');
  assert.equal(check(assertion(other.privateKey, { iat: NOW, method: 'GET', target: '/a' })), 'assertion_bad_signature:403');
  assert.equal(check(good, { now: NOW + 61 }), 'assertion_expired:403');
  assert.equal(check(good, { now: NOW + 61, maxAge: 120 }), 'no error');
  assert.equal(check(good, { now: NOW - 61 }), 'assertion_expired:403');
  assert.equal(check(good, { method: 'POST' }), 'assertion_mismatch:403');
  assert.equal(check(good, { target: '/a?x=1' }), 'assertion_mismatch:403');
  assert.equal(check(good, { target: '/b' }), 'assertion_mismatch:403');
  assert.equal(check(good, { publicKey: 'AAAA' }), 'invalid_assertion_key:undefined');
  assert.throws(() => verifyGateAssertion(good, { publicKey: [], method: 'GET', target: '/a' }), TypeError);
  assert.throws(() => verifyGateAssertion(good, { publicKey: gate.publicKey, method: 'GET' }), TypeError);
});
