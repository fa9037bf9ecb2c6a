// Benchmark comparison (d): what Workers users pick today, Hono's
// `hono/jwk` middleware with the same key (inline) and the same checks
// (EdDSA, typ at+jwt, issuer, audience, time), then forwarding like the pass-through.
import { Hono } from 'hono';
import { jwk } from 'hono/jwk';

const app = new Hono();
let auth;
app.use('*', (c, next) => {
  auth ??= jwk({
    keys: JSON.parse(c.env.JWKS).keys,
    alg: ['EdDSA'],
    verification: { iss: c.env.ISSUER, aud: c.env.AUDIENCE, typ: 'at+jwt' },
  });
  return auth(c, next);
});
app.all('*', (c) => {
  const url = new URL(c.req.url);
  return fetch(new Request(c.env.ORIGIN + url.pathname + url.search, c.req.raw));
});

export default app;
