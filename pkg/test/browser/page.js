// The page's script: imports the package as an application would, verifies
// vector tokens and shows the outcomes; test/browser.test.js reads them back.
// index.html loads it unbundled (an import map points the package name at
// src/web.js); bundle.html loads the esbuild bundle of this same file.
import { init, RoutePolicy, Verifier, VerifyError } from '@edgeauth/verify';

const show = (id, text) => {
  document.getElementById(id).textContent = text;
};
const outcome = (run) => {
  try {
    return run();
  } catch (e) {
    return e instanceof VerifyError ? `VerifyError ${e.code}` : `error ${e}`;
  }
};

try {
  await init();
  const vectors = await (await fetch('/vectors/tokens.json')).json();
  const { issuer, audience, jwks } = vectors;
  const verifier = new Verifier({ jwks, issuer, audience });
  const valid = vectors.cases.find((c) => c.name === 'valid');
  const claims = outcome(() => verifier.verify(valid.token, valid.now));
  show('valid', typeof claims === 'string' ? claims : `sub ${claims.sub} roles ${claims.roles.join(',')}`);
  show('expired', outcome(() => verifier.verify(valid.token, claims.exp + 3600)));
  const policy = new RoutePolicy([{ methods: ['GET'], path: '/admin/**', require: { any_roles: ['admin'] } }]);
  show(
    'route',
    outcome(() => {
      policy.check('GET', '/admin/users', claims);
      return 'allowed';
    }),
  );
} catch (e) {
  show('route', `error ${e}`);
}
