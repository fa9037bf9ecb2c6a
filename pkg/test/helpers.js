// Shared test fixtures: the token vectors and a verifier for them.
import { readFileSync } from 'node:fs';
import { Verifier, VerifyError } from '@edgeauth/verify';

export const vectorsDir = new URL('../../tests/vectors/', import.meta.url);
export const tokens = JSON.parse(readFileSync(new URL('tokens.json', vectorsDir), 'utf8'));
export const byName = (name) => {
  const found = tokens.cases.find((c) => c.name === name);
  if (!found) throw new Error(`no vector ${name}`);
  return found;
};
export const valid = byName('valid');
/** Valid tokens from the vectors with distinct claims, for cache tests. */
export const validCases = tokens.cases.filter((c) => c.expect.claims && !c.leeway && c.require_type === undefined);

export function verifierFor(options = {}) {
  return new Verifier({ jwks: tokens.jwks, issuer: tokens.issuer, audience: tokens.audience, ...options });
}

/** The code of the VerifyError `run` throws or rejects with, or 'no error'. */
export async function codeOf(run) {
  try {
    await run();
    return 'no error';
  } catch (error) {
    return error instanceof VerifyError ? error.code : String(error);
  }
}
