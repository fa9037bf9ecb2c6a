// Interop with an independent JOSE implementation (the npm `jose` library):
// its EdDSA at+jwt tokens verify here, its HS256 and `none` tokens are
// refused with unsupported_alg, and it accepts the vectors' valid token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { Verifier, VerifyError } from '@edgeauth/verify';
import { tokens, valid } from './helpers.js';

const issuer = 'https://auth.interop.test';
const audience = 'api.interop.test';
const t = 1_767_225_600;
const claims = {
  sub: '5f0c6b8e-1d2a-4c3b-9e4f-a1b2c3d4e5f6',
  sid: '0b7d3c2a-9f8e-4d1c-8b7a-6e5f4d3c2b1a',
  jti: 'jose-0001',
  roles: ['editor'],
  perms: ['articles.*'],
  tid: 'tenant-1',
  amr: ['pwd'],
};

const mint = (alg, header = {}) =>
  new jose.SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'at+jwt', kid: 'jose-1', ...header })
    .setIssuer(issuer)
    .setAudience([audience, 'other'])
    .setIssuedAt(t)
    .setNotBefore(t)
    .setExpirationTime(t + 900);

async function edKeys() {
  const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'jose-1', alg: 'EdDSA', use: 'sig' };
  return { privateKey, verifier: new Verifier({ jwks: { keys: [jwk] }, issuer, audience }) };
}

const codeOf = (run) => {
  try {
    run();
    return 'no error';
  } catch (error) {
    assert.ok(error instanceof VerifyError, String(error));
    return error.code;
  }
};

test("jose's EdDSA at+jwt tokens verify, with their claims", async () => {
  const { privateKey, verifier } = await edKeys();
  for (const typ of ['at+jwt', 'application/at+jwt']) {
    const token = await mint('EdDSA', { typ }).sign(privateKey);
    assert.deepEqual(verifier.verify(token, t + 60), {
      ...claims,
      iss: issuer,
      aud: [audience, 'other'],
      iat: t,
      nbf: t,
      exp: t + 900,
    });
    assert.equal(codeOf(() => verifier.verify(token, t + 900 + 30)), 'expired');
  }
  // A signature by another jose key under the same kid fails.
  const other = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const forged = await mint('EdDSA').sign(other.privateKey);
  assert.equal(codeOf(() => verifier.verify(forged, t)), 'bad_signature');
});

test("jose's HS256 and unsecured (alg none) tokens are refused with unsupported_alg", async () => {
  const { verifier } = await edKeys();
  const hs256 = await mint('HS256').sign(new TextEncoder().encode('a shared secret of 32 bytes!!!!!'));
  assert.equal(codeOf(() => verifier.verify(hs256, t + 60)), 'unsupported_alg');
  const none = new jose.UnsecuredJWT(claims)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt(t)
    .setNotBefore(t)
    .setExpirationTime(t + 900)
    .encode();
  assert.match(none, /\.$/, 'an unsecured JWS has an empty signature');
  assert.equal(codeOf(() => verifier.verify(none, t + 60)), 'unsupported_alg');
});

test("jose accepts the vectors' valid token with the same claims", async () => {
  const { payload, protectedHeader } = await jose.jwtVerify(valid.token, jose.createLocalJWKSet(tokens.jwks), {
    issuer: tokens.issuer,
    audience: tokens.audience,
    typ: 'at+jwt',
    algorithms: ['EdDSA'],
    currentDate: new Date(valid.now * 1000),
  });
  assert.equal(protectedHeader.kid, 'k1');
  const { aud, ...rest } = payload;
  assert.deepEqual({ ...rest, aud: [aud].flat() }, valid.expect.claims);
});
